"""The Ray driver: plan work units, run scoring actors per model, write each shard at once.

A model that fails to load or score is marked failed in the manifest and the others
go on; records already committed by other models are never touched.
"""

from __future__ import annotations

import logging
import platform
import re
from collections import deque
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol

from orchestrator import __version__
from orchestrator.config import JobConfig, ModelSpec
from orchestrator.data import Examples, load_examples
from orchestrator.errors import RaywardError
from orchestrator.planning import WorkUnit, plan_units
from orchestrator.records import Stopwatch, new_run_id, now_iso, write_manifest, write_shard
from orchestrator.resources import actor_options, torch_threads
from orchestrator.score_cache import ScoreCache

logger = logging.getLogger(__name__)

_HUB_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*(/[A-Za-z0-9][A-Za-z0-9._-]*)?$")


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
class Outcome:
    """How one (model, benchmark) ended in a run."""

    model: str
    benchmark: str
    kind: str
    status: str = "pending"  # pending | ok | failed
    error: str | None = None
    n_records: int = 0
    shards: list[int] = field(default_factory=list)
    score_seconds: float = 0.0
    load_seconds: float | None = None
    fingerprint: str | None = None
    num_parameters: int | None = None
    revision: str | None = None
    dtype: str | None = None
    device: str | None = None
    cached_records: int = 0  # records whose scores came from the score cache
    cache_key: str | None = None  # the score cache's settings key looked up (None: not cacheable)


@dataclass
class RunResult:
    run_id: str
    results: Path
    outcomes: list[Outcome]
    wall_seconds: float

    @property
    def ok(self) -> bool:
        return all(o.status == "ok" for o in self.outcomes)

    @property
    def failed(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.status != "ok"]


def _versions() -> dict[str, str]:
    from importlib import metadata

    out = {"rayward": __version__, "python": platform.python_version()}
    for pkg in ("ray", "torch", "transformers", "tokenizers", "pyarrow", "duckdb", "vllm"):
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            continue
    return out


def _preflight(spec: ModelSpec) -> str | None:
    """A clear error for a model path that can be neither a local directory nor a hub id."""
    path = Path(spec.path).expanduser()
    if path.exists():
        if not path.is_dir():
            return f"model {spec.name!r}: {spec.path!r} is a file; expected a model directory or hub id"
        if not (path / "config.json").is_file():
            return f"model {spec.name!r}: {spec.path!r} has no config.json; not a transformers model directory"
        return None
    if spec.path.startswith((".", "/", "~")) or not _HUB_ID.match(spec.path):
        return f"model {spec.name!r}: model directory {spec.path!r} not found"
    return None


def _error_text(exc: BaseException) -> str:
    cause = getattr(exc, "cause", None)
    if isinstance(cause, BaseException):
        exc = cause
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


class _Manifest:
    def __init__(self, root: Path, job: JobConfig, job_path: str | None, run_id: str, examples: dict[str, Examples]):
        self.root = root
        self.data: dict[str, Any] = {
            "run_id": run_id,
            "job": job.name,
            "job_path": job_path,
            "status": "running",
            "started_at": now_iso(),
            "finished_at": None,
            "wall_seconds": None,
            "config": job.model_dump(mode="json"),
            "versions": _versions(),
            "datasets": [
                {"benchmark": e.benchmark, "source": e.source, "split": e.split, "fingerprint": e.fingerprint, "n_examples": len(e)}
                for e in examples.values()
            ],
            "models": [],
        }

    def write(self, outcomes: list[Outcome], status: str | None = None, wall: float | None = None) -> None:
        self.data["models"] = [asdict(o) for o in outcomes]
        if status:
            self.data["status"] = status
            self.data["finished_at"] = now_iso()
            self.data["wall_seconds"] = wall
        write_manifest(self.root, self.data)


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
) -> RunResult:
    """Run every (model, benchmark) of ``job`` on Ray and write records + manifest.

    ``resume=True`` finishes the latest incomplete run of this job (``resume=RUN_ID``: that run):
    units whose shard file was committed are kept, only the missing ones are scored.
    ``cache=False`` (``--no-cache``; or ``cache: false`` in the job) rescores everything, still refreshing
    the score cache (:mod:`orchestrator.score_cache`).
    """
    from orchestrator.cluster import check_capacity, init_ray

    clock = Stopwatch()
    progress = progress or _NoProgress()
    root = Path(results or job.results)
    # Validate all data before anything is written: bad data costs nothing.
    examples = {b.record_name: load_examples(b) for b in job.benchmarks}
    previous = _resumable(root, job, resume) if resume else None
    run_id = previous["run_id"] if previous else new_run_id()
    outcomes = {(m.name, b.record_name): Outcome(m.name, b.record_name, m.kind) for m in job.models for b in job.benchmarks}
    manifest = _Manifest(root, job, job_path, run_id, examples)
    scores = ScoreCache(root, examples, want_gpu=job.resources.gpus_per_actor > 0, read=cache and job.cache)
    manifest.data["score_cache"] = "read-write" if scores.read else "write-only"
    sizes = {name: len(e) for name, e in examples.items()}
    done: dict[tuple[str, str], set[int]] = {}
    if previous:
        manifest.data["started_at"] = previous.get("started_at")
        manifest.data["resumed_at"] = [*previous.get("resumed_at", []), now_iso()]
        done = _committed_units(root, run_id, plan_units(job, sizes))
        for key, shards in done.items():
            outcomes[key].shards = sorted(shards)
            outcomes[key].n_records = sum(shards.values())
    todo = [u for u in plan_units(job, sizes) if u.shard not in done.get((u.model, u.benchmark), ())]
    ray = None  # every score cached: no Ray, no actor, no model load
    if not scores.covers(job.models, todo):
        ray = init_ray(address, num_cpus=num_cpus, num_gpus=num_gpus)
        check_capacity(ray, job)
    manifest.write(list(outcomes.values()))
    status = "failed"
    try:
        _Driver(ray, job, root, run_id, examples, outcomes, progress, manifest, done, scores=scores).run()
        status = "ok" if all(o.status == "ok" for o in outcomes.values()) else "partial"
    except KeyboardInterrupt:
        status = "interrupted"
        raise
    finally:
        manifest.write(list(outcomes.values()), status=status, wall=clock())
    return RunResult(run_id, root, list(outcomes.values()), clock())


class _Driver:
    """Event loop over Ray futures: loads, shard scores, writes, failures."""

    def __init__(self, ray, job, root, run_id, examples, outcomes, progress, manifest, done=None, scores=None):
        self.ray = ray
        self.cache = scores or ScoreCache(root, examples, want_gpu=job.resources.gpus_per_actor > 0)
        self.specs = {m.name: m for m in job.models}
        self.done: dict[tuple[str, str], Any] = done or {}
        self.job = job
        self.root = root
        self.run_id = run_id
        self.examples = examples
        self.outcomes: dict[tuple[str, str], Outcome] = outcomes
        self.progress = progress
        self.manifest = manifest
        self.queues: dict[str, deque[WorkUnit]] = {}
        self.actors: dict[str, list[Any]] = {}
        self.pending: dict[Any, tuple[str, str, int, WorkUnit | None]] = {}
        self.clocks: dict[tuple[str, str], Stopwatch] = {}

    def run(self) -> None:
        units = plan_units(self.job, {name: len(e) for name, e in self.examples.items()})
        for m in self.job.models:
            self.queues[m.name] = deque(
                u for u in units if u.model == m.name and u.shard not in self.done.get((u.model, u.benchmark), ())
            )
            for b in self.job.benchmarks:
                self.progress.start(m.name, b.record_name, len(self.examples[b.record_name]))
                already = self.outcomes[(m.name, b.record_name)].n_records
                if already:
                    self.progress.advance(m.name, b.record_name, already)
        for spec in self.job.models:  # cached units first: a run whose every score is cached needs no Ray
            if self.queues[spec.name] and _preflight(spec) is None:
                for unit, table in self.cache.cached_units(spec, self.queues[spec.name], run_id=self.run_id):
                    self.queues[spec.name].remove(unit)
                    self._write(unit, table)
                if not self.queues[spec.name]:  # no actor, no model load
                    self._from_cache(spec)
        if self.ray is None:  # run_job found every unit cached or committed
            for spec in self.job.models:
                self._finish_model(spec.name)
            return
        ray = self.ray
        from orchestrator.worker import ScoringWorker

        actor_cls = ray.remote(ScoringWorker)
        self.refs = {name: ray.put(e.table) for name, e in self.examples.items()}
        opts = actor_options(self.job.resources)
        threads = torch_threads(self.job.resources)
        want_gpu = self.job.resources.gpus_per_actor > 0
        for spec in self.job.models:
            if not self.queues[spec.name]:  # everything committed by the run being resumed
                self._finish_model(spec.name)
                continue
            error = _preflight(spec)
            if error:
                self._fail_model(spec.name, error)
                continue
            actors = [
                actor_cls.options(**opts).remote(spec.model_dump(mode="json"), want_gpu, threads)
                for _ in range(self.job.resources.actors_per_model)
            ]
            self.actors[spec.name] = actors
            for i, actor in enumerate(actors):
                self.pending[actor.load.remote()] = ("load", spec.name, i, None)

        while self.pending:
            done, _ = ray.wait(list(self.pending), num_returns=1)
            ref = done[0]
            what, model, index, unit = self.pending.pop(ref)
            if model not in self.actors:  # model already failed; drop late results
                continue
            try:
                value = ray.get(ref)
            except Exception as exc:  # RayTaskError / RayActorError carry the worker's exception
                self._fail_model(model, f"model {model!r}: {_error_text(exc)}" if what == "score" else _error_text(exc))
                continue
            if what == "load":
                self._loaded(model, value)
            else:
                self._write(unit, value)
            self._submit_next(model, index)

    def _loaded(self, model: str, info: dict[str, Any]) -> None:
        for (m, _b), o in self.outcomes.items():
            if m == model and o.load_seconds is None:
                o.load_seconds = round(info["load_seconds"], 3)
                o.fingerprint = info["fingerprint"]
                o.num_parameters = info["num_parameters"]
                o.revision = info["revision"]
                o.dtype = info["dtype"]
                o.device = info["device"]

    def _submit_next(self, model: str, index: int) -> None:
        queue = self.queues[model]
        if queue:
            unit = queue.popleft()
            self.clocks.setdefault((model, unit.benchmark), Stopwatch())
            actor = self.actors[model][index]
            ref = actor.score.remote(
                self.refs[unit.benchmark], unit.start, unit.stop, run_id=self.run_id, benchmark=unit.benchmark, shard=unit.shard
            )
            self.pending[ref] = ("score", model, index, unit)
            return
        if not any(p[1] == model for p in self.pending.values()):
            self._finish_model(model)

    def _write(self, unit: WorkUnit, table) -> None:
        write_shard(self.root, table, benchmark=unit.benchmark, model=unit.model, run_id=self.run_id, shard=unit.shard)
        outcome = self.outcomes[(unit.model, unit.benchmark)]
        outcome.cache_key = self.cache.lookup_keys.get(unit.model)
        cached = table.num_rows - table.column("cached_from").null_count
        outcome.cached_records += cached
        if cached < table.num_rows:  # newly scored rows join the score cache
            self.cache.add(self.specs[unit.model], unit, table, asdict(outcome))
        outcome.n_records += table.num_rows
        outcome.shards.append(unit.shard)
        self.progress.advance(unit.model, unit.benchmark, table.num_rows)

    def _from_cache(self, spec: ModelSpec) -> None:
        """Finish a model none of whose units needed scoring; the manifest gets the model's info from the cache."""
        info = self.cache.model_info(spec) or {}
        for (m, _b), o in self.outcomes.items():
            if m == spec.name:
                o.cache_key = self.cache.lookup_keys.get(spec.name)
                for name in ("fingerprint", "revision", "dtype", "device", "num_parameters"):
                    if getattr(o, name) is None:
                        setattr(o, name, info.get(name))
        self._finish_model(spec.name)

    def _finish_model(self, model: str) -> None:
        for (m, b), o in self.outcomes.items():
            if m == model and o.status == "pending":
                o.status = "ok" if o.n_records == len(self.examples[b]) else "failed"
                if o.status == "failed":
                    o.error = f"only {o.n_records} of {len(self.examples[b])} records were written"
                o.shards.sort()
                clock = self.clocks.get((m, b))
                o.score_seconds = clock() if clock else 0.0
                self.progress.finish(m, b, o.status)
        self._release(model)
        self.manifest.write(list(self.outcomes.values()))

    def _fail_model(self, model: str, error: str) -> None:
        logger.error("%s", error)
        for (m, b), o in self.outcomes.items():
            if m == model and o.status == "pending":
                o.status = "failed"
                o.error = error
                self.progress.finish(m, b, "failed")
        self.queues[model].clear()
        self._release(model)
        self.manifest.write(list(self.outcomes.values()))

    def _release(self, model: str) -> None:
        for actor in self.actors.pop(model, []):
            try:
                self.ray.kill(actor)
            except Exception:  # already dead
                pass


def _resumable(root: Path, job: JobConfig, resume: bool | str) -> dict[str, Any]:
    """The manifest of the run to resume: the given id, or this job's latest incomplete run."""
    from orchestrator.errors import ConfigError
    from orchestrator.records import read_manifests

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
    if previous.get("config") != job.model_dump(mode="json"):
        raise ConfigError(
            f"--resume: job {job.name!r} changed since run {previous['run_id']}; resuming needs the same job file"
        )
    return previous


def _committed_units(root: Path, run_id: str, units: list[WorkUnit]) -> dict[tuple[str, str], dict[int, int]]:
    """Units of ``run_id`` whose shard file is committed and complete: (model, benchmark) -> {shard: rows}."""
    import pyarrow.parquet as pq

    from orchestrator.records import shard_path

    done: dict[tuple[str, str], dict[int, int]] = {}
    for unit in units:
        path = shard_path(root, unit.benchmark, unit.model, run_id, unit.shard)
        if not path.is_file():
            continue
        try:
            rows = pq.ParquetFile(path).metadata.num_rows
        except Exception:  # unreadable: score it again (the rewrite is atomic)
            continue
        if rows == unit.size:
            done.setdefault((unit.model, unit.benchmark), {})[unit.shard] = rows
    return done


def run_job_file(path: str | Path, **kwargs: Any) -> RunResult:
    """Load a job YAML and run it."""
    from orchestrator.config import from_yaml

    return run_job(from_yaml(path), job_path=str(path), **kwargs)


__all__ = ["run_job", "run_job_file", "RunResult", "Outcome", "Progress", "RaywardError"]
