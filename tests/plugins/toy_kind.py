"""A toy model kind added from outside the package: one config class, one scorer, two registrations.

``kind: length`` scores a completion by its length in characters times ``weight`` (no model to load), so a
test can check every record by hand. Scoring actors import this module because it registered itself
(:func:`orchestrator.scoring.plugin_modules`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

import numpy as np

from orchestrator.config import ModelBase, register_model_kind
from orchestrator.scoring import ModelInfo, ScoredColumns, register_scorer
from orchestrator.scoring.columns import list_columns, pair_columns


@register_model_kind
class LengthSpec(ModelBase):
    """Scores a completion by its length."""

    kind: Literal["length"] = "length"
    """``length``: the completion's length in characters, times ``weight``."""

    path: str = "length"
    """Unused: this kind loads no weights."""

    weight: float = 1.0
    """Multiplies the length (a negative weight prefers shorter completions)."""

    def preflight(self) -> str | None:
        return None  # nothing to load


@register_scorer("length", "transformers")
class LengthScorer:
    backend = "toy-length"

    def __init__(self, spec: LengthSpec, device: str = "cpu"):
        self.spec = spec
        self.device = device
        self.info = ModelInfo("length", None, f"length:{spec.weight}", "float64", device, 0.0, 0)

    def _score(self, prompts: Sequence[Any], texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        lengths = np.array([len(t) for t in texts], dtype=np.float64)
        return self.spec.weight * lengths, lengths.astype(np.int64)

    def pair_columns(
        self, prompts: Sequence[Any], chosen: Sequence[str], rejected: Sequence[str]
    ) -> ScoredColumns:
        return pair_columns(self._score, prompts, chosen, rejected)  # type: ignore[return-value]

    def list_columns(self, prompts, chosen, rejected) -> ScoredColumns:  # type: ignore[no-untyped-def]
        return list_columns(self._score, prompts, chosen, rejected)  # type: ignore[return-value]
