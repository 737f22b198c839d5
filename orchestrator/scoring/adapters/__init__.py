"""Model adapters: one small typed declaration per reward-model family.

An :class:`Adapter` says how a family is loaded and read, as the reference implementation
(rewardbench 0.1.4, ``REWARD_MODEL_CONFIG`` and its custom model classes) does it:

* ``head``: ``sequence-classification`` (transformers' ``AutoModelForSequenceClassification``) or a native head
  of :mod:`orchestrator.scoring.adapters.heads` (``value-head``, ``v-head-first-pad``, ``regression-head``,
  ``score-head``, ``mlp-score``, ``out-proj``, ``armo-gating``, ``qrm-gating``, ``ldl-gating``,
  ``internlm2-reward``) on the checkpoint's base transformer; pair-input families
  (``kind: pairwise``): ``lm-ab-tokens`` (a causal LM's A/B token logits), ``pair-ranker`` (PairRM's DeBERTa-v2
  head at the segment markers), ``seq2seq-ab-token`` (a T5 that generates ``A`` or ``B``);
* ``input_rule``: ``chat_template`` (the tokenizer's, or the job's ``chat_template``) or a named conversation
  template (``conversation_template``) when the tokenizer has none;
* ``mask_doubled_bos``: whether a doubled BOS at the start is masked (only ``RewardBenchPipeline`` does it);
* ``pooling``: the token whose output is the score (``last`` attended token, or the token ``before-first-pad``);
* ``sign``: ``-1`` where the reference negates (cost models);
* ``dtype``: the reference's fixed dtype for the family (``None``: the job's).

Selection (:func:`select_adapter`): ``models[].adapter`` names one (a family name or a hub id it covers); ``auto``
picks it from the hub id in ``path``, else ``config.json``'s ``architectures``/``model_type``, else the names of
the head tensors in the safetensors header, else the plain classifier. Pure data; nothing here imports torch.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from orchestrator.errors import ModelError

logger = logging.getLogger(__name__)

Head = Literal[
    "sequence-classification",
    "value-head",
    "v-head-first-pad",
    "regression-head",
    "score-head",
    "mlp-score",
    "out-proj",
    "lm-ab-tokens",
    "armo-gating",
    "qrm-gating",
    "ldl-gating",
    "internlm2-reward",
    "pair-ranker",
    "seq2seq-ab-token",
]
Pooling = Literal["model", "last", "before-first-pad"]


@dataclass(frozen=True)
class Adapter:
    """How one reward-model family is loaded, fed and read."""

    name: str
    """The adapter's name (``models[].adapter``): a family name."""

    family: str
    """Human-readable family name (``rayward adapters``)."""

    covers: tuple[str, ...] = ()
    """Hub ids this adapter is the reference's code for (``adapter: <hub id>`` selects it too)."""

    head: Head = "sequence-classification"
    """Where the score comes from (see the module docstring)."""

    base_prefix: str = "model."
    """Native heads: the checkpoint's tensor-name prefix of the base transformer (``model.``, ``transformer.``,
    ``gpt_neox.``)."""

    head_tensors: tuple[str, ...] = ()
    """Native heads: tensor-name prefixes of the head (also used by ``auto`` to recognise the family)."""

    architectures: tuple[str, ...] = ()
    """``config.json`` ``architectures`` entries that select this adapter under ``auto``."""

    model_types: tuple[str, ...] = ()
    """``config.json`` ``model_type`` values that select this adapter under ``auto``."""

    input_rule: Literal["chat_template", "conversation_template", "pair", "reward-token"] = "chat_template"
    """How a (prompt, completion) becomes text: the tokenizer's chat template (a named conversation template when
    it has none), or both completions in one input (``kind: pairwise``); ``reward-token``: the chat template's
    text tokenized without special tokens or truncation, the model's reward token appended unless it is last
    (InternLM2)."""

    conversation_template: str | None = None
    """The reference's fastchat template name for this family when the tokenizer has no chat template."""

    mask_doubled_bos: bool = False
    """Mask the first of two BOS tokens at the start (the reference's ``RewardBenchPipeline`` does; the custom
    pipelines do not)."""

    pooling: Pooling = "model"
    """Which token's output is the score: ``model`` (the transformers head decides), ``last`` (the last attended
    token), ``before-first-pad`` (the token before the first pad id in the sequence, else the last)."""

    pad_id: int | None = None
    """``before-first-pad`` with a hard-coded pad id (Starling: 0); ``None`` uses the model config's pad id."""

    sign: int = 1
    """Multiplies the score (``-1``: the reference negates a cost model's score)."""

    multi_label: bool = False
    """The head has several outputs and the reference compares the output lists (lexicographically)."""

    dtype: str | None = None
    """The reference's fixed weights dtype for this family (``None``: the job's ``dtype``)."""

    quantized: bool = True
    """The reference's default 8-bit loading for this family (``REWARD_MODEL_CONFIG[...]['quantized']``), used by
    ``profile: reference``."""

    verified: str = ""
    """How this adapter was checked against the reference (docs/models.md)."""

    notes: str = ""
    """Anything a user must know (remote code, unverified parts)."""

    extra: dict = field(default_factory=dict, compare=False, hash=False)
    """Head-specific settings."""


_REGISTRY: dict[str, Adapter] = {}
_BY_HUB_ID: dict[str, str] = {}


def register_adapter(adapter: Adapter) -> Adapter:
    """Add ``adapter`` to the registry (its name and every hub id it covers must be new)."""
    if adapter.name in _REGISTRY:
        raise ValueError(f"adapter {adapter.name!r} is registered twice")
    for hub_id in adapter.covers:
        if hub_id in _BY_HUB_ID:
            raise ValueError(
                f"hub id {hub_id!r} is covered by both {_BY_HUB_ID[hub_id]!r} and {adapter.name!r}"
            )
    _REGISTRY[adapter.name] = adapter
    for hub_id in adapter.covers:
        _BY_HUB_ID[hub_id] = adapter.name
    return adapter


def adapters() -> list[Adapter]:
    """Every registered adapter, in registration order."""
    _load_families()
    return list(_REGISTRY.values())


def get_adapter(name: str) -> Adapter:
    """The adapter called ``name`` (a family name, or a hub id an adapter covers)."""
    _load_families()
    if name in _REGISTRY:
        return _REGISTRY[name]
    if name in _BY_HUB_ID:
        return _REGISTRY[_BY_HUB_ID[name]]
    known = ", ".join(sorted(_REGISTRY))
    raise ModelError(
        f"unknown adapter {name!r}: use auto, one of {known}, or a hub id listed by `rayward adapters`"
    )


def adapter_names() -> set[str]:
    """Every name ``models[].adapter`` accepts (besides ``auto``)."""
    _load_families()
    return set(_REGISTRY) | set(_BY_HUB_ID)


def _load_families() -> None:
    if not _REGISTRY:
        from orchestrator.scoring.adapters import families  # noqa: F401  (registers the declarations)


def hub_id_in_path(path: str) -> str | None:
    """The covered hub id ``path`` names: the path itself, or its last two components (a local copy laid out as
    ``.../<org>/<name>``)."""
    _load_families()
    text = path.rstrip("/")
    if text in _BY_HUB_ID:
        return text
    parts = Path(text).parts
    if len(parts) >= 2:
        tail = f"{parts[-2]}/{parts[-1]}"
        if tail in _BY_HUB_ID:
            return tail
    return None


def _config_json(path: str) -> dict:
    file = Path(path).expanduser() / "config.json"
    if not file.is_file():
        return {}
    try:
        return json.loads(file.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ModelError(f"{file}: unreadable config.json: {exc}") from None


def safetensors_names(path: str) -> list[str]:
    """Tensor names in the safetensors headers of a local model directory (no weights are read)."""
    from orchestrator.scoring.adapters.weights import tensor_names

    local = Path(path).expanduser()
    return tensor_names(local) if local.is_dir() else []


_STANDARD_HEADS = ("score.weight", "classifier.weight", "classifier.out_proj.weight", "lm_head.weight")


def select_adapter(requested: str, path: str) -> Adapter:
    """The adapter for a model: ``requested`` by name, or under ``auto`` from the hub id in ``path``, then
    ``config.json`` (``architectures``, ``model_type``), then the head tensors' names, then the plain classifier.

    A local checkpoint whose head tensors match no adapter and are not a sequence-classification head is an
    error naming them (never a randomly initialised head)."""
    _load_families()
    if requested != "auto":
        return get_adapter(requested)
    hub_id = hub_id_in_path(path)
    if hub_id is not None:
        return _REGISTRY[_BY_HUB_ID[hub_id]]
    config = _config_json(path)
    archs = config.get("architectures") or []
    names = safetensors_names(path)
    for adapter in _REGISTRY.values():
        if _config_ok(adapter, config) and any(a in adapter.architectures for a in archs):
            # two families share a class name (UltraRM's and Ziya's LlamaRewardModel): the head tensors decide
            if not names or _heads_present(adapter, names):
                return adapter
    model_type = config.get("model_type")
    for adapter in _REGISTRY.values():
        if model_type and model_type in adapter.model_types:
            return adapter
    if names:
        for adapter in _REGISTRY.values():
            if adapter.head_tensors and _config_ok(adapter, config) and _heads_present(adapter, names):
                return adapter
        if not any(n in _STANDARD_HEADS or n.endswith(_STANDARD_HEADS) for n in names):
            heads = sorted({n for n in names if not _is_body_tensor(n)})
            raise ModelError(
                f"model at {path!r}: unknown custom head {', '.join(heads[:8]) or '(none)'}: no sequence-"
                "classification head (`score.weight`) and no adapter recognises it; set adapter: (see "
                "`rayward adapters`)"
            )
    return _REGISTRY["classifier"]


def select_pairwise_adapter(requested: str, path: str) -> Adapter:
    """``kind: pairwise``: the named adapter, or under ``auto`` the one covering the hub id in ``path``, else the
    first pair-input adapter naming one of ``config.json``'s ``architectures``; it must be a pair-input adapter."""
    _load_families()
    if requested != "auto":
        adapter = get_adapter(requested)
    else:
        hub_id = hub_id_in_path(path)
        archs = (_config_json(path).get("architectures") or []) if hub_id is None else []
        pairs = [a for a in _REGISTRY.values() if a.input_rule == "pair"]
        by_arch = [a for a in pairs if any(x in a.architectures for x in archs)]
        if hub_id is not None:
            adapter = _REGISTRY[_BY_HUB_ID[hub_id]]
        elif by_arch:
            adapter = by_arch[0]
        else:
            raise ModelError(
                f"model at {path!r}: kind pairwise needs `adapter:` ({', '.join(a.name for a in pairs)}); no "
                "hub id in the path and no pair-input architecture in config.json"
            )
    if adapter.input_rule != "pair":
        raise ModelError(f"adapter {adapter.name!r} scores one completion at a time: use kind classifier")
    return adapter


def _heads_present(adapter: Adapter, names: list[str]) -> bool:
    """The checkpoint has the adapter's base and every one of its head tensors (an adapter without declared head
    tensors reads a standard head: always true)."""
    if not adapter.head_tensors:
        return True
    return any(n.startswith(adapter.base_prefix) for n in names) and all(
        any(n.startswith(h) for n in names) for h in adapter.head_tensors
    )


def _config_ok(adapter: Adapter, config: dict) -> bool:
    """Adapters sharing a layout (beaver reward and cost) are told apart by ``config.json`` ``score_type``."""
    wanted = adapter.extra.get("score_type")
    return wanted is None or config.get("score_type", "reward") == wanted


_BODY_MARKERS = ("layers.", "layer.", "embed", "norm", "wte", "wpe", "h.", "blocks.", "encoder.", "decoder.")


def _is_body_tensor(name: str) -> bool:
    return any(m in name for m in _BODY_MARKERS)
