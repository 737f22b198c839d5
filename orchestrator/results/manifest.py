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


class ApiUsage(_Doc):
    """An API judge's traffic (``backend: openai``), summed over the committed shards of a run."""

    requests: int = 0
    """HTTP attempts sent (first tries and retries)."""
    responses: int = 0
    """Completions received."""
    retries: dict[str, int] = Field(default_factory=dict)
    """Retries by cause: ``429``, ``5xx``, ``408``, ``409``, ``timeout``, ``connection``."""
    failed_requests: int = 0
    """Requests that used up their retries (their examples became error records)."""
    prompt_tokens: int = 0
    """Prompt tokens the endpoint reported."""
    completion_tokens: int = 0
    """Completion tokens the endpoint reported."""
    cached_outputs: int = 0
    """Outputs answered by the judge output cache (no request sent)."""
    cost: float | None = None
    """``prompt_tokens`` and ``completion_tokens`` priced by ``api.prices`` (null without a price table)."""
    fallback: ApiUsage | None = None
    """The fallback parser's traffic (``fallback_parser:``, its own endpoint and prices), counted apart in the
    same fields; null without a fallback parser."""

    def plus(self, shard: dict[str, Any]) -> ApiUsage:
        """This usage with one shard's counters added (the fallback parser's under ``fallback``)."""
        retries = dict(self.retries)
        for cause, n in (shard.get("retries") or {}).items():
            retries[cause] = retries.get(cause, 0) + int(n)
        counts = {
            k: getattr(self, k) + int(shard.get(k) or 0)
            for k in (
                "requests",
                "responses",
                "failed_requests",
                "prompt_tokens",
                "completion_tokens",
                "cached_outputs",
            )
        }
        price = shard.get("cost")
        cost = None if price is None else round((self.cost or 0.0) + float(price), 9)
        fallback = self.fallback
        if shard.get("fallback") is not None:
            fallback = (fallback or ApiUsage()).plus(shard["fallback"])
        return ApiUsage(retries=retries, cost=cost, fallback=fallback, **counts)


class UnitSource(_Doc):
    """Where the records of a unit served whole by the score cache come from."""

    source: str
    """Digest of what the records are made of: the record schema, the cache key, the data (benchmark, dataset
    fingerprint, rows, shard), the model's name and, per row, the cache file and row its scores come from."""
    records_run: str
    """The run that holds those records as stored rows (this run, or the run a reference points to)."""


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
    unit_sources: dict[int, UnitSource] = Field(default_factory=dict)
    """Shard -> where a unit served whole by the score cache came from (only such units): a later run whose
    unit has the same ``source`` writes a reference to ``records_run`` without reading any record."""
    subsets: dict[str, int] | None = None
    """Records per subset this run holds for the model (set by compaction, ``docs/store.md``; readers take the latest
    run per subset from it instead of scanning records)."""
    api: ApiUsage | None = None
    """API judges: requests, retries by cause, tokens, cached outputs and cost (null for in-process models)."""

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
