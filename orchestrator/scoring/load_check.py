"""Refuse randomly initialised weights: read transformers' loading report and fail the model on any gap.

``from_pretrained`` silently initialises every weight the checkpoint lacks (a sequence-classification ``score``
layer over a checkpoint with a custom head, a transformer layer a truncated checkpoint lost) and, with
``ignore_mismatched_sizes``, every weight whose shape differs. A reward model with one random tensor scores
noise. :func:`check_loading_info` turns the report into a :class:`~orchestrator.errors.ModelError` that names the
tensors and the likely fix; :func:`load_with_report` is the ``from_pretrained`` call that produces the report.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from typing import Any

from orchestrator.errors import ModelError

logger = logging.getLogger(__name__)

_HEAD_NAMES = ("score", "classifier", "lm_head", "v_head", "value_head", "reward_head", "regression_head")
"""Leading module names of output heads: sequence-classification (``score``, ``classifier``), causal LM
(``lm_head``) and the custom reward heads of the reference's families."""

_SHOWN = 6
"""Tensor names listed per category before the rest are counted."""


def _strip(name: str) -> str:
    """A tensor name without its base-model prefix (``model.``, ``transformer.``, ...)."""
    for prefix in ("model.", "transformer.", "gpt_neox.", "deberta.", "roberta.", "bert."):
        if name.startswith(prefix):
            return name[len(prefix) :]
    return name


def _is_head(name: str) -> bool:
    root = name.split(".", 1)[0]
    return root in _HEAD_NAMES or "head" in root


def _group(names: Iterable[str]) -> list[str]:
    """Tensor names, grouped by transformer layer (``model.layers.1.* (9 tensors)``) and sorted."""
    groups: dict[str, list[str]] = {}
    for name in sorted(names):
        match = re.match(r"^(.*?\.(?:layers|layer|h|blocks|block)\.\d+)\.", name)
        groups.setdefault(match.group(1) + ".*" if match else name, []).append(name)
    out = []
    for key, members in sorted(groups.items()):
        out.append(f"{key} ({len(members)} tensors)" if key.endswith(".*") else key)
    return out


def _listing(names: Iterable[str]) -> str:
    shown = _group(names)
    if len(shown) > _SHOWN:
        return ", ".join(shown[:_SHOWN]) + f" and {len(shown) - _SHOWN} more"
    return ", ".join(shown)


def _hint(
    auto_class: str, missing: set[str], unexpected: set[str], mismatched: list[tuple[str, Any, Any]], config
) -> str:
    """The likely cause and fix, from which tensors are off."""
    missing_heads = {n for n in missing if _is_head(n)}
    unexpected_heads = {n for n in unexpected if _is_head(n)}
    body_missing = missing - missing_heads
    wants_classifier = "SequenceClassification" in auto_class
    wants_causal = "CausalLM" in auto_class
    if mismatched:
        head = [m for m in mismatched if _is_head(m[0])]
        if head and wants_classifier:
            labels = getattr(config, "num_labels", None)
            rows = {int(m[1][0]) for m in head if len(m[1]) >= 1}
            return (
                f"config.json says num_labels={labels} but the checkpoint's head has "
                f"{'/'.join(str(r) for r in sorted(rows))} output row(s); fix num_labels/id2label in config.json "
                "(a reward model has one label) or set adapter: for a multi-output head"
            )
        return (
            "the checkpoint's tensor shapes do not match its config.json (hidden size, vocabulary or head size "
            "differ); the config and weights come from different models"
        )
    if body_missing:
        return (
            "the checkpoint lacks part of the network (an incomplete download or a truncated checkpoint, or "
            "config.json describes more layers than the weights hold); re-download the model or fix config.json"
        )
    if missing_heads and wants_classifier:
        if any(n.split(".", 1)[0] == "lm_head" for n in unexpected_heads):
            return (
                "the checkpoint is a causal language model (lm_head), not a sequence classifier: use kind: dpo "
                "(implicit reward) or kind: judge for it, or set adapter: to the family whose head it has"
            )
        found = sorted({n.split(".", 1)[0] for n in unexpected_heads})
        what = f"it has {', '.join(found)} instead" if found else "the checkpoint has no head tensors"
        return (
            f"the checkpoint's head is not a sequence-classification head ({what}); set adapter: to the model's "
            "family (a custom reward head), or kind: dpo / kind: judge if it is a language model"
        )
    if missing_heads and wants_causal:
        if any(n.split(".", 1)[0] in ("score", "classifier") for n in unexpected_heads):
            return (
                "the checkpoint is a sequence-classification reward model (score head), not a causal language "
                "model: use kind: classifier for it"
            )
        return (
            "the checkpoint has no language-modelling head (lm_head); kind dpo and kind judge need a causal LM "
            "checkpoint"
        )
    if unexpected:
        return (
            "the checkpoint holds weights this architecture does not use (a custom head or another "
            "architecture); set adapter: to the model's family, or the kind that matches the checkpoint"
        )
    return "the checkpoint does not match the architecture in its config.json"


def check_loading_info(
    info: dict[str, Any], *, model_name: str, path: str, auto_class: str, config=None
) -> None:
    """Raise :class:`ModelError` when ``info`` (``from_pretrained(..., output_loading_info=True)``'s second value)
    reports any missing, unexpected or shape-mismatched weight, or any load error: the model would be scored with
    randomly initialised tensors. The message names the tensors, the loader class and the likely fix."""
    missing = {str(k) for k in info.get("missing_keys") or ()}
    unexpected = {str(k) for k in info.get("unexpected_keys") or ()}
    mismatched = sorted(
        (str(m[0]), tuple(m[1]), tuple(m[2]))
        if isinstance(m, (tuple, list)) and len(m) == 3
        else (str(m), (), ())
        for m in info.get("mismatched_keys") or ()
    )
    errors = [str(e) for e in info.get("error_msgs") or ()]
    if not (missing or unexpected or mismatched or errors):
        return
    parts = []
    if missing:
        parts.append(f"{_listing(missing)} missing from the checkpoint (would be randomly initialised)")
    if mismatched:
        shown = [
            f"{name} has shape {list(ckpt)} in the checkpoint but {list(model)} in the model"
            for name, ckpt, model in mismatched[:_SHOWN]
        ]
        more = f" and {len(mismatched) - _SHOWN} more" if len(mismatched) > _SHOWN else ""
        parts.append("; ".join(shown) + more + " (would be randomly initialised)")
    if unexpected:
        parts.append(f"{_listing(unexpected)} in the checkpoint but not used by the model")
    if errors:
        parts.append("load errors: " + "; ".join(errors[:3]))
    hint = _hint(auto_class, missing, unexpected, mismatched, config)
    raise ModelError(
        f"model {model_name!r}: {auto_class} cannot use the weights at {path!r}: {'; '.join(parts)}: {hint}"
    )


def load_with_report(loader, path: str, *, model_name: str, auto_class: str, **kwargs):
    """``loader.from_pretrained(path, **kwargs)`` that refuses any random weight (:func:`check_loading_info`).

    Shape mismatches are collected into the report (``ignore_mismatched_sizes``) rather than raised as
    transformers' "look at the above report" error, so the message can name them."""
    model, info = loader.from_pretrained(
        path, output_loading_info=True, ignore_mismatched_sizes=True, **kwargs
    )
    check_loading_info(info, model_name=model_name, path=path, auto_class=auto_class, config=model.config)
    return model
