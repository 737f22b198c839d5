"""Native reward heads on a transformers base model, written against transformers 5 (no remote code).

:func:`load_native` builds the checkpoint's base transformer from its ``config.json`` (``AutoModel.from_config``),
loads the base tensors (prefix :attr:`Adapter.base_prefix`) and builds the head from the head tensors' names and
shapes: one ``Linear`` (``<prefix>weight``) or a stack (``<prefix>0.weight``, ``<prefix>2.weight``, ... with the
family's activation between). Every checkpoint tensor must be used and every model tensor filled: anything else
is a :class:`ModelError` naming the tensors, never a randomly initialised layer.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Any

from orchestrator.errors import ModelError
from orchestrator.scoring.adapters import Adapter
from orchestrator.scoring.adapters.weights import load_state_dict

logger = logging.getLogger(__name__)

_HEAD_ACTIVATION = {"value-head": "relu", "mlp-score": "relu", "pair-ranker": "tanh"}
"""Activation between the stacked head layers (GRM's value head and INF-ORM's score MLP use ReLU, PairRM's
head tanh)."""

_BASE_MODEL_TYPE = {"gpt_neox_reward_model": "gpt_neox"}
"""``model_type`` values of reward checkpoints whose base is a standard transformers architecture."""


def _head_module(state: dict, prefixes: tuple[str, ...], activation: str | None, where: str):
    """A head from its tensors: ``<prefix>weight`` (+bias) = one Linear; ``<prefix><i>.weight`` = a stack."""
    import torch

    absent = [p for p in prefixes if not any(k.startswith(p) for k in state)]
    if absent:
        raise ModelError(
            f"{where}: head tensors {', '.join(p + '*' for p in absent)} missing from the checkpoint"
        )
    prefix = prefixes[-1]
    names = {k[len(prefix) :]: v for k, v in state.items() if k.startswith(prefix)}
    if "weight" in names:
        w = names["weight"]
        layer = torch.nn.Linear(w.shape[1], w.shape[0], bias="bias" in names)
        unknown = set(names) - {"weight", "bias"}
        if unknown:
            raise ModelError(f"{where}: unexpected head tensors {sorted(prefix + n for n in unknown)}")
        layer.load_state_dict({k: v for k, v in names.items()})
        return layer, prefix
    indices = sorted({int(m.group(1)) for n in names if (m := re.match(r"(\d+)\.weight$", n))})
    if not indices:
        raise ModelError(f"{where}: cannot read the head from tensors {sorted(prefix + n for n in names)}")
    act = {"relu": torch.nn.ReLU, "tanh": torch.nn.Tanh, None: torch.nn.Identity}[activation]
    modules: list[Any] = []
    used = set()
    for pos, i in enumerate(indices):
        w = names[f"{i}.weight"]
        has_bias = f"{i}.bias" in names
        layer = torch.nn.Linear(w.shape[1], w.shape[0], bias=has_bias)
        layer.load_state_dict({"weight": w, **({"bias": names[f"{i}.bias"]} if has_bias else {})})
        used |= {f"{i}.weight", f"{i}.bias"} if has_bias else {f"{i}.weight"}
        modules.append(layer)
        if pos < len(indices) - 1:
            modules.append(act())
    unknown = set(names) - used
    if unknown:
        raise ModelError(f"{where}: unexpected head tensors {sorted(prefix + n for n in unknown)}")
    return torch.nn.Sequential(*modules), prefix


class NativeRewardModel:
    """A base transformer + a reward head; :meth:`hidden` gives the last hidden states, :meth:`head` the scores."""

    def __init__(self, base, head, config, adapter: Adapter, aux: dict | None = None):
        self.base = base
        self.head_layer = head
        self.config = config
        self.adapter = adapter
        self.normalize = None
        if adapter.head == "score-head" and getattr(config, "do_normalize", False):
            self.normalize = _beaver_normalizer(config, adapter, aux or {})

    def to(self, device):
        self.base.to(device)
        self.head_layer.to(device)
        return self

    def eval(self):
        self.base.eval()
        self.head_layer.eval()
        return self

    def parameters(self):
        yield from self.base.parameters()
        yield from self.head_layer.parameters()

    def hidden(self, **inputs):
        return self.base(**inputs, use_cache=False).last_hidden_state

    def head(self, hidden):
        """Scores ``[N, D]`` of pooled hidden states ``[N, H]`` (float32, normalised as the checkpoint says)."""
        weight = next(self.head_layer.parameters())
        out = self.head_layer(hidden.to(weight.dtype)).float()
        if self.normalize is not None:
            out = self.normalize(out)
        return out


def _beaver_normalizer(config, adapter: Adapter, aux: dict):
    """safe-rlhf's score normaliser (``do_normalize``): affine for rewards, scale for costs, eps 1e-8; its
    ``normalizer.mean``/``normalizer.var`` tensors (else config ``mean``/``var``)."""
    import torch

    mean = aux.get("normalizer.mean", getattr(config, "mean", None))
    var = aux.get("normalizer.var", getattr(config, "var", None))
    if mean is None or var is None:
        raise ModelError(
            f"adapter {adapter.name}: config sets do_normalize but there is no normalizer mean/var"
        )
    mean_t = torch.as_tensor(mean, dtype=torch.float32)
    std_t = torch.as_tensor(var, dtype=torch.float32).sqrt()
    kind = {"reward": "affine", "cost": "scale", "critic": "identity"}[
        getattr(config, "score_type", "reward")
    ]

    def apply(x):
        m, s = mean_t.to(x.device), std_t.to(x.device)
        if kind == "affine":
            return (x - m) / (s + 1e-8)
        if kind == "scale":
            return x / (s + 1e-8)
        return x

    return apply


def load_config(path: str):
    """The checkpoint's config as a transformers config of its base architecture."""
    import json

    transformers = __import__("transformers")
    file = Path(path).expanduser() / "config.json"
    if not file.is_file():
        raise ModelError(f"{path}: no config.json (native adapters need a local checkpoint directory)")
    data = json.loads(file.read_text(encoding="utf-8"))
    model_type = _BASE_MODEL_TYPE.get(data.get("model_type"), data.get("model_type"))
    data.pop("model_type", None)
    data.pop("architectures", None)
    data.pop("auto_map", None)
    try:
        return transformers.AutoConfig.for_model(model_type, **data)
    except Exception as exc:
        raise ModelError(f"{file}: cannot build a {model_type!r} config: {exc}") from None


def load_native(adapter: Adapter, path: str, name: str, dtype, attn_implementation: str | None):
    """The checkpoint at ``path`` as a :class:`NativeRewardModel` (weights checked tensor by tensor)."""
    transformers = __import__("transformers")
    config = load_config(path)
    if attn_implementation:
        config._attn_implementation = attn_implementation
    where = f"model {name!r} ({path}, adapter {adapter.name})"
    state = load_state_dict(Path(path).expanduser())
    head, head_prefix = _head_module(state, adapter.head_tensors, _HEAD_ACTIVATION.get(adapter.head), where)
    base = transformers.AutoModel.from_config(config, dtype=dtype)
    base_state = {
        k[len(adapter.base_prefix) :]: v for k, v in state.items() if k.startswith(adapter.base_prefix)
    }
    ignored = set(adapter.extra.get("ignore_tensors", ()))
    aux_prefixes = tuple(adapter.extra.get("aux_tensors", ()))
    aux = {k: v for k, v in state.items() if aux_prefixes and k.startswith(aux_prefixes)}
    leftover = sorted(
        k
        for k in state
        if not k.startswith(adapter.base_prefix)
        and not k.startswith(head_prefix)
        and k not in ignored
        and k not in aux
    )
    if leftover:
        raise ModelError(
            f"{where}: unexpected tensors {', '.join(leftover[:8])}: not the {adapter.family} layout"
        )
    result = base.load_state_dict(base_state, strict=False)
    missing = [k for k in result.missing_keys if not _derived_buffer(k)]
    if missing:
        raise ModelError(
            f"{where}: {', '.join(adapter.base_prefix + k for k in missing[:8])} missing from the checkpoint: "
            "it is not this family's layout; set another `adapter:`"
        )
    if result.unexpected_keys:
        raise ModelError(
            f"{where}: unexpected tensors {', '.join(adapter.base_prefix + k for k in result.unexpected_keys[:8])}"
        )
    head.to(dtype)
    return NativeRewardModel(base, head, config, adapter, aux)


def _derived_buffer(key: str) -> bool:
    """Buffers a model computes itself (rotary frequencies, causal masks), never stored in checkpoints."""
    return key.endswith(("rotary_emb.inv_freq", "attention.bias", "attention.masked_bias", "position_ids"))
