"""Sequence-classifier reward models on transformers: the raw logit is the score.

Importable and usable without Ray (benchmarks on a bare GPU machine use it directly).
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from orchestrator._lazy import require
from orchestrator.config import ModelSpec
from orchestrator.errors import ModelError
from orchestrator.runtime.faults import oom_threshold, simulated_oom
from orchestrator.scoring import named_templates
from orchestrator.scoring.columns import list_columns, pair_columns
from orchestrator.scoring.formatting import Encoded, format_conversations, resolve_chat_template
from orchestrator.scoring.load_check import load_with_report
from orchestrator.scoring.prefetch import padded_batches, prefetch
from orchestrator.scoring.token_cache import TokenCache, resolve_cache_dir
from orchestrator.scoring.tokenizer_file import match_tokenizer_file

logger = logging.getLogger(__name__)

_DTYPES = {"float32": "float32", "bfloat16": "bfloat16", "float16": "float16"}


@dataclass
class PairScores:
    """Scores of chosen and rejected completions, aligned with the input pairs."""

    score_chosen: np.ndarray
    score_rejected: np.ndarray
    tokens_chosen: np.ndarray
    tokens_rejected: np.ndarray

    @property
    def correct(self) -> np.ndarray:
        """RewardBench's rule: chosen must score strictly higher (a tie is wrong)."""
        return self.score_chosen > self.score_rejected


@dataclass
class ModelInfo:
    """What the manifest records about a loaded model."""

    path: str
    revision: str | None
    fingerprint: str
    dtype: str
    device: str
    load_seconds: float
    num_parameters: int
    extra: dict[str, Any] = field(default_factory=dict)


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


def model_fingerprint(path: str, revision: str | None = None) -> str:
    """A stable identity for a model: every file's name and size, the content of its small files
    (config, tokenizer, chat template, small weights), and size + mtime of weight files over 8 MiB
    and of any file over 64 MiB; hidden entries (``.git``, ``.cache``) are skipped. Cheap on big
    models: it reads only the small files (a few MB for an 8B model). For a hub id: id@revision.
    """
    local = Path(path).expanduser()
    if not local.is_dir():
        return f"hub:{path}@{revision or 'main'}"
    digest = hashlib.sha256()
    files = (
        p for p in local.rglob("*") if not any(part.startswith(".") for part in p.relative_to(local).parts)
    )
    for file in sorted(p for p in files if p.is_file()):
        stat = file.stat()
        digest.update(f"{file.relative_to(local).as_posix()}:{stat.st_size}\n".encode())
        big = stat.st_size > (8 << 20 if file.suffix in _WEIGHT_SUFFIXES else 64 << 20)
        if big:
            digest.update(str(stat.st_mtime_ns).encode())
        else:
            digest.update(file.read_bytes())
    return "sha256:" + digest.hexdigest()


def is_causal_decoder(model) -> bool:
    """True for decoder-only models with causal attention that take ``position_ids``."""
    import inspect

    from transformers.models.auto.modeling_auto import MODEL_FOR_CAUSAL_LM_MAPPING_NAMES

    if model.config.model_type not in MODEL_FOR_CAUSAL_LM_MAPPING_NAMES:
        return False
    if getattr(model.config, "is_encoder_decoder", False):
        return False
    return "position_ids" in inspect.signature(model.forward).parameters


def load_tokenizer(spec: ModelSpec):
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
        # the reference's run_rm.py: fastchat's `tulu` when the tokenizer has none and none is named
        template = resolve_chat_template(named_templates.DEFAULT)
        logger.info(
            "model %s: tokenizer has no chat template; using %r as the reference does", spec.name, "tulu"
        )
    if template is not None:
        tokenizer.chat_template = template
    if not own_template:
        # ... which then sets add_eos_token = True (effective on some tokenizer classes only)
        named_templates.apply_reference_eos(tokenizer, source)
    return tokenizer


class ClassifierScorer:
    """Loads one sequence-classification RM once and scores many (prompt, completion) pairs.

    Fast path: token ids cached per (tokenizer, texts) (:class:`TokenCache`), length-sorted
    batches under a token budget built and pinned by a background thread, non-blocking copies
    to the device, logits gathered on the device and copied back once per call; weights loaded
    straight to the device in the target dtype (bf16 on GPU by default).
    """

    def __init__(self, spec: ModelSpec, device: str = "cpu"):
        torch = require("torch")
        self.spec = spec
        self.device = device
        start = time.perf_counter()
        self.tokenizer = load_tokenizer(spec)
        self.token_cache = TokenCache(resolve_cache_dir(spec.token_cache))
        tokenizer_seconds = time.perf_counter() - start
        dtype_name = resolve_dtype(spec, device)
        model_start = time.perf_counter()
        model = load_pretrained("AutoModelForSequenceClassification", spec, device, dtype_name)
        if device.startswith("cuda"):
            torch.cuda.synchronize(device)
        model_seconds = time.perf_counter() - model_start
        self.model = model
        # The reference's fallbacks: pad = eos when the tokenizer has none; config follows the tokenizer.
        if self.tokenizer.pad_token_id is None:
            self.tokenizer.pad_token_id = self.tokenizer.eos_token_id
            model.config.pad_token_id = self.tokenizer.eos_token_id
        if model.config.pad_token_id is None:
            model.config.pad_token_id = self.tokenizer.pad_token_id
        if self.tokenizer.pad_token_id is None:
            raise ModelError(f"model {spec.name!r}: tokenizer has neither a pad nor an eos token")
        if model.config.num_labels != 1:
            raise ModelError(
                f"model {spec.name!r}: has {model.config.num_labels} output labels; "
                "a classifier reward model must have exactly one (its raw logit is the score)"
            )
        self.causal = is_causal_decoder(model)
        self._batch_tokens: int | None = None
        self._oom_above = oom_threshold()  # test hook, see orchestrator.runtime.faults
        self.info = ModelInfo(
            path=spec.path,
            revision=spec.revision or getattr(model.config, "_commit_hash", None),
            fingerprint=model_fingerprint(spec.path, spec.revision),
            dtype=dtype_name,
            device=device,
            load_seconds=time.perf_counter() - start,
            num_parameters=sum(p.numel() for p in model.parameters()),
            extra={
                "tokenizer_load_seconds": round(tokenizer_seconds, 4),
                "model_load_seconds": round(model_seconds, 4),
                "attn_implementation": getattr(model.config, "_attn_implementation", None),
            },
        )

    @property
    def batch_tokens(self) -> int:
        """Token budget of one padded batch: the job's, else 65536 on GPU and 8192 on CPU; the worker halves it
        after an out-of-memory error."""
        if self._batch_tokens is not None:
            return self._batch_tokens
        if self.spec.batch_tokens is not None:
            return self.spec.batch_tokens
        return 65536 if self.device.startswith("cuda") else 8192

    @batch_tokens.setter
    def batch_tokens(self, value: int) -> None:
        self._batch_tokens = value

    def score_texts(self, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """Raw scores and token counts (as the reference counts them) of formatted texts, in input order."""
        enc = self.token_cache.encode(self.tokenizer, texts, self.spec.max_length)
        return self.score_encoded(enc), np.asarray(enc.lengths, dtype=np.int32)

    def batches(self, enc: Encoded):
        """The padded batches :meth:`score_encoded` runs, in order (built on the calling thread)."""
        if self.causal:
            # Causal decoder: right padding never reaches real tokens under a causal mask, so no
            # padding mask is needed (SDPA takes its fused causal kernel). A masked doubled BOS is
            # dropped and the positions start at 1 instead: the same computation as the reference.
            seqs = [ids[1:] if masked else ids for ids, masked in zip(enc.input_ids, enc.first_masked)]
            offsets = [1 if masked else 0 for masked in enc.first_masked]
        else:
            seqs, offsets = enc.input_ids, None
        return padded_batches(
            seqs,
            self.tokenizer.pad_token_id,
            self.batch_tokens,
            causal=self.causal,
            offsets=offsets,
            first_masked=enc.first_masked,
            pin_memory=self.device.startswith("cuda"),
        )

    def score_encoded(self, enc: Encoded) -> np.ndarray:
        """Scores of tokenized sequences, batched longest-first under the token budget.

        The next batch is padded (and pinned) by a background thread while the current one runs;
        each score is the model's own pooled logit (its rightmost non-pad token). An out-of-memory error
        carries the failing batch's row count as ``batch_rows``.
        """
        torch = require("torch")
        scores = np.empty(len(enc.input_ids), dtype=np.float64)
        order: list[list[int]] = []
        logits = []
        with torch.inference_mode():
            for batch in prefetch(self.batches(enc), depth=self.spec.prefetch_batches):
                try:
                    if self._oom_above is not None and batch.inputs["input_ids"].numel() > self._oom_above:
                        raise simulated_oom(batch.inputs["input_ids"].numel(), self._oom_above)
                    inputs = {k: v.to(self.device, non_blocking=True) for k, v in batch.inputs.items()}
                    out = self.model(**inputs)
                except torch.OutOfMemoryError as exc:
                    exc.batch_rows = len(batch.indices)
                    raise
                logits.append(out.logits[:, 0].float())
                order.append(batch.indices)
            if logits:
                # one device-to-host copy at the end: no per-batch synchronisation
                values = torch.cat(logits).cpu().numpy()
                scores[[i for batch in order for i in batch]] = values
        return scores

    def score_pairs(
        self, prompts: Sequence[Any], chosen: Sequence[str], rejected: Sequence[str]
    ) -> PairScores:
        """Score chosen and rejected completions of each prompt in one length-sorted pass."""
        n = len(prompts)
        texts = format_conversations(self.tokenizer, list(prompts) * 2, list(chosen) + list(rejected))
        scores, tokens = self.score_texts(texts)
        return PairScores(scores[:n], scores[n:], tokens[:n], tokens[n:])

    backend = "transformers"

    def score_completions(
        self, prompts: Sequence[Any], completions: Sequence[str]
    ) -> tuple[np.ndarray, np.ndarray]:
        """Raw scores and token counts of (prompt, completion) conversations, in input order."""
        return self.score_texts(format_conversations(self.tokenizer, list(prompts), list(completions)))

    def pair_columns(
        self, prompts: Sequence[Any], chosen: Sequence[str], rejected: Sequence[str]
    ) -> dict[str, Any]:
        """Record columns for preference pairs (see :mod:`orchestrator.scoring.columns`)."""
        return pair_columns(self.score_completions, prompts, chosen, rejected)

    def list_columns(
        self, prompts: Sequence[Any], chosen: Sequence[Sequence[str]], rejected: Sequence[Sequence[str]]
    ) -> dict[str, Any]:
        """Record columns for best-of-N rows (see :mod:`orchestrator.scoring.columns`)."""
        return list_columns(self.score_completions, prompts, chosen, rejected)
