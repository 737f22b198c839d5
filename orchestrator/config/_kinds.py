"""The built-in model kinds' settings: ``classifier``, ``dpo`` (implicit rewards, SPIN chains) and
``judge`` (LLM-as-a-judge). Each is one class registered with :func:`register_model_kind`."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, ValidationInfo, field_validator, model_validator

from orchestrator.config._adapted import AdaptedModel, Profile
from orchestrator.config._base import ModelBase, existing_file, register_model_kind
from orchestrator.config._judge_api import ApiSettings, FallbackParser


@register_model_kind
class ClassifierSpec(AdaptedModel):
    """A classifier reward model: a sequence-classification head's raw logit, or a custom reward head read as its
    family's adapter says (``adapter``), is the score."""

    kind: Literal["classifier"] = "classifier"
    """``classifier``: a sequence-classification head gives a scalar score (the default kind)."""

    profile: Profile = "default"
    """Weights loading: ``default`` (``dtype``; bf16 on GPUs) or ``reference``, the reference implementation's
    rules (rewardbench 0.1.4 ``run_rm.py``): 8-bit (bitsandbytes) + float16 unless the family or a Llama-3 name
    exempts it; on a CPU an 8-bit model is an error (docs/models.md)."""

    @model_validator(mode="after")
    def _vllm_plain_classifier(self) -> ClassifierSpec:
        """``backend: vllm`` serves the plain one-label sequence classifier only: a named family adapter (a
        native head, another pooling or template rule) or the reference profile is an error naming it."""
        if self.backend == "vllm":
            if self.adapter not in ("auto", "classifier"):
                raise ValueError(vllm_adapter_error(self.adapter))
            if self.profile != "default":
                raise ValueError(
                    "profile: reference (the reference's 8-bit / float16 loading) is for backend transformers; "
                    "vLLM loads the job's dtype"
                )
        return self

    def preflight(self) -> str | None:
        """Besides the path check: under ``backend: vllm`` the adapter ``auto`` picks (from the hub id, config.json
        or the head tensors) must be the plain classifier."""
        error = super().preflight()
        if error is not None or self.backend != "vllm" or self.adapter != "auto":
            return error
        from orchestrator.errors import ModelError
        from orchestrator.scoring.adapters import select_adapter

        try:
            adapter = select_adapter("auto", self.path)
        except ModelError as exc:
            return f"model {self.name!r}: {exc}"
        if adapter.name != "classifier":
            return f"model {self.name!r}: {vllm_adapter_error(adapter.name)} (picked by adapter: auto)"
        return None


def vllm_adapter_error(adapter: str) -> str:
    """The message for a family adapter on ``backend: vllm``."""
    return (
        f"adapter {adapter!r} is not the plain sequence classifier: vLLM's pooling runner reads a standard "
        "classification head at the last token, not this family's head, pooling or input rule; use backend: "
        "transformers for this model"
    )


@register_model_kind
class DPOSpec(ModelBase):
    """An implicit (DPO) reward model: ``beta * (log pi(y|x) - log pi_ref(y|x))`` over the completion tokens."""

    kind: Literal["dpo"] = "dpo"
    """``dpo``: the implicit reward of a policy against a reference (DPO, SPIN iterations)."""

    profile: Profile = "default"
    """Weights loading of the policy and its reference: ``default`` (``dtype``) or ``reference``, the reference
    implementation's ``run_dpo.py`` rules: 8-bit (bitsandbytes) unless the policy's name contains ``llama-3``,
    ``Llama3``, ``Llama-3`` or ``LLaMA3``; float16 (bfloat16 when ``dtype: bfloat16``) on a GPU, float32 on a CPU
    (the reference passes no dtype there); on a CPU an 8-bit model is an error (docs/models.md)."""

    @field_validator("profile")
    @classmethod
    def _profile_backend(cls, value: str, info: ValidationInfo) -> str:
        if value == "reference" and info.data.get("backend") == "vllm":
            raise ValueError(
                "profile: reference (run_dpo.py's 8-bit / float16 loading) is for backend transformers"
            )
        return value

    ref_free_norm: Literal["sum", "avg", "norm"] | None = None
    """Without a reference model (the reference's ``--ref_free_type``): the score is the policy's own
    completion log-probs reduced by ``sum``, ``avg`` (mean per completion token) or ``norm`` (minus the L2 norm of
    the per-token log-probs)."""

    beta: float = Field(default=1.0, gt=0)
    """Scales the implicit reward, ``beta * (log pi - log pi_ref)`` (accuracy is unchanged); recorded."""

    iterations: list[str] | None = Field(default=None, min_length=2)
    """A chain of checkpoints ``[m0, m1, ..., mn]`` (SPIN / self-rewarding iterations). It expands into
    one evaluated model per iteration t >= 1, named ``<name>@<t>``, scored against ``m(t-1)`` (or against
    ``reference`` when that is a path); leave ``path`` out."""

    iteration: int | None = Field(default=None, ge=0)
    """The iteration number recorded with each record (set by the ``iterations`` expansion)."""

    reference: str | None = Field(default=None, validate_default=True)
    """The reference model (local directory or hub id; its tokenizer is not used, the policy's is) the
    implicit reward is measured against; in a chain (``iterations``) ``previous`` (the default there) scores each
    checkpoint against the one before it. Required unless ``ref_free_norm`` is set."""

    @model_validator(mode="before")
    @classmethod
    def _chain_path(cls, data: Any) -> Any:
        """A chain's ``path`` is its last checkpoint (each iteration gets its own on expansion)."""
        if isinstance(data, dict) and data.get("iterations") is not None:
            if "path" in data:
                raise ValueError("path: a chain takes its checkpoints from `iterations`; leave `path` out")
            its = data["iterations"]
            if isinstance(its, list) and its and isinstance(its[-1], str):
                data = {**data, "path": its[-1]}
        return data

    @field_validator("reference")
    @classmethod
    def _reference_rules(cls, value: str | None, info: ValidationInfo) -> str | None:
        """Declared after the other dpo fields, so they are in ``info.data`` (errors then name this key)."""
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

    def expand(self) -> list[ModelBase]:
        """A chain ``iterations: [m0, ..., mn]`` as ``n`` models ``<name>@<t>`` (path ``mt``, reference
        ``m(t-1)`` or the fixed ``reference``, ``iteration`` t); a single model unchanged. Pure; idempotent."""
        if self.iterations is None:
            return [self]
        its = self.iterations
        out: list[ModelBase] = []
        for t in range(1, len(its)):
            reference = its[t - 1] if self.reference in (None, "previous") else self.reference
            update = {"name": f"{self.name}@{t}", "path": its[t], "reference": reference}
            out.append(self.model_copy(update={**update, "iterations": None, "iteration": t}))
        return out


@register_model_kind
class JudgeSpec(ModelBase):
    """A generative model judging responses (LLM-as-a-judge): in-process on transformers or vLLM, behind an
    OpenAI-compatible endpoint (``backend: openai``), or an ensemble of other judges (``members``)."""

    kind: Literal["judge"] = "judge"
    """``judge``: a generative model rates each response (rubric) or picks the better one (pairwise, four-way)."""

    backend: Literal["transformers", "vllm", "openai", "ensemble"] = "transformers"  # type: ignore[assignment]
    """Inference engine: ``transformers``, ``vllm``, ``openai`` (any OpenAI-compatible chat-completions endpoint
    at ``base_url``; ``path`` is the endpoint's model id; holds no GPU) or ``ensemble`` (set by ``members``)."""

    mode: Literal["rubric", "pairwise", "four-way"] | None = None
    """Judge protocol (default ``rubric``): ``rubric`` scores each response alone on an additive 0-5 rubric
    (the output ends with ``Score: N``; 1-10 ratings with ``protocol: rewardbench``); ``pairwise`` shows both
    responses and asks for ``[[A]]`` or ``[[B]]``; ``four-way`` (RewardBench 2) shows the first chosen and three
    rejected completions in a seeded random order and asks for ``[[A]]``..``[[D]]``, and rates every completion
    of a ``Ties`` row alone (1-10), as the reference's ``run_generative_v2.py``."""

    protocol: Literal["default", "rewardbench"] | None = None
    """Verdict semantics (default ``default``): ``default`` counts an output naming several labels as
    unparseable, rubric scores 0-5, ``max_new_tokens`` 512 and prompts cut to ``max_length``; ``rewardbench`` is
    the reference's: the first label it checks wins (``[[A]]`` before ``[[B]]``...), ratings 1-10 (a failed
    rating is -1, as there), ``max_new_tokens`` 2048 and no prompt truncation."""

    base_url: str | None = None
    """``backend: openai``: the endpoint's base URL up to ``/v1`` (e.g. ``https://api.openai.com/v1`` or
    ``http://127.0.0.1:8000/v1``); requests go to ``<base_url>/chat/completions``."""

    api_key_env: str | None = None
    """``backend: openai``: the name of the environment variable holding the API key (default
    ``OPENAI_API_KEY``), read by the scoring actor; the key itself is never written to records, manifests, logs
    or cache keys. A missing variable fails the model before any request (a server that needs no key takes any
    value, e.g. ``EMPTY``)."""

    api: ApiSettings | None = None
    """``backend: openai``: concurrency, rate limits, timeouts, retries, circuit breaker and prices
    (:class:`~orchestrator.config._judge_api.ApiSettings`; its defaults when left out)."""

    fallback_parser: FallbackParser | None = None
    """A second, cheap judge call that extracts the verdict when an output does not parse (any backend;
    :class:`~orchestrator.config._judge_api.FallbackParser`): ``path``, ``base_url``, ``api_key_env``,
    ``template``, ``max_new_tokens``, ``api``. Default none: an unparseable output stays a parse failure. An
    ensemble takes it on its members, not on itself."""

    members: list[str] | None = Field(default=None, min_length=2)
    """An ensemble judge (PoLL-style): the names of other ``kind: judge`` models of this job, all in this
    model's ``mode``; each member judges every example (its outputs are kept in this model's records, marked with
    the member's name) and the verdict is the members' majority (:mod:`orchestrator.scoring.judge_ensemble`).
    Leave ``path`` and ``backend`` out."""

    member_specs: list[dict[str, Any]] | None = None
    """Set by the job from ``members`` (each member's full settings, so the ensemble's actor can load them and
    the score cache sees them); do not write it yourself."""

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

    @field_validator("template")
    @classmethod
    def _template_file(cls, value: str | None) -> str | None:
        return existing_file(value, "judge template")

    @model_validator(mode="before")
    @classmethod
    def _ensemble_path(cls, data: Any) -> Any:
        """An ensemble loads no model of its own: its ``path`` names its members, its backend is ``ensemble``."""
        if isinstance(data, dict) and data.get("members") is not None:
            members = data["members"]
            if isinstance(members, list) and all(isinstance(m, str) for m in members):
                derived = "ensemble:" + ",".join(members)
                if data.get("path", derived) != derived:  # a dumped spec carries the derived path
                    raise ValueError("path: an ensemble judges through its `members`; leave `path` out")
                if data.get("backend", "ensemble") != "ensemble":
                    raise ValueError("backend: an ensemble's members have their own backends; leave it out")
                data = {**data, "path": derived, "backend": "ensemble"}
        return data

    @model_validator(mode="after")
    def _protocol_keys(self) -> JudgeSpec:
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
        if self.backend == "ensemble" and self.members is None:
            raise ValueError("backend: ensemble is set by `members` (the judges it combines)")
        if self.backend == "ensemble" and self.fallback_parser is not None:
            raise ValueError(
                "fallback_parser: an ensemble parses nothing itself; give the fallback parser to its members"
            )
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

    def preflight(self) -> str | None:
        """API judges and ensembles load no model directory (an API judge's key is checked by its actor)."""
        if self.backend in ("openai", "ensemble"):
            return None
        return super().preflight()
