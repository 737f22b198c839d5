"""Settings of models read through a family adapter (:mod:`orchestrator.scoring.adapters`): the classifier's
``adapter`` and ``profile`` keys, and the ``pairwise`` kind (a model that reads both completions)."""

from __future__ import annotations

from typing import Literal

from pydantic import field_validator

from orchestrator.config._base import ModelBase, register_model_kind


def check_adapter(value: str) -> str:
    """``auto`` or a registered adapter name / covered hub id (the registry is pure data: no torch import)."""
    if value != "auto":
        from orchestrator.scoring.adapters import adapter_names

        if value not in adapter_names():
            raise ValueError(f"unknown adapter {value!r}: `rayward adapters` lists them (or use auto)")
    return value


class AdaptedModel(ModelBase):
    """Keys shared by the kinds read through an adapter."""

    adapter: str = "auto"
    """The model family's adapter (``rayward adapters`` lists them): a family name (``grm-sftreg``,
    ``ultrarm``, ...) or a hub id an adapter covers (``openbmb/UltraRM-13b``); ``auto`` picks it from the hub id in
    ``path``, else ``config.json`` ``architectures``/``model_type``, else the head tensors' names, else the plain
    one-label classifier."""

    @field_validator("adapter")
    @classmethod
    def _known_adapter(cls, value: str) -> str:
        return check_adapter(value)


@register_model_kind
class PairwiseSpec(AdaptedModel):
    """A preference model that reads both completions and gives P(A better); both orders are scored and
    combined as the reference does for the family (``adapter``, e.g. ``rlhflow-pair``)."""

    kind: Literal["pairwise"] = "pairwise"
    """``pairwise``: a model that sees both completions and yields P(A better), scored in both orders."""


Profile = Literal["default", "reference"]
