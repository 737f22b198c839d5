"""Implicit (DPO) rewards on transformers: ``beta * (log pi(y|x) - log pi_ref(y|x))`` over completion tokens.

The policy and its reference are causal LMs; both read the same token ids
(:mod:`orchestrator.scoring.dpo_tokens`, the reference implementation's tokenization with the
policy's tokenizer). Without a reference, ``ref_free_norm`` reduces the policy's per-token
log-probs as ``run_dpo.py --ref_free_type`` does (``sum``, ``avg``, ``norm`` = minus the L2 norm).
Records keep the four log-prob sums and the completion token counts.

Importable and usable without Ray.
"""

from __future__ import annotations

import inspect
import logging
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from orchestrator._lazy import require
from orchestrator.config import DPOSpec
from orchestrator.errors import ModelError
from orchestrator.scoring._hf import (
    load_pretrained,
    load_tokenizer,
    loaded_model_info,
    model_fingerprint,
    resolve_dtype,
)
from orchestrator.scoring.columns import list_columns
from orchestrator.scoring.dpo_tokens import DPOSequence, tokenize, tokenize_pairs
from orchestrator.scoring.prefetch import padded_batches, prefetch

logger = logging.getLogger(__name__)

LogpFn = Callable[[Sequence[DPOSequence]], list[np.ndarray]]
"""token sequences -> each sequence's per-token log-probs of its completion ids (float32)."""


def reduce_logps(per_token: np.ndarray, mode: str) -> float:
    """One sequence's completion log-probs reduced as the reference does: ``sum``, ``avg`` or ``norm``."""
    values = np.asarray(per_token, dtype=np.float64)
    if mode == "sum":
        return float(values.sum())
    if mode == "avg":
        return float(values.sum() / len(values)) if len(values) else float("nan")
    if mode == "norm":
        return float(-np.sqrt(np.square(values).sum()))
    raise ValueError(f"unknown ref_free_norm {mode!r}")


class DPOColumns:
    """Record columns of implicit rewards from per-token log-prob functions (shared by every backend)."""

    def __init__(self, spec: DPOSpec, tokenizer, policy: LogpFn, reference: LogpFn | None):
        self.spec = spec
        self.tokenizer = tokenizer
        self.policy = policy
        self.reference = reference

    def _rewards(self, seqs: Sequence[DPOSequence]) -> dict[str, np.ndarray]:
        pol = self.policy(seqs)
        logp = np.asarray([float(np.asarray(x, dtype=np.float64).sum()) for x in pol], dtype=np.float64)
        if self.reference is not None:
            ref = self.reference(seqs)
            ref_logp = np.asarray(
                [float(np.asarray(x, dtype=np.float64).sum()) for x in ref], dtype=np.float64
            )
            score = self.spec.beta * (logp - ref_logp)
        else:
            ref_logp = np.full(len(seqs), np.nan)
            score = self.spec.beta * np.asarray(
                [reduce_logps(x, self.spec.ref_free_norm or "sum") for x in pol], dtype=np.float64
            )
        return {
            "score": score,
            "logp": logp,
            "ref_logp": ref_logp,
            "completion_tokens": np.asarray([len(s.completion_ids) for s in seqs], dtype=np.int32),
            "tokens": np.asarray([len(s.input_ids) for s in seqs], dtype=np.int32),
        }

    def _common(self, n: int) -> dict[str, Any]:
        return {
            "beta": [self.spec.beta] * n,
            "reference": [self.spec.reference] * n,
            "iteration": [self.spec.iteration] * n,
        }

    def pair_columns(
        self, prompts: Sequence[Any], chosen: Sequence[str], rejected: Sequence[str]
    ) -> dict[str, Any]:
        """Record columns for pairs; chosen and rejected truncated together as the reference does."""
        n = len(prompts)
        seqs = tokenize_pairs(self.tokenizer, prompts, chosen, rejected, max_length=self.spec.max_length)
        r = self._rewards(seqs)
        ref_null = self.reference is None
        return {
            "chosen": list(chosen),
            "rejected": list(rejected),
            "score_chosen": r["score"][:n],
            "score_rejected": r["score"][n:],
            "correct": np.asarray(r["score"][:n] > r["score"][n:], dtype=bool),  # a tie is wrong
            "tokens_chosen": r["tokens"][:n],
            "tokens_rejected": r["tokens"][n:],
            "logp_chosen": r["logp"][:n],
            "logp_rejected": r["logp"][n:],
            "ref_logp_chosen": [None] * n if ref_null else r["ref_logp"][:n],
            "ref_logp_rejected": [None] * n if ref_null else r["ref_logp"][n:],
            "completion_tokens_chosen": r["completion_tokens"][:n],
            "completion_tokens_rejected": r["completion_tokens"][n:],
            **self._common(n),
        }

    def list_columns(
        self, prompts: Sequence[Any], chosen: Sequence[Sequence[str]], rejected: Sequence[Sequence[str]]
    ) -> dict[str, Any]:
        """Record columns for best-of-N rows (each completion truncated on its own); the log-prob sums describe
        the first chosen completion and the best-scoring rejected one, as ``score_chosen``/``score_rejected`` do."""
        parts: dict[str, np.ndarray] = {}

        def score(ps: Sequence[Any], texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
            seqs = tokenize(self.tokenizer, ps, texts, max_length=self.spec.max_length)
            parts.update(self._rewards(seqs))
            return parts["score"], parts["tokens"]

        out = list_columns(score, prompts, chosen, rejected)
        keys: dict[str, list[Any]] = {
            k: []
            for k in (
                "logp_chosen",
                "logp_rejected",
                "ref_logp_chosen",
                "ref_logp_rejected",
                "completion_tokens_chosen",
                "completion_tokens_rejected",
            )
        }
        at = 0
        for c, r in zip(chosen, rejected):
            first = at
            best = (
                at + len(c) + int(np.argmax(parts["score"][at + len(c) : at + len(c) + len(r)]))
                if len(r)
                else None
            )
            for side, i in (("chosen", first), ("rejected", best)):
                ref = None if (i is None or self.reference is None) else float(parts["ref_logp"][i])
                keys[f"logp_{side}"].append(None if i is None else float(parts["logp"][i]))
                keys[f"ref_logp_{side}"].append(ref)
                keys[f"completion_tokens_{side}"].append(
                    None if i is None else int(parts["completion_tokens"][i])
                )
            at += len(c) + len(r)
        return {**out, **keys, **self._common(len(prompts))}


def load_causal_lm(spec: DPOSpec, path: str, device: str, dtype_name: str, quantized: bool = False):
    """A causal LM in ``dtype_name`` on ``device`` (see :func:`~orchestrator.scoring.classifier.load_pretrained`);
    ``quantized``: bitsandbytes 8-bit with ``dtype_name`` compute (``profile: reference``, GPUs only)."""
    if quantized:
        from orchestrator.scoring.adapters.scorer import _load_8bit

        return _load_8bit(spec, device, dtype_name, auto_class="AutoModelForCausalLM", path=path)
    return load_pretrained("AutoModelForCausalLM", spec, device, dtype_name, path=path, what="causal LM ")


def dpo_reference_loading(spec: DPOSpec, device: str):
    """``profile: reference``: run_dpo.py's loading of this policy and its reference (one rule, on the policy's
    name), checked against the device (8-bit needs a CUDA GPU); the dtype is float32 on a CPU, where the reference
    passes no ``torch_dtype``."""
    from dataclasses import replace

    from orchestrator.scoring.adapters.profile import check_device, reference_loading

    loading = reference_loading("dpo", spec.path, requested_dtype=spec.dtype)
    check_device(loading, spec.name, device)
    if not device.startswith("cuda"):
        loading = replace(
            loading, dtype="float32", reason=loading.reason + "; float32 on a CPU (no torch_dtype)"
        )
    return loading


class DPOScorer:
    """Loads a policy (and its reference) once and scores many (prompt, completion) pairs by implicit reward.

    Sequences are batched longest-first under a token budget, right-padded without a padding mask
    (causal attention never lets real tokens see the padding, as with the reference's mask), and
    only the logits of the positions that predict completion tokens are computed.
    """

    backend = "transformers"

    def __init__(self, spec: DPOSpec, device: str = "cpu"):
        torch = require("torch")
        if spec.kind != "dpo":
            raise ModelError(f"model {spec.name!r}: DPOScorer needs kind dpo, not {spec.kind!r}")
        self.spec = spec
        self.device = device
        start = time.perf_counter()
        self.tokenizer = load_tokenizer(spec)
        dtype_name = resolve_dtype(spec, device)
        self.loading = None
        if getattr(spec, "profile", "default") == "reference":
            self.loading = dpo_reference_loading(spec, device)
            dtype_name = self.loading.dtype
        quantized = self.loading is not None and self.loading.quantized
        self.model = load_causal_lm(spec, spec.path, device, dtype_name, quantized)
        self.ref_model = (
            load_causal_lm(spec, spec.reference, device, dtype_name, quantized) if spec.reference else None
        )
        if self.ref_model is not None:
            if (
                self.ref_model.get_output_embeddings().weight.shape[0]
                != self.model.get_output_embeddings().weight.shape[0]
            ):
                raise ModelError(
                    f"model {spec.name!r}: reference {spec.reference!r} has a different vocabulary size than the "
                    "policy; both read the policy's token ids"
                )
        if device.startswith("cuda"):
            torch.cuda.synchronize(device)
        self.columns = DPOColumns(
            spec,
            self.tokenizer,
            self._logp_fn(self.model),
            self._logp_fn(self.ref_model) if self.ref_model is not None else None,
        )
        self.info = loaded_model_info(
            spec,
            self.model,
            dtype=dtype_name,
            device=device,
            start=start,
            extra={
                "reference": spec.reference,
                "reference_fingerprint": model_fingerprint(spec.reference) if spec.reference else None,
                "ref_free_norm": spec.ref_free_norm,
                "beta": spec.beta,
                "iteration": spec.iteration,
                "profile": getattr(spec, "profile", "default"),
                "reference_loading": None if self.loading is None else self.loading.reason,
            },
        )

    @property
    def batch_tokens(self) -> int:
        """Token budget per batch; smaller than a classifier's since every kept position carries a vocabulary row."""
        if self.spec.batch_tokens is not None:
            return self.spec.batch_tokens
        return 16384 if self.device.startswith("cuda") else 8192

    def _logp_fn(self, model) -> LogpFn:
        keep = "logits_to_keep" in inspect.signature(model.forward).parameters

        def fn(seqs: Sequence[DPOSequence]) -> list[np.ndarray]:
            return self.completion_logps(model, seqs, keep_logits=keep)

        return fn

    def completion_logps(
        self, model, seqs: Sequence[DPOSequence], keep_logits: bool = True
    ) -> list[np.ndarray]:
        """Per-token log-probs (float32) of each sequence's completion ids under ``model``, in input order."""
        torch = require("torch")
        ids = [s.input_ids for s in seqs]
        starts = [s.start for s in seqs]
        out: list[np.ndarray] = [np.empty(0, dtype=np.float32)] * len(seqs)
        pieces, order = [], []
        pad = self.tokenizer.eos_token_id
        with torch.inference_mode():
            batches = padded_batches(
                ids, pad, self.batch_tokens, causal=True, pin_memory=self.device.startswith("cuda")
            )
            for batch in prefetch(batches, depth=self.spec.prefetch_batches):
                inputs = {k: v.to(self.device, non_blocking=True) for k, v in batch.inputs.items()}
                width = inputs["input_ids"].shape[1]
                first = (
                    min(starts[i] for i in batch.indices) - 1
                )  # earliest position predicting a completion token
                kwargs = {"logits_to_keep": width - first} if keep_logits else {}
                logits = model(**inputs, **kwargs).logits
                offset = first if keep_logits else 0
                for row, i in enumerate(batch.indices):
                    n = len(ids[i])
                    rows = logits[row, starts[i] - 1 - offset : n - 1 - offset].float()
                    targets = inputs["input_ids"][row, starts[i] : n]
                    pieces.append(rows.log_softmax(-1).gather(-1, targets[:, None]).squeeze(-1))
                    order.append(i)
            if pieces:
                # one device-to-host copy at the end
                flat = torch.cat(pieces).cpu().numpy()
                at = 0
                for i in order:
                    k = len(ids[i]) - starts[i]
                    out[i] = flat[at : at + k]
                    at += k
        return out

    def pair_columns(
        self, prompts: Sequence[Any], chosen: Sequence[str], rejected: Sequence[str]
    ) -> dict[str, Any]:
        """Record columns for preference pairs (see :mod:`orchestrator.scoring.columns`), with the dpo fields."""
        return self.columns.pair_columns(prompts, chosen, rejected)

    def list_columns(
        self, prompts: Sequence[Any], chosen: Sequence[Sequence[str]], rejected: Sequence[Sequence[str]]
    ) -> dict[str, Any]:
        """Record columns for best-of-N rows, with the dpo fields."""
        return self.columns.list_columns(prompts, chosen, rejected)
