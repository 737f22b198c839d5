"""LLM-as-a-judge on vLLM (``kind: judge``, ``backend: vllm``): the same prompts, plans and records as the
transformers judge (:class:`orchestrator.scoring.judge.JudgeBase`); only generation differs.

The chat-templated prompts are tokenized here, by the same code as the transformers path, and handed to
``LLM.generate`` as token ids, so both backends see identical inputs. Each request gets its own
``SamplingParams(seed=...)`` (the request's content-derived seed) when sampling; temperature 0 is greedy.
vLLM samples with its own random streams, so sampled outputs differ from the transformers path's; greedy
outputs agree wherever the two engines' logits have the same argmax (see ``tests/scoring/test_judge_vllm.py``).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from typing import Any

from orchestrator._lazy import require
from orchestrator.config import ModelSpec
from orchestrator.errors import ModelError
from orchestrator.scoring.judge import JudgeBase, _eos_ids
from orchestrator.scoring.vllm_engine import count_parameters, get_engine

logger = logging.getLogger(__name__)


def _cpu_engine_args(device: str, max_len: int) -> dict[str, Any]:
    """On CPU, whole-prompt prefills: vLLM 0.32's CPU runner crashes on a seeded request whose prefill was split
    into chunks (it rewinds the request's ``torch.Generator`` offset, which CPU generators do not have)."""
    if device.startswith("cuda"):
        return {}
    return {"enable_chunked_prefill": False, "max_num_batched_tokens": max(max_len, 4096)}


class VllmJudgeScorer(JudgeBase):
    """A causal chat model served by a vLLM engine as a judge."""

    backend = "vllm"

    def __init__(self, spec: ModelSpec, device: str = "cpu", engine: Any = None):
        """``engine``: an already started ``vllm.LLM`` of the same model to reuse (e.g. one judge in two modes)."""
        vllm = require("vllm")
        transformers = require("transformers")
        from orchestrator.scoring._hf import load_tokenizer, model_fingerprint, resolve_dtype
        from orchestrator.scoring._protocol import ModelInfo

        start = time.perf_counter()
        self.device = device
        self._setup(spec, load_tokenizer(spec))
        dtype_name = resolve_dtype(spec, device)
        max_len = spec.max_length + self.settings.max_new_tokens
        try:
            config = transformers.AutoConfig.from_pretrained(
                spec.path, revision=spec.revision, trust_remote_code=spec.trust_remote_code
            )
            limit = getattr(config, "max_position_embeddings", None)
            if limit:
                max_len = min(max_len, int(limit))
            self.llm = engine or get_engine(
                spec,
                runner="generate",
                max_model_len=max_len,
                seed=self.settings.seed,
                **_cpu_engine_args(device, max_len),
            )
        except Exception as exc:
            raise ModelError(f"model {spec.name!r}: vLLM cannot load {spec.path!r}: {exc}") from None
        self.max_prompt = max_len - 1
        if self.tokenizer.pad_token_id is None:
            self.tokenizer.pad_token_id = self.tokenizer.eos_token_id
        self.eos_ids = _eos_ids(config, self.tokenizer) | _eos_ids_generation(spec)
        self.info = ModelInfo(
            path=spec.path,
            revision=spec.revision,
            fingerprint=self._fingerprint(model_fingerprint(spec.path, spec.revision)),
            dtype=dtype_name,
            device=device,
            load_seconds=time.perf_counter() - start,
            num_parameters=count_parameters(spec.path),
            extra={
                "judge": dict(vars(self.settings)),
                "template": self.template.source,
                "model_fingerprint": model_fingerprint(spec.path, spec.revision),
                "vllm": getattr(vllm, "__version__", None),
            },
        )

    def generate_ids(self, prompt_ids: Sequence[list[int]], seeds: Sequence[int]) -> list[list[int]]:
        vllm = require("vllm")
        from vllm.inputs import TokensPrompt

        s = self.settings
        params = []
        for seed in seeds:
            kwargs: dict[str, Any] = {"max_tokens": s.max_new_tokens, "skip_special_tokens": True}
            if s.greedy:
                kwargs["temperature"] = 0.0
            else:
                kwargs.update(temperature=s.temperature, top_p=s.top_p, seed=int(seed))
            params.append(vllm.SamplingParams(**kwargs))
        prompts = [TokensPrompt(prompt_token_ids=list(ids[-self.max_prompt :])) for ids in prompt_ids]
        outputs = self.llm.generate(prompts, params, use_tqdm=False)
        out = []
        for o in outputs:
            ids = list(o.outputs[0].token_ids)
            while ids and ids[-1] in self.eos_ids:
                ids.pop()
            out.append(ids)
        return out


def _eos_ids_generation(spec: ModelSpec) -> set[int]:
    """EOS ids of the checkpoint's generation config (the transformers path stops on these too)."""
    transformers = require("transformers")
    try:
        gen = transformers.GenerationConfig.from_pretrained(spec.path, revision=spec.revision)
    except Exception:  # no generation_config.json
        return set()
    value = gen.eos_token_id
    if isinstance(value, int):
        return {value}
    return {int(v) for v in value or ()}
