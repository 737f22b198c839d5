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

import json
import logging
import os
import struct
import time
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from orchestrator._lazy import require
from orchestrator.config import ModelSpec
from orchestrator.errors import ModelError
from orchestrator.scoring.classifier import ModelInfo, load_tokenizer, model_fingerprint
from orchestrator.scoring.dpo import DPOColumns, LogpFn
from orchestrator.scoring.dpo_tokens import DPOSequence

logger = logging.getLogger(__name__)

_GPU_MEMORY_SHARE = 0.9
"""Device memory the engines of one scorer may take together (split between policy and reference)."""


def _count_parameters(path: str) -> int:
    """Parameters of a local safetensors checkpoint, from the file headers (0 when unknown, e.g. a hub id)."""
    total = 0
    for file in sorted(Path(path).expanduser().glob("*.safetensors")):
        with open(file, "rb") as fh:
            (size,) = struct.unpack("<Q", fh.read(8))
            header = json.loads(fh.read(size))
        for name, meta in header.items():
            if name != "__metadata__":
                total += int(np.prod(meta["shape"], dtype=np.int64))
    return total


def engine_kwargs(spec: ModelSpec, path: str, *, cpu: bool, engines: int) -> dict[str, Any]:
    """``vllm.LLM`` arguments for one causal LM of a dpo spec (pure)."""
    dtype = spec.dtype if spec.dtype != "auto" else ("float32" if cpu else "bfloat16")
    return {
        "model": path,
        "tokenizer": spec.tokenizer or spec.path,  # the policy's tokenizer for both, as the reference
        "revision": spec.revision if path == spec.path else None,
        "trust_remote_code": spec.trust_remote_code,
        "runner": "generate",
        "dtype": dtype,
        "max_model_len": spec.max_length + 1,  # the sequence plus the one generated token
        "tensor_parallel_size": spec.tensor_parallel_size,
        "gpu_memory_utilization": _GPU_MEMORY_SHARE / engines,
        "enable_prefix_caching": False,
        "enforce_eager": cpu,
        "seed": 0,
        "disable_log_stats": True,
    }


class VLLMDPOScorer:
    """The :class:`~orchestrator.scoring.dpo.DPOScorer` contract on vLLM engines."""

    backend = "vllm"

    def __init__(self, spec: ModelSpec, device: str = "cpu"):
        require("vllm")
        from vllm import LLM
        from vllm.platforms import current_platform

        if spec.kind != "dpo":
            raise ModelError(f"model {spec.name!r}: VLLMDPOScorer needs kind dpo, not {spec.kind!r}")
        cpu = current_platform.is_cpu()
        if cpu:
            # in-process engine core: no spawned process re-importing the caller's __main__, half the memory
            os.environ.setdefault("VLLM_ENABLE_V1_MULTIPROCESSING", "0")
        self.spec = spec
        start = time.perf_counter()
        self.tokenizer = load_tokenizer(spec)
        paths = [spec.path] + ([spec.reference] if spec.reference else [])
        self.engines = []
        for path in paths:
            kwargs = engine_kwargs(spec, path, cpu=cpu, engines=len(paths))
            try:
                self.engines.append(LLM(**kwargs))
            except Exception as exc:
                raise ModelError(f"model {spec.name!r}: vLLM cannot load {path!r}: {exc}") from exc
        self.columns = DPOColumns(
            spec, self.tokenizer, self._logp_fn(self.engines[0]), self._logp_fn(self.engines[1]) if spec.reference else None
        )
        self.info = ModelInfo(
            path=spec.path,
            revision=spec.revision,
            fingerprint=model_fingerprint(spec.path, spec.revision),
            dtype=engine_kwargs(spec, spec.path, cpu=cpu, engines=1)["dtype"],
            device="cpu" if cpu else "cuda",
            load_seconds=time.perf_counter() - start,
            num_parameters=_count_parameters(spec.path),
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

    def pair_columns(self, prompts: Sequence[Any], chosen: Sequence[str], rejected: Sequence[str]) -> dict[str, Any]:
        """Record columns for preference pairs, with the dpo fields."""
        return self.columns.pair_columns(prompts, chosen, rejected)

    def list_columns(self, prompts: Sequence[Any], chosen: Sequence[Sequence[str]],
                     rejected: Sequence[Sequence[str]]) -> dict[str, Any]:
        """Record columns for best-of-N rows, with the dpo fields."""
        return self.columns.list_columns(prompts, chosen, rejected)


def completion_logps(engine, seqs: Sequence[DPOSequence]) -> list[np.ndarray]:
    """Per-token log-probs of each sequence's completion ids under ``engine``, in input order."""
    from vllm import SamplingParams
    from vllm.inputs import TokensPrompt

    if not seqs:
        return []
    params = SamplingParams(max_tokens=1, prompt_logprobs=0, detokenize=False, temperature=0.0)
    outputs = engine.generate([TokensPrompt(prompt_token_ids=s.input_ids) for s in seqs], params, use_tqdm=False)
    out = []
    for seq, result in zip(seqs, outputs):
        ids, entries = seq.input_ids, result.prompt_logprobs
        if entries is None or len(entries) != len(ids):
            raise ModelError(f"vLLM returned {0 if entries is None else len(entries)} prompt log-probs for {len(ids)} tokens")
        out.append(np.asarray([entries[j][ids[j]].logprob for j in range(seq.start, len(ids))], dtype=np.float32))
    return out
