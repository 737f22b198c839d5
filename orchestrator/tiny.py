"""Tiny, deterministic, offline demo models.

Builds a byte-level BPE tokenizer (trained with ``tokenizers`` on a fixed built-in
corpus) and random-weight Llama models (hidden size 64) whose weights come from a
NumPy generator seeded by the model's name, so the same call gives bit-identical
weights on every machine and with any transformers version.

The tokenizer adds a BOS token itself *and* its chat template starts with
``{{ bos_token }}``: formatted conversations therefore carry a doubled BOS, which
exercises RewardBench's doubled-BOS masking. It has no pad token, which exercises
the reference's ``pad_token = eos_token`` fallback.
"""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path

from orchestrator._lazy import require

logger = logging.getLogger(__name__)

CHAT_TEMPLATE = (
    "{{ bos_token }}"
    "{% for message in messages %}"
    "<|{{ message['role'] }}|>\n{{ message['content'] }}"
    "{% if message['role'] == 'assistant' %}{{ eos_token }}{% endif %}\n"
    "{% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>\n{% endif %}"
)

_SPECIAL_TOKENS = ["<s>", "</s>", "<|user|>", "<|assistant|>", "<|system|>"]

_CORPUS = """
A reward model reads a prompt and a response and returns a number. Higher is better.
The user asked a question and the assistant answered it politely, clearly and correctly.
I'm sorry, but I can't help with that request. It could cause harm to people.
def add(a, b):\n    return a + b\n\nfn main() { println!("hello"); }\n
#include <iostream>\nint main() { std::cout << "hi" << std::endl; return 0; }\n
func main() { fmt.Println("hello, world") }\npublic static void main(String[] args) {}\n
const f = (x) => x * 2; console.log(f(21));\nimport math\nprint(math.sqrt(2))\n
The answer is $\\frac{1}{2}$. Step 1: multiply both sides by 2. Step 2: simplify. # Answer\n
Write a story about a dragon who learns to cook. Once upon a time, in a small village...
Explain how photosynthesis works. Plants convert light energy into chemical energy.
What is the capital of France? The capital of France is Paris.
How do I kill a Python process? You can use the kill command with the process id.
0123456789 !@#$%^&*()_+-=[]{}|;':",./<>?`~ \t\n
"""


def _training_corpus() -> list[str]:
    lines = [line for line in _CORPUS.splitlines() if line.strip()]
    # repeat so that merges have counts to work with; order is fixed -> deterministic
    return lines * 20


def build_tokenizer(out_dir: str | Path, vocab_size: int = 1024):
    """Train and save the tiny byte-level BPE tokenizer; returns the HF tokenizer."""
    tokenizers = require("tokenizers", "transformers")
    transformers = require("transformers")
    from tokenizers import decoders, models, pre_tokenizers, processors, trainers

    tok = tokenizers.Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=_SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(_training_corpus(), trainer=trainer)
    bos_id = tok.token_to_id("<s>")
    tok.post_processor = processors.TemplateProcessing(
        single="<s> $A", pair="<s> $A <s> $B", special_tokens=[("<s>", bos_id)]
    )
    hf_tok = transformers.PreTrainedTokenizerFast(
        tokenizer_object=tok,
        bos_token="<s>",
        eos_token="</s>",
        chat_template=CHAT_TEMPLATE,
        model_input_names=["input_ids", "attention_mask"],
    )
    hf_tok.save_pretrained(str(out_dir))
    return hf_tok


def _fill_weights(model, seed_text: str) -> None:
    import numpy as np
    import torch

    seed = int.from_bytes(hashlib.sha256(seed_text.encode()).digest()[:8], "little")
    rng = np.random.default_rng(seed)
    with torch.no_grad():
        for _name, param in sorted(model.named_parameters()):
            if param.ndim >= 2:
                values = rng.normal(0.0, 0.05, size=tuple(param.shape)).astype("float32")
                param.copy_(torch.from_numpy(values))
            else:
                param.fill_(1.0)


VLLM_HEAD_DIM = 32
"""The smallest per-head size vLLM's CPU attention kernels support."""


def build_tiny_model(
    out_dir: str | Path,
    kind: str = "classifier",
    seed: str | None = None,
    hidden_size: int = 64,
    num_layers: int = 2,
    head_dim: int | None = None,
) -> Path:
    """Build one tiny Llama model (``classifier`` or ``causal``) into ``out_dir``.

    ``head_dim`` defaults to ``hidden_size // 4`` (16); vLLM's CPU attention needs at least 32, so
    models for the vLLM backend are built with ``head_dim=32`` (:data:`VLLM_HEAD_DIM`).
    """
    transformers = require("transformers")
    require("torch")
    transformers.utils.logging.disable_progress_bar()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    tokenizer = build_tokenizer(out)
    config = transformers.LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=hidden_size,
        intermediate_size=hidden_size * 2,
        num_hidden_layers=num_layers,
        num_attention_heads=4,
        num_key_value_heads=2,
        head_dim=head_dim or hidden_size // 4,
        max_position_embeddings=4096,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=None,
        tie_word_embeddings=False,
        num_labels=1,
    )
    if kind == "classifier":
        model = transformers.LlamaForSequenceClassification(config)
    elif kind == "causal":
        model = transformers.LlamaForCausalLM(config)
    else:
        raise ValueError(f"unknown tiny model kind {kind!r}: expected 'classifier' or 'causal'")
    _fill_weights(model, seed or f"{kind}:{out.name}")
    model.eval()
    model.save_pretrained(str(out), safe_serialization=True)
    logger.info("built tiny %s model in %s", kind, out)
    return out


DEMO_MODELS = {
    "tiny-rm": ("classifier", "tiny-rm"),
    "tiny-rm-b": ("classifier", "tiny-rm-b"),
    # causal LMs for the other families (jobs/seed-families.yaml): a DPO policy and its reference,
    # a 4-checkpoint SPIN chain, and a (garbage-emitting) judge
    "tiny-dpo": ("causal", "tiny-dpo"),
    "tiny-dpo-ref": ("causal", "tiny-dpo-ref"),
    "tiny-spin-0": ("causal", "tiny-spin-0"),
    "tiny-spin-1": ("causal", "tiny-spin-1"),
    "tiny-spin-2": ("causal", "tiny-spin-2"),
    "tiny-spin-3": ("causal", "tiny-spin-3"),
    "tiny-judge": ("causal", "tiny-judge"),
}


def ensure_demo_models(root: str | Path = "models") -> dict[str, Path]:
    """Build the demo models under ``root`` unless they already exist; returns their paths."""
    paths = {}
    for name, (kind, seed) in DEMO_MODELS.items():
        path = Path(root) / name
        if not (path / "config.json").exists():
            build_tiny_model(path, kind=kind, seed=seed)
        paths[name] = path
    return paths
