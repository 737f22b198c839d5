"""Tiny random-weight replicas of other architectures' sequence classifiers, for checking exactness.

Same tokenizer and weight generator as :mod:`orchestrator.tiny` (a NumPy generator seeded by name, so the weights
are bit-identical on every machine and transformers version); the architecture's own default configuration
except for the sizes, which are shrunk to hidden size 64 and 2 layers. Both transformers 5 and the reference's
transformers 4.51 load them (after the ``tokenizer_class`` edit ``perf/reference/run_reference.sh`` makes).
"""

from __future__ import annotations

import logging
from pathlib import Path

from orchestrator._lazy import require

logger = logging.getLogger(__name__)

ARCHITECTURES = ("gemma2", "qwen2", "llama")
"""The replicas :func:`build_tiny_replica` builds (``llama`` = :func:`orchestrator.tiny.build_tiny_model`'s)."""


def _config(transformers, arch: str, tokenizer, hidden_size: int, num_layers: int):
    sizes = {
        "vocab_size": len(tokenizer),
        "hidden_size": hidden_size,
        "intermediate_size": hidden_size * 2,
        "num_hidden_layers": num_layers,
        "num_attention_heads": 4,
        "num_key_value_heads": 2,
        "head_dim": hidden_size // 4,
        "bos_token_id": tokenizer.bos_token_id,
        "eos_token_id": tokenizer.eos_token_id,
        "pad_token_id": None,
        "num_labels": 1,
    }
    if arch == "gemma2":
        # default config otherwise: attention/final logit soft-capping, query_pre_attn_scalar (256),
        # alternating sliding-window (4096) and global layers, tied embeddings
        return transformers.Gemma2Config(**sizes)
    if arch == "qwen2":
        # default config otherwise: q/k/v biases, no sliding window, untied embeddings
        return transformers.Qwen2Config(**sizes)
    if arch == "llama":
        return transformers.LlamaConfig(**sizes, max_position_embeddings=4096, tie_word_embeddings=False)
    raise ValueError(f"unknown replica architecture {arch!r}: expected one of {', '.join(ARCHITECTURES)}")


def build_tiny_replica(
    out_dir: str | Path, arch: str, seed: str | None = None, hidden_size: int = 64, num_layers: int = 2
) -> Path:
    """Build a tiny ``<Arch>ForSequenceClassification`` (``arch`` in :data:`ARCHITECTURES`) into ``out_dir``."""
    from orchestrator.tiny import _fill_weights, build_tokenizer

    transformers = require("transformers")
    require("torch")
    transformers.utils.logging.disable_progress_bar()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    tokenizer = build_tokenizer(out)
    config = _config(transformers, arch, tokenizer, hidden_size, num_layers)
    model = transformers.AutoModelForSequenceClassification.from_config(config)
    _fill_weights(model, seed or f"replica:{arch}:{out.name}")
    model.eval()
    model.save_pretrained(str(out), safe_serialization=True)
    logger.info("built tiny %s replica in %s", arch, out)
    return out
