"""Shared transformers helpers for every scorer: device and dtype choice, the one pretrained-model loader,
tokenizer loading, and model fingerprints."""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path
from typing import Any

from orchestrator._lazy import require
from orchestrator.config import ModelSpec
from orchestrator.errors import ModelError
from orchestrator.scoring import named_templates
from orchestrator.scoring._protocol import ModelInfo
from orchestrator.scoring.formatting import resolve_chat_template
from orchestrator.scoring.load_check import load_with_report
from orchestrator.scoring.tokenizer_file import match_tokenizer_file

logger = logging.getLogger(__name__)

_DTYPES = {"float32": "float32", "bfloat16": "bfloat16", "float16": "float16"}


def _has_accelerate() -> bool:
    import importlib.util

    return importlib.util.find_spec("accelerate") is not None


def default_attn_implementation(device: str, dtype_name: str) -> str | None:
    """Flash attention 2 on a GPU in half precision when the package is installed; otherwise
    transformers' own choice (SDPA where the architecture supports it, eager where it needs to,
    e.g. Gemma-2's attention-logit soft-capping)."""
    import importlib.util

    if not device.startswith("cuda"):
        return None
    if dtype_name in ("bfloat16", "float16") and importlib.util.find_spec("flash_attn") is not None:
        return "flash_attention_2"
    return None


def pick_device(want_gpu: bool) -> str:
    torch = require("torch")
    return "cuda" if want_gpu and torch.cuda.is_available() else "cpu"


_WEIGHT_SUFFIXES = (
    ".safetensors",
    ".bin",
    ".pt",
    ".pth",
    ".ckpt",
    ".gguf",
    ".h5",
    ".msgpack",
    ".onnx",
    ".npz",
    ".pkl",
)


def resolve_dtype(spec: ModelSpec, device: str) -> str:
    """The weights dtype: the spec's, or ``auto`` = bfloat16 on a GPU and float32 on the CPU."""
    return spec.dtype if spec.dtype != "auto" else ("bfloat16" if device.startswith("cuda") else "float32")


def load_pretrained(
    auto_class: str, spec: ModelSpec, device: str, dtype_name: str, path: str | None = None, what: str = ""
):
    """A transformers model (``auto_class``, e.g. ``AutoModelForSequenceClassification``) of ``spec`` -- or of
    ``path``, e.g. a DPO reference -- in ``dtype_name`` on ``device``, in eval mode: weights straight to the device
    when accelerate is installed, flash attention 2 where :func:`default_attn_implementation` picks it (falling back
    to transformers' own choice when it cannot load). Failures raise :class:`ModelError` naming the model; so does
    any weight the checkpoint lacks, has extra or has in another shape (:mod:`orchestrator.scoring.load_check`)."""
    torch = require("torch")
    transformers = require("transformers")
    path = path or spec.path
    kwargs: dict[str, Any] = {
        "revision": spec.revision if path == spec.path else None,
        "trust_remote_code": spec.trust_remote_code,
        "dtype": getattr(torch, _DTYPES[dtype_name]),
    }
    attn = spec.attn_implementation or default_attn_implementation(device, dtype_name)
    if attn:
        kwargs["attn_implementation"] = attn
    if _has_accelerate():
        # safetensors straight to the device in the target dtype (no CPU copy first)
        kwargs["device_map"] = device
    loader = getattr(transformers, auto_class)

    def load():
        # any missing, unexpected or mis-shaped weight fails the model (never a random head)
        return load_with_report(loader, path, model_name=spec.name, auto_class=auto_class, **kwargs)

    try:
        try:
            model = load()
        except (ImportError, ValueError) as exc:
            if spec.attn_implementation or attn != "flash_attention_2":
                raise
            logger.info(
                "flash attention unavailable for %s (%s); using transformers' default", spec.name, exc
            )
            del kwargs["attn_implementation"]
            model = load()
    except ModelError:
        raise
    except Exception as exc:
        raise ModelError(f"model {spec.name!r}: cannot load {what}{path!r}: {exc}") from None
    return model.to(device).eval()


def loaded_model_info(
    spec: Any,
    model: Any,
    *,
    dtype: str,
    device: str,
    start: float,
    extra: dict[str, Any] | None = None,
    fingerprint: str | None = None,
) -> ModelInfo:
    """The :class:`~orchestrator.scoring.ModelInfo` of a transformers model loaded since ``start``
    (``time.perf_counter()``): the revision asked for or the one the hub resolved, the model's fingerprint (or
    ``fingerprint``, when the scorer folds its settings in), and its parameter count."""
    import time

    return ModelInfo(
        path=spec.path,
        revision=spec.revision or getattr(model.config, "_commit_hash", None),
        fingerprint=fingerprint or model_fingerprint(spec.path, spec.revision),
        dtype=dtype,
        device=device,
        load_seconds=time.perf_counter() - start,
        num_parameters=sum(p.numel() for p in model.parameters()),
        extra=dict(extra or {}),
    )


def model_fingerprint(path: str, revision: str | None = None) -> str:
    """A stable identity for a model: every file's name and size, the content of its small files
    (config, tokenizer, chat template, small weights), and size + mtime of weight files over 8 MiB
    and of any file over 64 MiB; hidden entries (``.git``, ``.cache``) are skipped. Cheap on big
    models: it reads only the small files (a few MB for an 8B model). For a hub id: id@revision.
    """
    local = Path(path).expanduser()
    if not local.is_dir():
        return f"hub:{path}@{revision or 'main'}"
    files = (
        p for p in local.rglob("*") if not any(part.startswith(".") for part in p.relative_to(local).parts)
    )
    listed = [(file, file.stat()) for file in sorted(p for p in files if p.is_file())]
    # the same files (names, sizes, mtimes) as last time in this process: the same content, not read again
    signature = (str(local.resolve()), tuple((str(f), st.st_size, st.st_mtime_ns) for f, st in listed))
    found = _FINGERPRINTS.get(signature)
    if found is not None:
        return found
    digest = hashlib.sha256()
    for file, stat in listed:
        digest.update(f"{file.relative_to(local).as_posix()}:{stat.st_size}\n".encode())
        big = stat.st_size > (8 << 20 if file.suffix in _WEIGHT_SUFFIXES else 64 << 20)
        if big:
            digest.update(str(stat.st_mtime_ns).encode())
        else:
            digest.update(file.read_bytes())
    out = "sha256:" + digest.hexdigest()
    if len(_FINGERPRINTS) >= 256:
        _FINGERPRINTS.clear()
    _FINGERPRINTS[signature] = out
    return out


_FINGERPRINTS: dict[tuple[str, tuple[tuple[str, int, int], ...]], str] = {}
"""Fingerprints computed in this process, by the directory and every file's name, size and mtime."""


def is_causal_decoder(model) -> bool:
    """True for decoder-only models with causal attention that take ``position_ids``."""
    import inspect

    from transformers.models.auto.modeling_auto import MODEL_FOR_CAUSAL_LM_MAPPING_NAMES

    if model.config.model_type not in MODEL_FOR_CAUSAL_LM_MAPPING_NAMES:
        return False
    if getattr(model.config, "is_encoder_decoder", False):
        return False
    return "position_ids" in inspect.signature(model.forward).parameters


def load_tokenizer(spec: ModelSpec, default_template: str | None = None):
    """The model's tokenizer, formatted as the reference does: its own chat template, else the job's
    ``chat_template``, else ``default_template`` (a family's named template, e.g. ``openbmb``; see
    :mod:`orchestrator.scoring.adapters`), else ``tulu``; EOS appended where the reference's ``add_eos_token``
    takes effect when the tokenizer has no template of its own."""
    transformers = require("transformers")
    source = spec.tokenizer or spec.path
    try:
        tokenizer = transformers.AutoTokenizer.from_pretrained(
            source, revision=spec.revision, trust_remote_code=spec.trust_remote_code
        )
    except Exception as exc:
        raise ModelError(f"model {spec.name!r}: cannot load tokenizer from {source!r}: {exc}") from None
    # the reference's transformers 4.x runs tokenizer.json verbatim; 5.x may rebuild it per model family
    tokenizer = match_tokenizer_file(tokenizer, source, spec.revision, spec.trust_remote_code)
    tokenizer.truncation_side = spec.truncation_side
    own_template = getattr(tokenizer, "chat_template", None) is not None
    template = resolve_chat_template(spec.chat_template)
    if template is None and not own_template:
        # the reference's run_rm.py: the family's template of its eval config, else fastchat's `tulu`
        name = default_template or named_templates.DEFAULT
        template = resolve_chat_template(name)
        logger.info(
            "model %s: tokenizer has no chat template; using %r as the reference does", spec.name, name
        )
    if template is not None:
        tokenizer.chat_template = template
    if not own_template:
        # ... which then sets add_eos_token = True (effective on some tokenizer classes only)
        named_templates.apply_reference_eos(tokenizer, source)
    return tokenizer
