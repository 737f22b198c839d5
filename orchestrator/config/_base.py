"""What every model kind shares: the strict base, the name rule, the common model settings, and the
registry of model kinds (a discriminated union on ``kind``, resolved when a job is validated)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SerializeAsAny,
    ValidationError,
    WrapValidator,
    field_validator,
)
from pydantic_core import InitErrorDetails, PydanticCustomError

_HUB_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*(/[A-Za-z0-9][A-Za-z0-9._-]*)?$")
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/+=@-]*$")

DEFAULT_KIND = "classifier"


def check_name(value: str, what: str) -> str:
    """Names become record values and (encoded) directory names: keep them safe."""
    if not _NAME_RE.match(value) or any(part in ("", ".", "..") for part in value.split("/")):
        raise ValueError(
            f"invalid {what} {value!r}: use letters, digits and . _ - / + = @, "
            "starting with a letter or digit, with no empty, '.' or '..' path parts"
        )
    return value


class Strict(BaseModel):
    """Every config model: unknown keys are errors, values are immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class ModelBase(Strict):
    """Settings every reward-model kind takes. Each kind is a subclass with its own ``kind`` literal and
    settings, registered with :func:`register_model_kind`.

    Every field is part of the score cache's key unless listed in
    :data:`orchestrator.results.cache.SPEED_ONLY_FIELDS` (names and pure-speed knobs).
    """

    kind_doc: ClassVar[str] = ""

    name: str
    """Name used in records and the leaderboard (unique within the job)."""

    path: str
    """Local model directory or Hugging Face hub id."""

    kind: str
    """Reward-model family: ``classifier`` = sequence-classification head, raw logit is the score;
    ``dpo`` = implicit reward of a policy against a reference (DPO, SPIN iterations);
    ``judge`` = a generative model judging responses (LLM-as-a-judge); more kinds register themselves."""

    backend: Literal["transformers", "vllm"] = "transformers"
    """Inference engine: ``transformers`` (CPU and GPU) or ``vllm`` (needs the ``vllm`` package)."""

    tensor_parallel_size: int = Field(default=1, ge=1)
    """GPUs one replica of this model spans (vLLM tensor parallelism); with GPU actors each of its
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
        return check_name(value, "model name")

    def expand(self) -> list[ModelBase]:
        """The models this entry evaluates (one; a kind with chains, as dpo, may give several)."""
        return [self]

    def preflight(self) -> str | None:
        """A clear error for a model path that can be neither a local model directory nor a hub id (checked by
        the driver before any actor starts; kinds whose ``path`` is not a checkpoint override this)."""
        path = Path(self.path).expanduser()
        if path.exists():
            if not path.is_dir():
                return f"model {self.name!r}: {self.path!r} is a file; expected a model directory or hub id"
            if not (path / "config.json").is_file():
                return f"model {self.name!r}: {self.path!r} has no config.json; not a transformers model directory"
            return None
        if looks_like_local_path(self.path) or not _HUB_ID.match(self.path):
            return f"model {self.name!r}: model directory {self.path!r} not found"
        return None


def looks_like_local_path(value: str) -> bool:
    """Whether a model path names a local directory rather than a hub id: it starts with ``.``, ``/`` or
    ``~``, has more than two parts, or its first part is an existing local directory (``models/x`` beside
    a ``models/`` directory is a path, never the hub's ``models/x``)."""
    if value.startswith((".", "/", "~")) or "\\" in value:
        return True
    parts = value.split("/")
    if len(parts) > 2:
        return True
    return len(parts) == 2 and Path(parts[0]).is_dir()


_KINDS: dict[str, type[ModelBase]] = {}


def register_model_kind(cls: type[ModelBase]) -> type[ModelBase]:
    """Register a model kind's config class (usable as a class decorator). Its ``kind`` field must be a
    ``Literal`` of one name; a job's ``models[]`` entry with that ``kind`` validates as this class."""
    field = cls.model_fields.get("kind")
    args: tuple[Any, ...] = getattr(field.annotation, "__args__", ()) if field is not None else ()
    if len(args) != 1 or not isinstance(args[0], str):
        raise TypeError(f"{cls.__name__}.kind must be a Literal of one kind name")
    _KINDS[args[0]] = cls
    return cls


def model_kinds() -> dict[str, type[ModelBase]]:
    """Registered kind name -> config class."""
    _load_builtin_kinds()
    return dict(_KINDS)


def _load_builtin_kinds() -> None:
    if "classifier" not in _KINDS:
        import orchestrator.config._kinds  # noqa: F401  (registers classifier, dpo, judge)


def _foreign_key_error(key: str, kind: str, data: Any) -> InitErrorDetails | None:
    """A key that belongs to another kind's settings: say which kind takes it."""
    owners = [name for name, other in _KINDS.items() if name != kind and key in other.model_fields]
    if not owners:
        return None
    return {
        "type": PydanticCustomError(
            "foreign_key",
            "only for kind {owners}, not {kind}",
            {"owners": " or ".join(owners), "kind": repr(kind)},
        ),
        "loc": (key,),
        "input": data.get(key),
    }


def _dispatch(value: Any, handler: Any) -> ModelBase:
    """Validate a ``models[]`` entry as its kind's class (``classifier`` when ``kind`` is left out)."""
    if isinstance(value, ModelBase):
        return value
    if not isinstance(value, dict):
        return handler(value)  # the base class reports the type error
    _load_builtin_kinds()
    kind = value.get("kind", DEFAULT_KIND)
    cls = _KINDS.get(kind) if isinstance(kind, str) else None
    if cls is None:
        known = ", ".join(sorted(_KINDS))
        raise ValidationError.from_exception_data(
            "ModelSpec",
            [
                {
                    "type": PydanticCustomError(
                        "unknown_kind",
                        "unknown kind {kind} (known: {known})",
                        {"kind": repr(kind), "known": known},
                    ),
                    "loc": ("kind",),
                    "input": kind,
                }
            ],
        )
    foreign = [e for k in value if k not in cls.model_fields and (e := _foreign_key_error(k, kind, value))]
    if foreign:
        raise ValidationError.from_exception_data("ModelSpec", foreign)
    return cls.model_validate({**value, "kind": kind})


ModelSpec = Annotated[SerializeAsAny[ModelBase], WrapValidator(_dispatch)]
"""A ``models[]`` entry: validated as the registered class of its ``kind`` (use as a field annotation)."""


def model_spec(data: dict[str, Any] | ModelBase | None = None, /, **fields: Any) -> ModelBase:
    """Build a model spec of the right kind from a mapping or keywords (``model_spec(name=..., path=...)``)."""
    from pydantic import TypeAdapter

    if isinstance(data, ModelBase):
        return data
    return TypeAdapter(ModelSpec).validate_python({**(data or {}), **fields})


def existing_file(value: str | None, what: str) -> str | None:
    if value is not None and not Path(value).expanduser().is_file():
        raise ValueError(f"{what} file not found: {value!r}")
    return value
