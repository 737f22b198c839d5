"""Sequence-classifier reward models on vLLM (``kind: classifier, backend: vllm``): the raw logit is the score.

Same inputs as the transformers path, token for token: the conversations are formatted and tokenized by
:mod:`orchestrator.scoring.formatting` (chat template, special tokens, left truncation to ``max_length``,
through the same token cache) and handed to vLLM as token-id prompts, so vLLM never re-tokenizes. The
engine is vLLM's pooling runner; ``llm.classify`` with ``use_activation=False`` returns the score head's raw
logit at the last token (vLLM's default pooling for decoder classifiers), which is what
``AutoModelForSequenceClassification`` returns for an unpadded sequence.

Pooled token: transformers' decoder classifiers pool the rightmost token that is not the pad token, and
the reference sets pad = eos when the tokenizer has no pad token, so a conversation ending in eos is
scored at the token before its trailing eos. Under a causal mask the trailing pad tokens cannot change
that token's hidden state, so they are dropped before vLLM pools the last token: the same logit.

Doubled BOS: RewardBench keeps a doubled BOS in ``input_ids`` and masks the first one out of the
attention. The transformers path computes exactly that by dropping the masked token and starting
positions at 1. vLLM cannot mask a prompt token nor offset positions, so it gets the sequence without the
masked token, at positions from 0. For rotary position embeddings (Llama, Mistral, Qwen, Gemma, ...)
attention depends only on position differences, so this is the same computation (equal within float
tolerance, tested); for a model with absolute position embeddings it is not, and such inputs raise
:class:`ModelError` (score that model with ``backend: transformers``).
"""

from __future__ import annotations

import logging
import time
from typing import Any

import numpy as np

from orchestrator._lazy import require
from orchestrator.config import ModelSpec
from orchestrator.errors import ModelError
from orchestrator.scoring._hf import load_tokenizer
from orchestrator.scoring.classifier import ClassifierScorer
from orchestrator.scoring.formatting import Encoded
from orchestrator.scoring.token_cache import TokenCache, resolve_cache_dir
from orchestrator.scoring.vllm_engine import engine_model_info, get_engine, require_vllm

logger = logging.getLogger(__name__)


def relative_positions(hf_config: Any) -> bool:
    """True when the model's position encoding is rotary (attention sees only position differences)."""
    if getattr(hf_config, "rope_parameters", None) or getattr(hf_config, "rope_scaling", None):
        return True
    if getattr(hf_config, "rope_theta", None) is not None:
        return True
    text_config = getattr(hf_config, "text_config", None)
    return text_config is not None and text_config is not hf_config and relative_positions(text_config)


def _pooled_prefix(ids: list[int], pad_token_id: int | None) -> list[int]:
    """``ids`` up to and including the token transformers pools: the rightmost one that is not padding
    (the first token when every token is padding, as transformers' argmax gives)."""
    end = len(ids)
    while end > 1 and ids[end - 1] == pad_token_id:
        end -= 1
    return ids[:end]


class VllmClassifierScorer(ClassifierScorer):
    """A classifier reward model served by a shared vLLM pooling engine.

    Formatting, token caching and the record columns are :class:`ClassifierScorer`'s; only the forward
    pass differs (:meth:`score_encoded`). ``batch_tokens``, ``prefetch_batches`` and
    ``attn_implementation`` are transformers settings: vLLM schedules its own batches.
    """

    backend = "vllm"

    def __init__(self, spec: ModelSpec, device: str = "cpu"):
        from orchestrator.config._kinds import vllm_adapter_error
        from orchestrator.scoring.adapters import select_adapter

        adapter = select_adapter(getattr(spec, "adapter", "auto"), spec.path)
        if adapter.name != "classifier":
            raise ModelError(f"model {spec.name!r}: {vllm_adapter_error(adapter.name)}")
        require_vllm()
        start = time.perf_counter()
        self.spec = spec
        self.device = device
        self.causal = True
        self.tokenizer = load_tokenizer(spec)
        self.token_cache = TokenCache(resolve_cache_dir(spec.token_cache))
        self.engine = get_engine(spec, runner="pooling")
        hf_config = self.engine.llm_engine.model_config.hf_config
        num_labels = getattr(hf_config, "num_labels", 1)
        if num_labels != 1:
            raise ModelError(
                f"model {spec.name!r}: has {num_labels} output labels; "
                "a classifier reward model must have exactly one (its raw logit is the score)"
            )
        self.relative_positions = relative_positions(hf_config)
        # the pad id transformers pools by, after the transformers path's fallbacks (ClassifierScorer)
        if self.tokenizer.pad_token_id is None:
            self.tokenizer.pad_token_id = self.tokenizer.eos_token_id
            self.pad_token_id = self.tokenizer.eos_token_id
        else:
            config_pad = getattr(hf_config, "pad_token_id", None)
            self.pad_token_id = config_pad if config_pad is not None else self.tokenizer.pad_token_id
        self.info = engine_model_info(spec, self.engine, load_seconds=time.perf_counter() - start)

    def score_encoded(self, enc: Encoded) -> np.ndarray:
        """Raw logits of tokenized sequences, in input order (a masked doubled BOS and trailing pads dropped)."""
        if not enc.input_ids:
            return np.empty(0, dtype=np.float64)
        vllm = require("vllm")
        from vllm.inputs import TokensPrompt

        if any(enc.first_masked) and not self.relative_positions:
            raise ModelError(
                f"model {self.spec.name!r}: its inputs start with a doubled BOS that RewardBench masks out; "
                "vLLM cannot mask a token, and with absolute position embeddings dropping it changes the "
                "scores: use backend: transformers for this model"
            )
        prompts = [
            TokensPrompt(prompt_token_ids=_pooled_prefix(ids[1:] if masked else list(ids), self.pad_token_id))
            for ids, masked in zip(enc.input_ids, enc.first_masked)
        ]
        outputs = self.engine.classify(
            prompts, pooling_params=vllm.PoolingParams(use_activation=False), use_tqdm=False
        )
        return np.asarray([out.outputs.probs[0] for out in outputs], dtype=np.float64)
