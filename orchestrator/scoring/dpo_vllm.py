"""Implicit (DPO) rewards on vLLM: completion log-probs from ``prompt_logprobs`` on token-id prompts.

The token ids are the transformers path's (:mod:`orchestrator.scoring.dpo_tokens`, the reference's
tokenization with the policy's tokenizer), sent as ``TokensPrompt`` so vLLM never re-tokenizes; each
request generates one token and returns the log-prob of every prompt token given the ones before it
(``prompt_logprobs=0``: the actual token's only). The completion positions are summed exactly as the
transformers scorer does, so both backends give the same records within float tolerance
(``tests/scoring/test_dpo_vllm.py``).

The policy and the reference are two engines in one process (on one GPU each takes half of the memory
share). vLLM is optional: without it the scorer raises :class:`MissingDependencyError` with the pip hint.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from typing import Any

import numpy as np

from orchestrator._lazy import require
from orchestrator.config import DPOSpec
from orchestrator.errors import ModelError
from orchestrator.scoring._hf import load_tokenizer, model_fingerprint
from orchestrator.scoring._protocol import ModelInfo
from orchestrator.scoring.dpo import DPOColumns, LogpFn
from orchestrator.scoring.dpo_tokens import DPOSequence
from orchestrator.scoring.vllm_engine import count_parameters, engine_dtype, get_engine, on_cpu

logger = logging.getLogger(__name__)

_GPU_MEMORY_SHARE = 0.9
"""Device memory the engines of one scorer may take together (split between policy and reference)."""


def _engine(spec: DPOSpec, path: str, *, engines: int):
    """The shared engine of one causal LM of a dpo spec: the policy's tokenizer for both models (as the
    reference), room for the sequence plus the one generated token, the memory share split between engines."""
    model = spec.model_copy(
        update={
            "path": path,
            "tokenizer": spec.tokenizer or spec.path,
            "revision": spec.revision if path == spec.path else None,
        }
    )
    return get_engine(
        model,
        runner="generate",
        max_model_len=spec.max_length + 1,
        gpu_memory_utilization=_GPU_MEMORY_SHARE / engines,
        enable_prefix_caching=False,
    )


class VLLMDPOScorer:
    """The :class:`~orchestrator.scoring.dpo.DPOScorer` contract on vLLM engines."""

    backend = "vllm"

    def __init__(self, spec: DPOSpec, device: str = "cpu"):
        require("vllm")
        if spec.kind != "dpo":
            raise ModelError(f"model {spec.name!r}: VLLMDPOScorer needs kind dpo, not {spec.kind!r}")
        cpu = on_cpu()
        self.spec = spec
        self.device = "cpu" if cpu else device
        start = time.perf_counter()
        self.tokenizer = load_tokenizer(spec)
        paths = [spec.path] + ([spec.reference] if spec.reference else [])
        self.engines = [_engine(spec, path, engines=len(paths)) for path in paths]
        self.columns = DPOColumns(
            spec,
            self.tokenizer,
            self._logp_fn(self.engines[0]),
            self._logp_fn(self.engines[1]) if spec.reference else None,
        )
        self.info = ModelInfo(
            path=spec.path,
            revision=spec.revision,
            fingerprint=model_fingerprint(spec.path, spec.revision),
            dtype=engine_dtype(spec, cpu),
            device="cpu" if cpu else "cuda",
            load_seconds=time.perf_counter() - start,
            num_parameters=count_parameters(spec.path),
            extra={
                "engine": "vllm",
                "reference": spec.reference,
                "reference_fingerprint": model_fingerprint(spec.reference) if spec.reference else None,
                "ref_free_norm": spec.ref_free_norm,
                "beta": spec.beta,
                "iteration": spec.iteration,
            },
        )

    def _logp_fn(self, engine) -> LogpFn:
        def fn(seqs: Sequence[DPOSequence]) -> list[np.ndarray]:
            return completion_logps(engine, seqs)

        return fn

    def pair_columns(
        self, prompts: Sequence[Any], chosen: Sequence[str], rejected: Sequence[str]
    ) -> dict[str, Any]:
        """Record columns for preference pairs, with the dpo fields."""
        return self.columns.pair_columns(prompts, chosen, rejected)

    def list_columns(
        self, prompts: Sequence[Any], chosen: Sequence[Sequence[str]], rejected: Sequence[Sequence[str]]
    ) -> dict[str, Any]:
        """Record columns for best-of-N rows, with the dpo fields."""
        return self.columns.list_columns(prompts, chosen, rejected)


def completion_logps(engine, seqs: Sequence[DPOSequence]) -> list[np.ndarray]:
    """Per-token log-probs of each sequence's completion ids under ``engine``, in input order."""
    from vllm import SamplingParams
    from vllm.inputs import TokensPrompt

    if not seqs:
        return []
    params = SamplingParams(max_tokens=1, prompt_logprobs=0, detokenize=False, temperature=0.0)
    outputs = engine.generate(
        [TokensPrompt(prompt_token_ids=s.input_ids) for s in seqs], params, use_tqdm=False
    )
    out = []
    for seq, result in zip(seqs, outputs):
        ids, entries = seq.input_ids, result.prompt_logprobs
        if entries is None or len(entries) != len(ids):
            raise ModelError(
                f"vLLM returned {0 if entries is None else len(entries)} prompt log-probs for {len(ids)} tokens"
            )
        out.append(
            np.asarray([entries[j][ids[j]].logprob for j in range(seq.start, len(ids))], dtype=np.float32)
        )
    return out
