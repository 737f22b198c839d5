"""The built-in model kinds' settings: ``classifier``, ``dpo`` (implicit rewards, SPIN chains) and
``judge`` (LLM-as-a-judge). Each is one class registered with :func:`register_model_kind`."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, ValidationInfo, field_validator, model_validator

from orchestrator.config._base import ModelBase, existing_file, register_model_kind


@register_model_kind
class ClassifierSpec(ModelBase):
    """A sequence-classification reward model: the head's raw logit of the last non-pad token is the score."""

    kind: Literal["classifier"] = "classifier"
    """``classifier``: a sequence-classification head gives a scalar score (the default kind)."""


@register_model_kind
class DPOSpec(ModelBase):
    """An implicit (DPO) reward model: ``beta * (log pi(y|x) - log pi_ref(y|x))`` over the completion tokens."""

    kind: Literal["dpo"] = "dpo"
    """``dpo``: the implicit reward of a policy against a reference (DPO, SPIN iterations)."""

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
    """A generative model judging responses (LLM-as-a-judge), in-process on transformers or vLLM."""

    kind: Literal["judge"] = "judge"
    """``judge``: a generative model rates each response (rubric) or picks the better one (pairwise)."""

    mode: Literal["rubric", "pairwise"] | None = None
    """Judge protocol (default ``rubric``): ``rubric`` scores each response alone on an additive 0-5 rubric
    (the output ends with ``Score: N``); ``pairwise`` shows both responses and asks for ``[[A]]`` or ``[[B]]``."""

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

    @model_validator(mode="after")
    def _protocol_keys(self) -> JudgeSpec:
        mode = self.mode or "rubric"
        if mode == "rubric" and self.order is not None:
            raise ValueError("order: only for mode pairwise (a rubric judge sees one response at a time)")
        if mode == "pairwise" and self.samples is not None:
            raise ValueError("samples: only for mode rubric (a pairwise judge gives one verdict per order)")
        greedy = not self.temperature
        if greedy and (self.samples or 1) > 1:
            raise ValueError("samples: more than one draw needs temperature > 0 (greedy draws are identical)")
        if greedy and self.top_p is not None and self.top_p < 1:
            raise ValueError("top_p: needs temperature > 0 (greedy decoding ignores it)")
        return self
