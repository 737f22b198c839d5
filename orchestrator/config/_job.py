"""A job: benchmarks x models, the compute to use, the failure policy, where records go, what runs after;
loaded from YAML by :func:`from_yaml` with errors that name the file and the key path.

Relative paths in a job file (``source``, ``path``, ``results``, a chat template file) are resolved against the
current working directory, as the shipped jobs expect when run from the repository root.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import Field, ValidationError, field_validator, model_validator

from orchestrator.config._base import ModelBase, ModelSpec, Strict, check_name, looks_like_local_path
from orchestrator.config._benchmark import BenchmarkSpec
from orchestrator.errors import ConfigError


class Resources(Strict):
    """Compute declared once for the job; :func:`orchestrator.runtime.resources.actor_options` maps it to Ray.

    ``auto`` (the default) fits the cluster the run lands on: GPU actors with one GPU each when the cluster has
    GPUs, otherwise CPU actors that each hold a whole node's CPUs (so one model's actor uses every core, and
    models take turns rather than splitting the cores)."""

    gpus_per_actor: float | Literal["auto"] = Field(default="auto")
    """GPUs each scoring actor holds; 0 means CPU actors; ``auto``: 1 when the cluster has GPUs, else 0."""

    cpus_per_actor: float | Literal["auto"] = Field(default="auto")
    """CPUs each scoring actor holds; ``auto``: 1 for GPU actors, a whole node's CPUs for CPU actors."""

    actors_per_model: int = Field(default=1, ge=1)
    """Scoring actors (model replicas) per model; shards are spread over them."""

    shard_size: int = Field(default=1024, ge=1)
    """Preference pairs per work unit; each finished shard is written at once."""

    torch_threads: int | None = Field(default=None, ge=1)
    """Intra-op threads for CPU actors (default: ``cpus_per_actor``, at most the node's cores)."""

    gpu_memory_gib: float = Field(default=80.0, gt=0)
    """Memory of one GPU (GiB). A native-head model on the transformers backend whose weights (parameters x the
    dtype's bytes, plus 20% for activations) exceed 90% of it spans as many GPUs as it needs, its layers split
    over them (``device_map``) inside its placement group."""

    @field_validator("gpus_per_actor")
    @classmethod
    def _gpus_non_negative(cls, value: float | str) -> float | str:
        if not isinstance(value, str) and value < 0:
            raise ValueError("must be 0 (CPU actors), a positive number of GPUs, or auto")
        return value

    @field_validator("cpus_per_actor")
    @classmethod
    def _cpus_positive(cls, value: float | str) -> float | str:
        if not isinstance(value, str) and value <= 0:
            raise ValueError("must be a positive number of CPUs, or auto")
        return value

    @property
    def resolved(self) -> bool:
        """Whether both actor sizes are numbers (after :meth:`resolve`, or as written)."""
        return not isinstance(self.gpus_per_actor, str) and not isinstance(self.cpus_per_actor, str)

    @property
    def gpus(self) -> float:
        """GPUs per actor as a number (``auto`` must have been resolved against a cluster)."""
        if isinstance(self.gpus_per_actor, str):
            raise ValueError("resources.gpus_per_actor is auto: resolve it against the cluster first")
        return float(self.gpus_per_actor)

    @property
    def cpus(self) -> float:
        """CPUs per actor as a number (``auto`` is 1 for GPU actors; CPU actors need the cluster)."""
        if isinstance(self.cpus_per_actor, str):
            if self.gpus > 0:
                return 1.0
            raise ValueError("resources.cpus_per_actor is auto: resolve it against the cluster first")
        return float(self.cpus_per_actor)

    def resolve(self, cluster_gpus: float, node_cpus: float) -> Resources:
        """The concrete sizes on a cluster with ``cluster_gpus`` GPUs in all and ``node_cpus`` CPUs on its
        largest node."""
        gpus = (
            (1.0 if cluster_gpus > 0 else 0.0)
            if isinstance(self.gpus_per_actor, str)
            else self.gpus_per_actor
        )
        if isinstance(self.cpus_per_actor, str):
            cpus = 1.0 if gpus > 0 else max(1.0, float(node_cpus))
        else:
            cpus = self.cpus_per_actor
        return self.model_copy(update={"gpus_per_actor": gpus, "cpus_per_actor": cpus})


class RegressionCheck(Strict):
    """Compare each model's new run with its previous successful run on the same benchmark (as ``rayward diff``)."""

    max_drop_points: float = Field(ge=0)
    """Fail (exit code 3) when a section or the overall score fell by more than this many percentage points."""


class AfterRun(Strict):
    """What ``rayward run`` does once the run is over (the nightly job's leaderboard refresh and alerting)."""

    leaderboard_files: list[Literal["json", "csv"]] = []
    """Write each benchmark's leaderboard to ``<results>/leaderboards/<benchmark>.<format>`` (replaced atomically)."""

    regression_check: RegressionCheck | None = None
    """Compare every model's new run with its previous successful run; a drop beyond the threshold exits 3."""


class Failures(Strict):
    """How much failure a run absorbs before a model is marked failed (see :mod:`orchestrator.runtime.faults`)."""

    unit_retries: int = Field(default=3, ge=0)
    """Times one work unit is redone after its actor died (process crash, lost node); then the model fails."""

    max_error_rate: float = Field(default=0.01, ge=0, le=1)
    """Largest share of a benchmark's rows that may fail to format or tokenize (each becomes a record with
    ``error`` set, null scores and ``correct`` false, so it counts as wrong); above it the model fails.
    ``0`` fails a model on its first bad row."""


class JobConfig(Strict):
    """A Rayward job: benchmarks x models, the compute to use, where records go."""

    name: str
    """Job name, stored in each run's manifest."""

    benchmarks: list[BenchmarkSpec] = Field(min_length=1)
    """Benchmarks to evaluate every model on."""

    models: list[ModelSpec] = Field(min_length=1)
    """Reward models to evaluate."""

    resources: Resources = Resources()
    """Compute per scoring actor."""

    failures: Failures = Failures()
    """Retries after lost actors and the tolerated share of rows that fail."""

    results: str = "results"
    """Results store: a directory or a filesystem URI (``file:///…``, ``s3://bucket/prefix``, ``gs://…``, ``hdfs://…``)."""

    after_run: AfterRun | None = None
    """Steps after the run: leaderboard files and the regression check against each model's previous run."""

    cache: bool = True
    """Reuse scores from the results store's score cache (``results/cache/``) when the model, its scoring
    settings and the example are unchanged; ``false`` rescores everything (as ``rayward run --no-cache``)
    and still refreshes the cache."""

    compact: bool = True
    """After a run that finished every model, merge its shard files into one file per (benchmark, model) and record
    its subsets and reused units in the manifest (as ``rayward compact``; ``docs/store.md``); ``false`` leaves the
    run's files as written."""

    @field_validator("name")
    @classmethod
    def _valid_job_name(cls, value: str) -> str:
        return check_name(value, "job name")

    @field_validator("models")
    @classmethod
    def _expand_chains(cls, models: list[ModelBase]) -> list[ModelBase]:
        """Each entry as the models it evaluates (a dpo ``iterations`` chain: one per iteration t >= 1)."""
        return [m for spec in models for m in spec.expand()]

    @model_validator(mode="after")
    def _unique_names(self) -> JobConfig:
        seen: set[str] = set()
        for model in self.models:
            if model.name in seen:
                raise ValueError(f"duplicate model name {model.name!r}")
            seen.add(model.name)
        benches: set[str] = set()
        for bench in self.benchmarks:
            if bench.record_name in benches:
                raise ValueError(
                    f"benchmark {bench.record_name!r} appears twice; run the second data set in its own job "
                    "(the leaderboard combines each subset's latest run), or give a custom one its own `label`"
                )
            benches.add(bench.record_name)
        return self._resolve_members()

    def _resolve_members(self) -> JobConfig:
        """Check each ensemble's ``members`` against this job's models and hand it their settings."""
        by_name = {m.name: m for m in self.models}
        models = []
        for model in self.models:
            members = getattr(model, "members", None)
            if members is None:
                models.append(model)
                continue
            if len(set(members)) != len(members):
                raise ValueError(f"model {model.name!r}: members: a member is listed twice")
            specs = []
            for member in members:
                other = by_name.get(member)
                if other is None:
                    raise ValueError(f"model {model.name!r}: members: no model named {member!r} in this job")
                if other.kind != "judge" or getattr(other, "members", None) is not None:
                    raise ValueError(
                        f"model {model.name!r}: members: {member!r} must be a kind judge model (not an ensemble)"
                    )
                mode, theirs = (
                    getattr(model, "mode", None) or "rubric",
                    getattr(other, "mode", None) or "rubric",
                )
                if mode != theirs:
                    raise ValueError(
                        f"model {model.name!r}: members: {member!r} judges in mode {theirs!r}, the ensemble in "
                        f"mode {mode!r}; all members need the ensemble's mode"
                    )
                ours, its = getattr(model, "protocol", None), getattr(other, "protocol", None)
                if (ours or "default") != (its or "default"):
                    raise ValueError(
                        f"model {model.name!r}: members: {member!r} uses protocol {its or 'default'!r}, the "
                        f"ensemble {ours or 'default'!r}; all members need the ensemble's protocol"
                    )
                specs.append(other.model_dump(mode="json"))
            models.append(model.model_copy(update={"member_specs": specs}))
        object.__setattr__(self, "models", models)  # frozen: the validated job, completed once
        return self

    @classmethod
    def from_yaml(cls, path: str | Path) -> JobConfig:
        """Load and validate a job file; errors name the file and the key path."""
        return from_yaml(path)

    @classmethod
    def from_dict(
        cls, data: Any, source: str = "<job>", lines: dict[tuple[Any, ...], int] | None = None
    ) -> JobConfig:
        """Validate a job given as a mapping; errors name ``source``, the line (``lines``: key path -> line,
        from the YAML file) and the key path."""
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            raise ConfigError(_format_validation_error(exc, source, lines)) from None


def _loc_to_path(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out or "<root>"


def _format_validation_error(
    exc: ValidationError, source: str, key_lines: dict[tuple[Any, ...], int] | None = None
) -> str:
    from orchestrator._yaml import line_of

    lines = []
    for err in exc.errors():
        loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and p.startswith("function-")))
        key = _loc_to_path(loc)
        line = line_of(key_lines, _yaml_loc(loc)) if key_lines else None
        where = f"{source}:{line}" if line else source
        kind = err["type"]
        if kind == "union_tag_invalid" or kind == "unknown_kind":
            msg = err["msg"]
        elif kind == "extra_forbidden":
            msg = "unknown key"
        elif kind == "missing":
            msg = "required key is missing"
        else:
            msg = err["msg"].removeprefix("Value error, ")
        lines.append(f"{where}: {key}: {msg}")
    return "\n".join(lines)


def _yaml_loc(loc: tuple[Any, ...]) -> tuple[Any, ...]:
    """A pydantic error location as a path into the YAML file: union tags (``models.0.classifier.path``) are
    not keys of the file."""
    from orchestrator.config._base import model_kinds

    kinds = set(model_kinds())
    return tuple(p for i, p in enumerate(loc) if not (i == 2 and loc[:1] == ("models",) and p in kinds))


def from_yaml(path: str | Path) -> JobConfig:
    """Read a job YAML file into a validated :class:`JobConfig`; errors name the file, line and key path
    (not UTF-8, invalid YAML, duplicate keys, unknown or invalid keys, a local model path that does not
    exist)."""
    from orchestrator._text import read_utf8
    from orchestrator._yaml import load_job_yaml

    file = Path(path)
    if not file.is_file():
        raise ConfigError(f"{file}: job file not found")
    data, lines = load_job_yaml(file, read_utf8(file, ConfigError, "the job file"))
    if not isinstance(data, dict):
        raise ConfigError(f"{file}: a job file must be a mapping with keys name, benchmarks, models")
    job = JobConfig.from_dict(data, source=str(file), lines=lines)
    _check_model_paths(data, file, lines)
    return job


def _check_model_paths(data: dict[str, Any], file: Path, lines: dict[tuple[Any, ...], int]) -> None:
    """A local model path (``path``, ``reference``, ``tokenizer``, ``iterations``) that does not exist is an
    error here, not a hub download that fails with a network error later."""
    from orchestrator._yaml import line_of

    models = data.get("models")
    if not isinstance(models, list):
        return
    for i, model in enumerate(models):
        if not isinstance(model, dict):
            continue
        keys: list[tuple[tuple[Any, ...], Any]] = [
            (("models", i, k), model.get(k)) for k in ("path", "reference", "tokenizer")
        ]
        if isinstance(model.get("iterations"), list):
            keys += [(("models", i, "iterations", j), v) for j, v in enumerate(model["iterations"])]
        for loc, value in keys:
            if not isinstance(value, str) or value == "previous" or not looks_like_local_path(value):
                continue
            if not Path(value).expanduser().exists():
                line = line_of(lines, loc)
                raise ConfigError(
                    f"{file}:{line}: {_loc_to_path(loc)}: local model directory {value!r} not found "
                    f"(relative paths are resolved against {Path.cwd()}; a hub id has the form org/name)"
                )
