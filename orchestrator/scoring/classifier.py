"""Sequence-classifier reward models on transformers: the raw logit is the score.

Importable and usable without Ray (benchmarks on a bare GPU machine use it directly).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from orchestrator._lazy import require
from orchestrator.config import ModelSpec
from orchestrator.errors import ModelError
from orchestrator.runtime.faults import oom_threshold, simulated_oom
from orchestrator.scoring._hf import (
    is_causal_decoder,
    load_pretrained,
    load_tokenizer,
    loaded_model_info,
    resolve_dtype,
)
from orchestrator.scoring._protocol import BatchOutOfMemory
from orchestrator.scoring.columns import list_columns, pair_columns
from orchestrator.scoring.formatting import Encoded, format_conversations
from orchestrator.scoring.prefetch import padded_batches, prefetch
from orchestrator.scoring.token_cache import TokenCache, resolve_cache_dir

logger = logging.getLogger(__name__)


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
                "a classifier reward model must have exactly one (its raw logit is the score); set "
                "`adapter: multi-label` to compare the output lists as the reference does"
            )
        self.causal = is_causal_decoder(model)
        self._batch_tokens: int | None = None
        self._oom_above = oom_threshold()  # test hook, see orchestrator.runtime.faults
        self.info = loaded_model_info(
            spec,
            model,
            dtype=dtype_name,
            device=device,
            start=start,
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
        is raised as :class:`BatchOutOfMemory` with the failing batch's row count.
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
                    raise BatchOutOfMemory(len(batch.indices), exc) from exc
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
