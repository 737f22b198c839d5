"""Tokenizers for the QRM / LDL-Reward / InternLM2 replicas (run with the repo's venv): ``std`` (the demo
tokenizer, as replica_tokenizers.py), ``llama3`` (replica_parts.llama3_tokenizer: 128,010 ids with the Llama-3
header ids; also ``tokenizer.small.json`` and ``used_ids.json``), ``internlm2`` (``std`` plus ``<|im_start|>``,
``<|im_end|>`` and the reward token ``[UNUSED_TOKEN_130]``, with InternLM2's chat-template layout)."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

from orchestrator.tiny import build_tokenizer
from tests.scoring.adapters.replica_parts import llama3_tokenizer

INTERNLM2_TEMPLATE = (
    "{{ bos_token }}{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n' }}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)


def _generic(cfg: Path) -> None:
    """``tokenizer_config.json`` as transformers 4.51 reads it (the generic class, a list of extra special tokens
    under its old name)."""
    data = json.loads(cfg.read_text())
    if data.get("tokenizer_class") == "TokenizersBackend":
        data["tokenizer_class"] = "PreTrainedTokenizerFast"
    if isinstance(data.get("extra_special_tokens"), list):
        data["additional_special_tokens"] = data.pop("extra_special_tokens")
    cfg.write_text(json.dumps(data, indent=2))


if __name__ == "__main__":
    import transformers

    root = Path(sys.argv[1])
    build_tokenizer(root / "std")
    _generic(root / "std" / "tokenizer_config.json")
    used = llama3_tokenizer(root / "std" / "tokenizer.json", root / "llama3")
    shutil.copy(root / "std" / "tokenizer.json", root / "llama3" / "tokenizer.small.json")
    (root / "llama3" / "used_ids.json").write_text(json.dumps(used))
    tok = transformers.AutoTokenizer.from_pretrained(str(root / "std"))
    tok.add_special_tokens(
        {"additional_special_tokens": ["<|im_start|>", "<|im_end|>", "[UNUSED_TOKEN_130]"]}
    )
    tok.chat_template = INTERNLM2_TEMPLATE
    tok.save_pretrained(str(root / "internlm2"))
    _generic(root / "internlm2" / "tokenizer_config.json")
    for variant in ("std", "llama3", "internlm2"):
        print(variant, sorted(p.name for p in (root / variant).iterdir()))
