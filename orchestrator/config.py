"""Job specification: strict pydantic v2 models loaded from YAML through :func:`from_yaml`.

Relative paths in a job file (``source``, ``path``, ``results``, a chat template file)
are resolved against the current working directory, as the shipped jobs expect when run
from the repository root.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

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


class Prices(_Strict):
    """What an API charges, in currency units (e.g. USD) per million tokens; the manifest reports the cost."""

    prompt_per_million: float = Field(ge=0)
    """Price of one million prompt (input) tokens."""

    completion_per_million: float = Field(ge=0)
    """Price of one million completion (output) tokens."""


class ApiSettings(_Strict):
    """How an API judge (``backend: openai``) talks to its endpoint; none of these change an output, so they are
    not part of the score cache's key."""

    concurrency: int = Field(default=8, ge=1, le=1024)
    """Requests in flight at once per actor (async I/O, one event loop; no thread per request)."""

    requests_per_minute: float | None = Field(default=None, gt=0)
    """Requests started per minute per actor (a token bucket; default no limit)."""

    tokens_per_minute: float | None = Field(default=None, gt=0)
    """Tokens per minute per actor: each request reserves its estimated prompt tokens (characters / 4) plus
    ``max_new_tokens`` and is trued up with the reported usage (default no limit)."""

    timeout_s: float = Field(default=120.0, gt=0)
    """Per-request timeout in seconds (connect, read and write); a timeout is retried."""

    max_retries: int = Field(default=6, ge=0)
    """Retries of one request after a 429, 408, 5xx, timeout or dropped connection; then the example's row
    fails (an error record, counted against ``failures.max_error_rate``)."""

    backoff_s: float = Field(default=1.0, gt=0)
    """First retry delay in seconds; it doubles per retry (capped by ``max_backoff_s``) with full jitter
    (uniform in [delay/2, delay]); a ``Retry-After`` header (seconds) is honoured instead."""

    max_backoff_s: float = Field(default=60.0, gt=0)
    """Longest delay between two tries of one request."""

    circuit_breaker: int = Field(default=20, ge=1)
    """Consecutive failed attempts (timeouts, dropped connections, 5xx; not 429s, which only slow down) after
    which the endpoint counts as down: the model fails with an error saying so; shards already judged stay
    committed and ``rayward run --resume`` continues."""

    headers: dict[str, str] = {}
    """Extra HTTP headers (e.g. a gateway's version header); never put a secret here, use ``api_key_env``."""

    auth_header: str = "Authorization"
    """The header carrying the key: ``Authorization`` sends ``Bearer <key>``; any other name (e.g.
    ``x-api-key`` for Anthropic-compatible gateways) sends the key as is."""

    prices: Prices | None = None
    """Optional price table; the manifest then reports each model's cost."""

    @field_validator("headers")
    @classmethod
    def _no_auth_in_headers(cls, value: dict[str, str]) -> dict[str, str]:
        for name in value:
            if name.lower() in ("authorization", "x-api-key", "api-key"):
                raise ValueError(f"headers: {name!r} would carry a secret in the job file; use api_key_env")
        return value


class ModelSpec(_Strict):
    """One reward model to evaluate.

    Every field is part of the score cache's key unless listed in
    :data:`orchestrator.results.cache.SPEED_ONLY_FIELDS` (names and pure-speed knobs).
    """

    name: str
    """Name used in records and the leaderboard (unique within the job)."""

    path: str
    """Local model directory or Hugging Face hub id."""

    kind: Literal["classifier", "dpo", "judge"] = "classifier"
    """Reward-model family: ``classifier`` = sequence-classification head, raw logit is the score;
    ``dpo`` = implicit reward of a policy against a reference (DPO, SPIN iterations);
    ``judge`` = a generative model judging responses (LLM-as-a-judge)."""

    backend: Literal["transformers", "vllm", "openai"] = "transformers"
    """Inference engine: ``transformers`` (CPU and GPU), ``vllm`` (needs the ``vllm`` package) or, for kind
    ``judge`` only, ``openai``: any OpenAI-compatible chat-completions endpoint (``base_url``; ``path`` is the
    endpoint's model id); API judges hold no GPU."""

    # ---- kind: dpo (implicit rewards, SPIN chains) ----

    ref_free_norm: Literal["sum", "avg", "norm"] | None = None
    """kind dpo without a reference model (the reference's ``--ref_free_type``): the score is the policy's own
    completion log-probs reduced by ``sum``, ``avg`` (mean per completion token) or ``norm`` (minus the L2 norm of
    the per-token log-probs)."""

    beta: float = Field(default=1.0, gt=0)
    """kind dpo: scales the implicit reward, ``beta * (log pi - log pi_ref)`` (accuracy is unchanged); recorded."""

    iterations: list[str] | None = Field(default=None, min_length=2)
    """kind dpo: a chain of checkpoints ``[m0, m1, ..., mn]`` (SPIN / self-rewarding iterations). It expands into
    one evaluated model per iteration t >= 1, named ``<name>@<t>``, scored against ``m(t-1)`` (or against
    ``reference`` when that is a path); leave ``path`` out."""

    iteration: int | None = Field(default=None, ge=0)
    """kind dpo: the iteration number recorded with each record (set by the ``iterations`` expansion)."""

    reference: str | None = Field(default=None, validate_default=True)
    """kind dpo: the reference model (local directory or hub id; its tokenizer is not used, the policy's is) the
    implicit reward is measured against; in a chain (``iterations``) ``previous`` (the default there) scores each
    checkpoint against the one before it. Required for kind dpo unless ``ref_free_norm`` is set."""

    # ---- kind: judge (LLM-as-a-judge) ----

    mode: Literal["rubric", "pairwise", "four-way"] | None = None
    """Judge protocol (kind ``judge`` only; default ``rubric``): ``rubric`` scores each response alone on an
    additive 0-5 rubric (the output ends with ``Score: N``; 1-10 ratings with ``protocol: rewardbench``);
    ``pairwise`` shows both responses and asks for ``[[A]]`` or ``[[B]]``; ``four-way`` (RewardBench 2) shows
    the first chosen and three rejected completions in a seeded random order and asks for ``[[A]]``..``[[D]]``,
    and rates every completion of a ``Ties`` row alone (1-10), as the reference's ``run_generative_v2.py``."""

    protocol: Literal["default", "rewardbench"] | None = None
    """Verdict semantics (kind ``judge``; default ``default``): ``default`` counts an output naming several
    labels as unparseable, rubric scores 0-5, ``max_new_tokens`` 512 and prompts cut to ``max_length``;
    ``rewardbench`` is the reference's: the first label it checks wins (``[[A]]`` before ``[[B]]``...), ratings
    1-10 (a failed rating is -1, as there), ``max_new_tokens`` 2048 and no prompt truncation."""

    base_url: str | None = None
    """``backend: openai``: the endpoint's base URL up to ``/v1`` (e.g. ``https://api.openai.com/v1`` or
    ``http://127.0.0.1:8000/v1``); requests go to ``<base_url>/chat/completions``."""

    api_key_env: str | None = None
    """``backend: openai``: the name of the environment variable holding the API key (default
    ``OPENAI_API_KEY``); the key itself is never written to records, manifests, logs or cache keys. A missing
    variable is an error before any request (a server that needs no key takes any value, e.g. ``EMPTY``)."""

    api: ApiSettings | None = None
    """``backend: openai``: concurrency, rate limits, timeouts, retries, circuit breaker and prices
    (:class:`ApiSettings`; defaults when left out)."""

    members: list[str] | None = Field(default=None, min_length=2)
    """An ensemble judge (PoLL-style): the names of other ``kind: judge`` models of this job, all of the same
    ``mode``; each member judges every example (their outputs are kept in this model's records, marked with the
    member's name) and the verdict is the members' majority. Leave ``path`` out."""

    samples: int | None = Field(default=None, ge=1, le=64)
    """Rubric judges: judge outputs drawn per response, their parsed scores averaged (default 1;
    more than one needs ``temperature > 0``)."""

    temperature: float | None = Field(default=None, ge=0)
    """Judge sampling temperature (default 0 = greedy decoding)."""

    top_p: float | None = Field(default=None, gt=0, le=1)
    """Judge nucleus-sampling mass (default 1 = off; needs ``temperature > 0``)."""

    seed: int | None = Field(default=None, ge=0)
    """Judge seed (default 0): every generation draws from its own generator seeded by (seed, example, response,
    order, sample), and the pairwise ``order: random`` swap is seeded the same way, so a rerun repeats its outputs."""

    max_new_tokens: int | None = Field(default=None, ge=1)
    """Longest judge output in tokens (default 512)."""

    order: Literal["both", "random", "fixed"] | None = None
    """Pairwise judges: ``random`` (default, as the reference does) shows the two responses in a seeded random
    order; ``both`` judges both orders and counts a win only when the two verdicts agree; ``fixed`` always shows
    the chosen response first (A)."""

    template: str | None = None
    """A Jinja judge prompt file replacing the shipped one (``orchestrator/judge_templates/<mode>.jinja``);
    rubric templates get ``question``, ``messages``, ``response``; pairwise ones ``question``, ``messages``,
    ``response_a``, ``response_b``."""

    # ---- backend: vllm ----

    tensor_parallel_size: int = Field(default=1, ge=1)
    """GPUs one replica of this model spans (vLLM tensor parallelism); with ``gpus_per_actor > 0`` each of its
    actors requests this many GPUs (a placement group when more than one)."""

    gpu_memory_utilization: float = Field(default=0.9, gt=0, le=1)
    """Fraction of each GPU's memory vLLM may take for weights and KV cache (ignored on CPU, where
    ``VLLM_CPU_KVCACHE_SPACE`` in GiB sizes the cache)."""

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

    num_parameters: int | None = Field(default=None, ge=1)
    """Parameter count for GPU scheduling (cost = parameters x tokens); default: read from the model directory's
    safetensors headers or config.json, else 7e9 for a hub id."""

    @field_validator("name")
    @classmethod
    def _valid_name(cls, value: str) -> str:
        return _check_name(value, "model name")

    @field_validator("template")
    @classmethod
    def _template_file(cls, value: str | None) -> str | None:
        if value is not None and not Path(value).expanduser().is_file():
            raise ValueError(f"judge template file not found: {value!r}")
        return value

    @model_validator(mode="after")
    def _judge_keys(self) -> ModelSpec:
        judge_keys = (
            "mode",
            "samples",
            "temperature",
            "top_p",
            "seed",
            "max_new_tokens",
            "order",
            "template",
            "protocol",
            "base_url",
            "api_key_env",
            "api",
            "members",
        )
        if self.kind != "judge":
            for key in judge_keys:
                if getattr(self, key) is not None:
                    raise ValueError(f"{key}: only for kind judge, not {self.kind!r}")
            return self
        if self.backend == "openai":
            if self.base_url is None:
                raise ValueError(
                    "base_url: backend openai needs the endpoint's base URL (e.g. http://host:8000/v1)"
                )
            if not self.base_url.startswith(("http://", "https://")):
                raise ValueError(f"base_url: {self.base_url!r} is not an http(s) URL")
        else:
            for key in ("base_url", "api_key_env", "api"):
                if getattr(self, key) is not None:
                    raise ValueError(f"{key}: only for backend openai, not {self.backend!r}")
        mode = self.mode or "rubric"
        if mode != "pairwise" and self.order is not None:
            raise ValueError("order: only for mode pairwise (a rubric judge sees one response at a time)")
        if mode != "rubric" and self.samples is not None:
            raise ValueError(f"samples: only for mode rubric (a {mode} judge gives one verdict per example)")
        greedy = not self.temperature
        if greedy and (self.samples or 1) > 1:
            raise ValueError("samples: more than one draw needs temperature > 0 (greedy draws are identical)")
        if greedy and self.top_p is not None and self.top_p < 1:
            raise ValueError("top_p: needs temperature > 0 (greedy decoding ignores it)")
        return self

    @model_validator(mode="before")
    @classmethod
    def _chain_path(cls, data: Any) -> Any:
        """A chain's ``path`` is its last checkpoint (each iteration gets its own on expansion); an ensemble's
        ``path`` names its members (it loads no model of its own)."""
        if isinstance(data, dict) and data.get("members") is not None:
            members = data["members"]
            if isinstance(members, list) and all(isinstance(m, str) for m in members):
                derived = "ensemble:" + ",".join(members)
                if data.get("path", derived) != derived:  # a dumped spec carries the derived path
                    raise ValueError("path: an ensemble judges through its `members`; leave `path` out")
                data = {**data, "path": derived}
        if isinstance(data, dict) and data.get("iterations") is not None:
            if "path" in data:
                raise ValueError("path: a chain takes its checkpoints from `iterations`; leave `path` out")
            its = data["iterations"]
            if isinstance(its, list) and its and isinstance(its[-1], str):
                data = {**data, "path": its[-1]}
        return data

    @field_validator("ref_free_norm", "beta", "iterations", "iteration")
    @classmethod
    def _dpo_only(cls, value: Any, info: ValidationInfo) -> Any:
        kind = info.data.get("kind")
        unset = value is None or (
            info.field_name == "beta" and value == 1.0
        )  # defaults (a dumped spec has them)
        if kind is not None and kind != "dpo" and not unset:
            raise ValueError(f"only for kind dpo, not {kind!r}")
        return value

    @field_validator("reference")
    @classmethod
    def _dpo_reference(cls, value: str | None, info: ValidationInfo) -> str | None:
        """Declared after the other dpo fields, so they are in ``info.data`` (errors then name this key)."""
        kind = info.data.get("kind")
        if kind != "dpo":
            if value is not None and kind is not None:
                raise ValueError(f"only for kind dpo, not {kind!r}")
            return value
        chain = info.data.get("iterations") is not None
        if info.data.get("ref_free_norm") is not None:
            if value is not None:
                raise ValueError("set either `reference` or `ref_free_norm` (reference-free), not both")
            if chain:
                raise ValueError(
                    "a chain (`iterations`) scores each checkpoint against the one before; drop `ref_free_norm`"
                )
        elif value is None and not chain and "ref_free_norm" in info.data:
            raise ValueError("required for kind dpo unless ref_free_norm is set")
        if value == "previous" and not chain and "iterations" in info.data:
            raise ValueError("`previous` needs a chain of checkpoints in `iterations`")
        return value


class Resources(_Strict):
    """Compute declared once for the job; :func:`orchestrator.runtime.resources.actor_options` maps it to Ray."""

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


class RegressionCheck(_Strict):
    """Compare each model's new run with its previous successful run on the same benchmark (as ``rayward diff``)."""

    max_drop_points: float = Field(ge=0)
    """Fail (exit code 3) when a section or the overall score fell by more than this many percentage points."""


class AfterRun(_Strict):
    """What ``rayward run`` does once the run is over (the nightly job's leaderboard refresh and alerting)."""

    leaderboard_files: list[Literal["json", "csv"]] = []
    """Write each benchmark's leaderboard to ``<results>/leaderboards/<benchmark>.<format>`` (replaced atomically)."""

    regression_check: RegressionCheck | None = None
    """Compare every model's new run with its previous successful run; a drop beyond the threshold exits 3."""


class Failures(_Strict):
    """How much failure a run absorbs before a model is marked failed (see :mod:`orchestrator.runtime.faults`)."""

    unit_retries: int = Field(default=3, ge=0)
    """Times one work unit is redone after its actor died (process crash, lost node); then the model fails."""

    max_error_rate: float = Field(default=0.01, ge=0, le=1)
    """Largest share of a benchmark's rows that may fail to format or tokenize (each becomes a record with
    ``error`` set, null scores and ``correct`` false, so it counts as wrong); above it the model fails.
    ``0`` fails a model on its first bad row."""


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

    @field_validator("name")
    @classmethod
    def _valid_job_name(cls, value: str) -> str:
        return _check_name(value, "job name")

    @field_validator("models")
    @classmethod
    def _expand_chains(cls, models: list[ModelSpec]) -> list[ModelSpec]:
        """Each ``iterations`` chain becomes one model per iteration t >= 1 (see :func:`expand_chain`)."""
        return [m for spec in models for m in expand_chain(spec)]

    @model_validator(mode="after")
    def _unique_names(self) -> JobConfig:
        seen: set[str] = set()
        for model in self.models:
            if model.name in seen:
                raise ValueError(f"duplicate model name {model.name!r}")
            seen.add(model.name)
        by_name = {m.name: m for m in self.models}
        for model in self.models:
            for member in model.members or ():
                other = by_name.get(member)
                if other is None:
                    raise ValueError(f"model {model.name!r}: members: no model named {member!r} in this job")
                if other.kind != "judge" or other.members is not None:
                    raise ValueError(
                        f"model {model.name!r}: members: {member!r} must be a kind judge model (not an ensemble)"
                    )
                if (other.mode or "rubric") != (model.mode or "rubric"):
                    raise ValueError(
                        f"model {model.name!r}: members: {member!r} judges in mode {other.mode or 'rubric'!r}, "
                        f"the ensemble in mode {model.mode or 'rubric'!r}; all members need the ensemble's mode"
                    )
            if model.members is not None and len(set(model.members)) != len(model.members):
                raise ValueError(f"model {model.name!r}: members: a member is listed twice")
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


def expand_chain(spec: ModelSpec) -> list[ModelSpec]:
    """A dpo chain ``iterations: [m0, ..., mn]`` as ``n`` models ``<name>@<t>`` (path ``mt``, reference
    ``m(t-1)`` or the fixed ``reference``, ``iteration`` t); any other spec unchanged. Pure; idempotent."""
    if spec.iterations is None:
        return [spec]
    its = spec.iterations
    out = []
    for t in range(1, len(its)):
        reference = its[t - 1] if spec.reference in (None, "previous") else spec.reference
        out.append(
            spec.model_copy(
                update={
                    "name": f"{spec.name}@{t}",
                    "path": its[t],
                    "reference": reference,
                    "iterations": None,
                    "iteration": t,
                }
            )
        )
    return out


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
