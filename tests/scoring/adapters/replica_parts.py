"""Deterministic parts of the QRM, LDL-Reward and InternLM2 replicas that are too large to store as fixtures.

Used by the recipe (``perf/reference/run_reference_heads.sh``, in both venvs) and by the tests, so that the replica
the reference scored and the one Rayward scores are the same tensors (checked by :func:`tensor_digest`).

* :func:`llama3_tokenizer`: the tiny demo tokenizer re-numbered into a 128,010-id vocabulary that has the Llama-3
  header ids QRM's gating code hard-codes (``<|begin_of_text|>`` 128000, ``<|start_header_id|>`` 128006,
  ``<|end_header_id|>`` 128007, ``<|eot_id|>`` 128009, ``assistant`` 78191, ``\\n\\n`` 271; pad
  ``<|finetune_right_pad_id|>`` 128004, as Llama-3.1's), with a Llama-3 chat template; the ids no text reaches
  are fillers. (With pad = eos = ``<|eot_id|>`` QRM would read every input at the end of its first user turn.)
* :func:`expand_embedding` / :func:`compact_embedding`: QRM's [128010, H] embedding stored as its used rows.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

VOCAB = 128010
SPECIAL = {
    "<|begin_of_text|>": 128000,
    "<|finetune_right_pad_id|>": 128004,
    "<|start_header_id|>": 128006,
    "<|end_header_id|>": 128007,
    "<|eot_id|>": 128009,
}
PLAIN = {"\n\n": 271, "assistant": 78191}
LLAMA3_TEMPLATE = (
    "{{ bos_token }}{% for message in messages %}<|start_header_id|>{{ message['role'] }}<|end_header_id|>\n\n"
    "{{ message['content'] | trim }}<|eot_id|>{% endfor %}"
    "{% if add_generation_prompt %}<|start_header_id|>assistant<|end_header_id|>\n\n{% endif %}"
)


def _renumber(i: int) -> int:
    """The demo tokenizer's id ``i`` in the large vocabulary (one slot skipped for ``\\n\\n`` at 271)."""
    return i if i < PLAIN["\n\n"] else i + 1


def llama3_tokenizer(small: Path, out: Path) -> list[int]:
    """Write the large-vocabulary tokenizer built from ``small`` (a demo ``tokenizer.json``) into ``out``; returns
    the ids a text can reach (the embedding rows that matter)."""
    data = json.loads(small.read_text(encoding="utf-8"))
    vocab = {tok: _renumber(i) for tok, i in data["model"]["vocab"].items()}
    assert max(vocab.values()) < PLAIN["assistant"], "demo vocabulary too large"
    added = [dict(t, id=_renumber(t["id"])) for t in data["added_tokens"]]
    for content, i in {**SPECIAL, **PLAIN}.items():
        vocab[content] = i
        added.append(
            {
                "id": i,
                "content": content,
                "single_word": False,
                "lstrip": False,
                "rstrip": False,
                "normalized": False,
                "special": content in SPECIAL,
            }
        )
    used = sorted(vocab.values())
    taken = set(used)
    for i in range(VOCAB):
        if i not in taken:
            vocab[f"<|filler_{i}|>"] = i
    data["model"]["vocab"] = dict(sorted(vocab.items(), key=lambda kv: kv[1]))
    data["added_tokens"] = sorted(added, key=lambda t: t["id"])
    bos = "<|begin_of_text|>"
    data["post_processor"] = {
        "type": "TemplateProcessing",
        "single": [{"SpecialToken": {"id": bos, "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}],
        "pair": [
            {"SpecialToken": {"id": bos, "type_id": 0}},
            {"Sequence": {"id": "A", "type_id": 0}},
            {"SpecialToken": {"id": bos, "type_id": 0}},
            {"Sequence": {"id": "B", "type_id": 0}},
        ],
        "special_tokens": {bos: {"id": bos, "ids": [SPECIAL[bos]], "tokens": [bos]}},
    }
    out.mkdir(parents=True, exist_ok=True)
    (out / "tokenizer.json").write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    (out / "tokenizer_config.json").write_text(
        json.dumps(
            {
                "bos_token": bos,
                "eos_token": "<|eot_id|>",
                "pad_token": "<|finetune_right_pad_id|>",
                "model_input_names": ["input_ids", "attention_mask"],
                "model_max_length": 131072,
                "tokenizer_class": "PreTrainedTokenizerFast",
                "chat_template": LLAMA3_TEMPLATE,
            },
            indent=2,
        ),
        encoding="utf-8",
    )
    return used


EMBED = "model.embed_tokens.weight"


def compact_embedding(state: dict, used: list[int]) -> dict:
    """``state`` with the embedding replaced by its ``used`` rows (``embed_rows``) and their ids (``embed_ids``);
    every other row must be zero."""
    import torch

    weight = state[EMBED]
    ids = torch.tensor(used, dtype=torch.int64)
    rest = torch.ones(weight.shape[0], dtype=torch.bool)
    rest[ids] = False
    assert not weight[rest].any(), "unused embedding rows must be zero"
    out = {k: v for k, v in state.items() if k != EMBED}
    out["embed_rows"] = weight[ids].clone()
    out["embed_ids"] = ids
    return out


def expand_embedding(compact: dict, vocab: int = VOCAB) -> dict:
    """The inverse of :func:`compact_embedding`."""
    import torch

    rows, ids = compact["embed_rows"], compact["embed_ids"]
    weight = torch.zeros(vocab, rows.shape[1], dtype=rows.dtype)
    weight[ids] = rows
    out = {k: v for k, v in compact.items() if k not in ("embed_rows", "embed_ids")}
    out[EMBED] = weight
    return out


def tensor_digest(state: dict) -> str:
    """sha256 over every tensor's name, shape, dtype and bytes, in name order (independent of file layout)."""
    digest = hashlib.sha256()
    for name in sorted(state):
        t = state[name].contiguous().cpu()
        digest.update(f"{name}|{list(t.shape)}|{t.dtype}|".encode())
        digest.update(t.view(-1).view(__import__("torch").uint8).numpy().tobytes() if t.numel() else b"")
    return digest.hexdigest()
