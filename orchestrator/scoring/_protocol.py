"""The scorer contract: what every scorer of every kind and backend gives the scoring actor.

A scorer is built once per actor (weights loaded) by the factory registered for its ``(kind, backend)``
(:mod:`orchestrator.scoring._registry`), then asked for record columns of many slices of examples.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, TypedDict, runtime_checkable


@dataclass
class ModelInfo:
    """What the manifest records about a loaded model."""

    path: str
    revision: str | None
    fingerprint: str
    dtype: str
    device: str
    load_seconds: float
    num_parameters: int
    extra: dict[str, Any] = field(default_factory=dict)


class ScoredColumns(TypedDict, total=False):
    """Record columns a scorer returns for a slice of examples, aligned with its rows (names and types of
    :data:`orchestrator.results.records.RECORD_SCHEMA`; the actor adds run, model and example keys)."""

    chosen: list[Any]
    rejected: list[Any]
    score_chosen: Any  # sequence of float | None
    score_rejected: Any
    correct: Any  # sequence of bool
    tokens_chosen: Any
    tokens_rejected: Any
    scores_chosen: list[list[float]]
    scores_rejected: list[list[float]]
    texts_chosen: list[list[str]]
    texts_rejected: list[list[str]]
    beta: Any
    logp_chosen: Any
    logp_rejected: Any
    ref_logp_chosen: Any
    ref_logp_rejected: Any
    completion_tokens_chosen: Any
    completion_tokens_rejected: Any
    reference: Any
    iteration: Any
    judge_outputs: list[list[dict[str, Any]]]
    parse_failures: Any
    position_consistent: Any


@runtime_checkable
class Scorer(Protocol):
    """One loaded reward model."""

    info: ModelInfo
    """What the manifest records about the loaded model."""

    backend: str
    """The records' ``scorer`` value (``transformers``, ``vllm``, ...)."""

    device: str
    """Where it runs (``cpu``, ``cuda``, ``cuda:1``)."""

    def pair_columns(
        self, prompts: Sequence[Any], chosen: Sequence[str], rejected: Sequence[str]
    ) -> ScoredColumns:
        """Record columns for preference pairs (a tie is wrong)."""
        ...

    def list_columns(
        self, prompts: Sequence[Any], chosen: Sequence[Sequence[str]], rejected: Sequence[Sequence[str]]
    ) -> ScoredColumns:
        """Record columns for best-of-N rows."""
        ...


@runtime_checkable
class Rebatchable(Protocol):
    """A scorer whose batch size can shrink after an out-of-memory error (the actor halves ``batch_tokens``
    and rescores the shard; see :mod:`orchestrator.runtime.faults`)."""

    batch_tokens: int


class BatchOutOfMemory(Exception):
    """A batch did not fit in accelerator memory; ``rows`` is the failing batch's size (at one row, halving
    the budget cannot help)."""

    def __init__(self, rows: int, cause: BaseException):
        super().__init__(str(cause).strip() or type(cause).__name__)
        self.rows = rows
        self.cause = cause
