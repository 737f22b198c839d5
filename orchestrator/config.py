"""Job specification: strict pydantic v2 models loaded from YAML through :func:`from_yaml`.

Relative paths in a job file (``source``, ``path``, ``results``, a chat template file)
are resolved against the current working directory, as the shipped jobs expect when run
from the repository root.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from orchestrator.errors import ConfigError

_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/+=@-]*$")


def _check_name(value: str, what: str) -> str:
    """Names become record values and (encoded) directory names: keep them safe."""
    if not _NAME_RE.match(value) or any(part in ("", ".", "..") for part in value.split("/")):
        raise ValueError(
            f"invalid {what} {value!r}: use letters, digits and . _ - / + = @, "
            "starting with a letter or digit, with no empty, '.' or '..' path parts"
        )
    return value


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ColumnMap(_Strict):
    """Which source columns hold the preference data (custom benchmarks); each value is a column name."""

    prompt: str = "prompt"
    """The prompt: a string, or a list of messages (``{role, content}`` or plain strings) alternating user/assistant."""

    chosen: str = "chosen"
    """The preferred completion (a string), or a list of them (best-of-N)."""

    rejected: str = "rejected"
    """The dispreferred completion (a string), or a list of them (best-of-N)."""

    subset: str | None = None
    """Optional subset column (default: every row is in subset ``default``)."""

    id: str | None = None
    """Optional example id column (default: the row's position)."""


class BenchmarkSpec(_Strict):
    """One benchmark to run: its scoring rules (``name``) and where its data lives."""

    name: Literal["reward-bench", "reward-bench-2", "custom"] = "reward-bench"
    """The benchmark's scoring rules: ``reward-bench`` (v1: Chat, Chat Hard, Safety, Reasoning, optional Prior Sets),
    ``reward-bench-2`` (Factuality, Precise IF, Math, Safety, Focus, Ties) or ``custom`` (your own preference file)."""

    source: str | None = None
    """A local .parquet/.json/.jsonl file or directory, or a Hugging Face hub dataset id (default: the benchmark's hub id)."""

    split: str | None = None
    """Dataset split; defaults to the benchmark's own (``filtered`` for v1, ``test`` for v2, ``train`` for custom hub data)."""

    revision: str | None = None
    """Hub dataset revision (ignored for local sources)."""

    subsets: list[str] | None = None
    """Only evaluate these subsets (default: all)."""

    limit: int | None = Field(default=None, ge=1)
    """Only evaluate the first N rows of each subset (quick runs); default all."""

    subset_from_split: bool = False
    """Every split (hub) or file (local directory) is one subset named after it, as ``allenai/pref-test-sets``
    (the Prior Sets) is laid out; splits the benchmark does not define (pku_*) are skipped."""

    columns: ColumnMap | None = None
    """Custom benchmarks only: which columns hold prompt, chosen, rejected (and optionally subset, id)."""

    label: str | None = None
    """Custom benchmarks only: the benchmark name used in records and the leaderboard (default ``custom``)."""

    @field_validator("label")
    @classmethod
    def _valid_label(cls, value: str | None) -> str | None:
        return None if value is None else _check_name(value, "benchmark label")

    @model_validator(mode="after")
    def _custom_only(self) -> BenchmarkSpec:
        if self.name != "custom":
            if self.columns is not None:
                raise ValueError(f"columns: only for custom benchmarks, not {self.name!r}")
            if self.label is not None:
                raise ValueError(f"label: only for custom benchmarks, not {self.name!r}")
        elif self.source is None:
            raise ValueError("source: a custom benchmark needs a source (file, directory or hub id)")
        elif self.label is not None and self.label in ("reward-bench", "reward-bench-2"):
            raise ValueError(f"label: {self.label!r} is a built-in benchmark's name")
        return self

    @property
    def record_name(self) -> str:
        """The benchmark name in records (the label of a custom benchmark)."""
        return self.label or self.name


class ModelSpec(_Strict):
    """One reward model to evaluate.

    Every field is part of the score cache's key unless listed in
    :data:`orchestrator.score_cache.SPEED_ONLY_FIELDS` (names and pure-speed knobs).
    """

    name: str
    """Name used in records and the leaderboard (unique within the job)."""

    path: str
    """Local model directory or Hugging Face hub id."""

    kind: Literal["classifier", "dpo", "judge"] = "classifier"
    """Reward-model family: ``classifier`` = sequence-classification head, raw logit is the score;
    ``dpo`` = implicit reward of a policy against a reference (DPO, SPIN iterations);
    ``judge`` = a generative model judging responses (LLM-as-a-judge)."""

    backend: Literal["transformers", "vllm"] = "transformers"
    """Inference engine: ``transformers`` (CPU and GPU) or ``vllm`` (needs the ``vllm`` package)."""

    # ---- kind: dpo (implicit rewards, SPIN chains) ----

    # ---- kind: judge (LLM-as-a-judge) ----

    # ---- backend: vllm ----

    tensor_parallel_size: int = Field(default=1, ge=1)
    """GPUs one replica of this model spans (vLLM tensor parallelism); with ``gpus_per_actor > 0`` each of its
    actors requests this many GPUs (a placement group when more than one)."""

    revision: str | None = None
    """Hub revision (branch, tag or commit) for hub ids."""

    tokenizer: str | None = None
    """A tokenizer path or hub id when it differs from ``path``."""

    dtype: Literal["auto", "float32", "bfloat16", "float16"] = "auto"
    """Weights dtype; ``auto`` is bfloat16 on GPU actors and float32 on CPU actors."""

    max_length: int = Field(default=2048, ge=8)
    """Longest input in tokens; longer inputs are truncated (as the reference does)."""

    truncation_side: Literal["left", "right"] = "left"
    """Which end of an over-long input is cut (the reference cuts the left)."""

    batch_tokens: int | None = Field(default=None, ge=1)
    """Token budget of one batch (padded length x batch size); default 8192 on CPU, 65536 on GPU."""

    chat_template: str | None = None
    """A Jinja chat template (inline, or a path to a .jinja file) overriding the tokenizer's."""

    attn_implementation: Literal["eager", "sdpa", "flash_attention_2"] | None = None
    """Attention kernel passed to transformers (default: its own choice)."""

    trust_remote_code: bool = False
    """Allow the model repository's own Python code to run (off unless set per model)."""

    token_cache: str | None = None
    """On-disk token-id cache: a directory, ``default`` (``~/.cache/rayward/tokens``) or ``off``;
    unset means the ``RAYWARD_TOKEN_CACHE`` environment variable's value, else off."""

    prefetch_batches: int = Field(default=2, ge=0)
    """Padded batches a background thread prepares ahead of the one running (0: none)."""

    @field_validator("name")
    @classmethod
    def _valid_name(cls, value: str) -> str:
        return _check_name(value, "model name")


class Resources(_Strict):
    """Compute declared once for the job; :func:`orchestrator.resources.actor_options` maps it to Ray."""

    gpus_per_actor: float = Field(default=1, ge=0)
    """GPUs each scoring actor holds; 0 means CPU actors."""

    cpus_per_actor: float = Field(default=1, gt=0)
    """CPUs each scoring actor holds."""

    actors_per_model: int = Field(default=1, ge=1)
    """Scoring actors (model replicas) per model; shards are spread over them."""

    shard_size: int = Field(default=1024, ge=1)
    """Preference pairs per work unit; each finished shard is written at once."""

    torch_threads: int | None = Field(default=None, ge=1)
    """Intra-op threads for CPU actors (default: ``cpus_per_actor``)."""


class JobConfig(_Strict):
    """A Rayward job: benchmarks x models, the compute to use, where records go."""

    name: str
    """Job name, stored in each run's manifest."""

    benchmarks: list[BenchmarkSpec] = Field(min_length=1)
    """Benchmarks to evaluate every model on."""

    models: list[ModelSpec] = Field(min_length=1)
    """Reward models to evaluate."""

    resources: Resources = Resources()
    """Compute per scoring actor."""

    results: str = "results"
    """Results store directory (records, manifests)."""

    cache: bool = True
    """Reuse scores from the results store's score cache (``results/cache/``) when the model, its scoring
    settings and the example are unchanged; ``false`` rescores everything (as ``rayward run --no-cache``)
    and still refreshes the cache."""

    @field_validator("name")
    @classmethod
    def _valid_job_name(cls, value: str) -> str:
        return _check_name(value, "job name")

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
        return self

    @classmethod
    def from_yaml(cls, path: str | Path) -> JobConfig:
        """Load and validate a job file; errors name the file and the key path."""
        return from_yaml(path)

    @classmethod
    def from_dict(cls, data: Any, source: str = "<job>") -> JobConfig:
        """Validate a job given as a mapping; errors name ``source`` and the key path."""
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            raise ConfigError(_format_validation_error(exc, source)) from None


def _loc_to_path(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out or "<root>"


def _format_validation_error(exc: ValidationError, source: str) -> str:
    lines = []
    for err in exc.errors():
        loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and p.startswith("function-")))
        key = _loc_to_path(loc)
        kind = err["type"]
        if kind == "extra_forbidden":
            msg = "unknown key"
        elif kind == "missing":
            msg = "required key is missing"
        else:
            msg = err["msg"].removeprefix("Value error, ")
        lines.append(f"{source}: {key}: {msg}")
    return "\n".join(lines)


def from_yaml(path: str | Path) -> JobConfig:
    """Read a job YAML file into a validated :class:`JobConfig`."""
    import yaml

    file = Path(path)
    if not file.is_file():
        raise ConfigError(f"{file}: job file not found")
    try:
        data = yaml.safe_load(file.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{file}:{mark.line + 1}:{mark.column + 1}" if mark else str(file)
        raise ConfigError(f"{where}: invalid YAML: {getattr(exc, 'problem', exc)}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{file}: a job file must be a mapping with keys name, benchmarks, models")
    return JobConfig.from_dict(data, source=str(file))
