"""The run manifest, typed: one JSON document per run (``runs/<run_id>.json``) saying what was run, on what
data, how every (model, benchmark) ended and how the models were scheduled.

The driver builds and rewrites it through these models; readers of older manifests get plain dicts from
:func:`orchestrator.results.records.read_manifests` (missing fields read as absent), so every manifest written
so far stays readable. Version 1 is the first typed manifest; earlier ones carry no ``manifest_version``.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from orchestrator.errors import FailureKind

MANIFEST_VERSION = 1

RunStatus = Literal["running", "ok", "partial", "failed", "interrupted"]
ModelStatus = Literal["pending", "ok", "failed"]


class _Doc(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=False)


class ModelOutcome(_Doc):
    """How one (model, benchmark) ended in a run."""

    model: str
    benchmark: str
    kind: str
    status: ModelStatus = "pending"
    error: str | None = None
    """The failure in words (null unless failed)."""
    failure: FailureKind | None = None
    """What kind of failure it was (null unless failed)."""
    n_records: int = 0
    shards: list[int] = Field(default_factory=list)
    score_seconds: float = 0.0
    load_seconds: float | None = None
    fingerprint: str | None = None
    num_parameters: int | None = None
    revision: str | None = None
    dtype: str | None = None
    device: str | None = None
    retries: dict[int, int] = Field(default_factory=dict)
    """Shard -> times it was redone after its actor was lost (only shards that needed it)."""
    row_errors: int = 0
    """Records with ``error`` set (rows that could not be formatted or tokenized)."""
    oom_retries: int = 0
    """Shard rescorings after an out-of-memory error (each halves the batch token budget)."""
    batch_tokens: int | None = None
    """The batch token budget the last shard was scored with."""
    cached_records: int = 0
    """Records whose scores came from the score cache."""
    cache_key: str | None = None
    """The score cache's settings key looked up (null: the model is not cacheable)."""
    subsets: dict[str, int] | None = None
    """Records per subset this run holds for the model (set by compaction, ``docs/store.md``; readers take the latest
    run per subset from it instead of scanning records)."""

    @property
    def notes(self) -> str:
        """Retries and row errors in words, for the run summary ("" when there were none)."""
        parts = []
        if self.retries:
            shards = ", ".join(f"{s} ({n}x)" for s, n in sorted(self.retries.items()))
            parts.append(f"redone after a lost actor: shard {shards}")
        if self.oom_retries:
            parts.append(f"{self.oom_retries} out-of-memory retries, batch_tokens now {self.batch_tokens}")
        if self.row_errors:
            parts.append(f"{self.row_errors} rows failed (records with error)")
        return "; ".join(parts)


class DatasetInfo(_Doc):
    """One benchmark's data as loaded for the run."""

    benchmark: str
    source: str
    split: str
    fingerprint: str
    n_examples: int


class ScheduleEntry(_Doc):
    """How one model was costed, ordered and started (``scheduling``); times in seconds since scheduling."""

    model: str
    num_parameters: int
    parameters_from: str
    tokens: int
    cost: float
    duration: float
    slots: float
    replicas: int
    order: int | None = None
    start_seq: int | None = None
    started_at: str | None = None
    finished_at: str | None = None
    started_s: float | None = None
    loaded_s: float | None = None
    finished_s: float | None = None
    placement_groups: list[str] = Field(default_factory=list)
    prefetched_bytes: int | None = None


class Schedule(_Doc):
    """The run's schedule: policy, the resource it counts (``GPU`` or ``CPU``), the cluster's capacity."""

    policy: str
    resource: str
    capacity: float
    models: list[ScheduleEntry] = Field(default_factory=list)


class ReusedShard(_Doc):
    """A unit of this run whose records are those of run ``from_run`` for the same (benchmark, model, shard)."""

    benchmark: str
    model: str
    shard: int
    from_run: str
    rows: int


class RunManifest(_Doc):
    """Everything a run records besides its records."""

    manifest_version: int = MANIFEST_VERSION
    run_id: str
    job: str
    job_path: str | None = None
    status: RunStatus = "running"
    started_at: str | None = None
    finished_at: str | None = None
    wall_seconds: float | None = None
    resumed_at: list[str] = Field(default_factory=list)
    config: dict[str, Any]
    """The job as validated (``JobConfig``), for ``--resume`` and for provenance."""
    versions: dict[str, str] = Field(default_factory=dict)
    datasets: list[DatasetInfo] = Field(default_factory=list)
    models: list[ModelOutcome] = Field(default_factory=list)
    score_cache: Literal["read-write", "write-only"] | None = None
    schedule: Schedule | None = None
    inputs: dict[str, Any] | None = None
    """What the run was made of: ``datasets`` (benchmark -> data fingerprint) and ``models`` (model -> what each
    path-valued setting points to); ``--resume`` refuses when they changed
    (:mod:`orchestrator.runtime.resume_check`)."""
    instead_of_resuming: dict[str, Any] | None = None
    """Set when ``--resume --on-change new-run`` started this run because the interrupted run's inputs changed:
    ``run_id`` (the run not resumed) and ``changes`` (each difference, in words)."""
    reused_shards: list[ReusedShard] = Field(default_factory=list)
    """Cache-served units recorded as references to earlier records (folded in by compaction)."""
    compacted: bool = False
    """Set by compaction (``rayward compact``, after each run by default)."""
    record_schema_version: int | None = None
    """Set by compaction/upgrade when every record file of the run is in that record schema version."""
    gc_removed: list[str] = Field(default_factory=list)
    """``benchmark/model`` entries whose records ``rayward gc`` removed from this run."""
