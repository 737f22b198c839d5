"""Turning (prompt, completion) pairs into model inputs exactly as RewardBench does.

Reference behaviour (``scripts/run_rm.py`` + ``RewardBenchPipeline`` of rewardbench 0.1.4):

* messages ``[user: prompt, assistant: completion]`` (a multi-turn prompt alternates
  user/assistant and must end with a user turn) rendered with
  ``tokenizer.apply_chat_template(messages, tokenize=False)``, no generation prompt;
* the text tokenized with the tokenizer's own special tokens, truncated to
  ``max_length`` from the tokenizer's ``truncation_side`` (left by default);
* when the sequence starts with two BOS tokens (template BOS + tokenizer BOS), the
  first is kept in ``input_ids`` but masked out of ``attention_mask``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from orchestrator.errors import DataError, ModelError


def to_messages(prompt: Any, completion: str, where: str = "") -> list[dict[str, str]]:
    """The conversation RewardBench scores for one completion."""
    if isinstance(prompt, (list, tuple)) and prompt:
        messages = []
        for i, turn in enumerate(prompt):
            content = turn["content"] if isinstance(turn, dict) else str(turn)
            messages.append({"role": "user" if i % 2 == 0 else "assistant", "content": content})
        if messages[-1]["role"] != "user":
            raise DataError(f"{where}: a multi-turn prompt must end with a user turn")
        messages.append({"role": "assistant", "content": completion})
        return messages
    if isinstance(prompt, (list, tuple)):
        raise DataError(f"{where}: empty prompt message list")
    return [{"role": "user", "content": prompt}, {"role": "assistant", "content": completion}]


def resolve_chat_template(template: str | None) -> str | None:
    """A job's ``chat_template``: a reference template name (:data:`~orchestrator.scoring.named_templates.NAMES`,
    e.g. ``tulu``), inline Jinja, or a path to a template file."""
    if template is None:
        return None
    from orchestrator.scoring.named_templates import named_template

    named = named_template(template)
    if named is not None:
        return named
    if "{" not in template:
        path = Path(template).expanduser()
        if not path.is_file():
            from orchestrator.scoring.named_templates import NAMES

            raise ModelError(
                f"chat_template {template!r}: not a template name ({', '.join(NAMES)}), "
                "not a Jinja template and no such file"
            )
        return path.read_text(encoding="utf-8")
    return template


def format_conversations(tokenizer, prompts: Sequence[Any], completions: Sequence[str]) -> list[str]:
    """Render each (prompt, completion) with the tokenizer's chat template, as text."""
    if getattr(tokenizer, "chat_template", None) is None:
        raise ModelError(
            "the tokenizer has no chat template and the job sets none: "
            "add `chat_template:` (Jinja text or a .jinja file) to the model's entry"
        )
    return [
        tokenizer.apply_chat_template(to_messages(p, c, where=f"example {i}"), tokenize=False)
        for i, (p, c) in enumerate(zip(prompts, completions))
    ]


@dataclass
class Encoded:
    """Token ids of each text, and whether its first token is masked (doubled BOS)."""

    input_ids: list[list[int]]
    first_masked: list[bool]

    @property
    def lengths(self) -> list[int]:
        return [len(ids) for ids in self.input_ids]


def encode(tokenizer, texts: Sequence[str], max_length: int) -> Encoded:
    """Tokenize as the reference pipeline does (truncation from ``tokenizer.truncation_side``)."""
    enc = tokenizer(list(texts), truncation=True, max_length=max_length, padding=False)
    ids = [list(x) for x in enc["input_ids"]]
    bos = tokenizer.bos_token_id if tokenizer.bos_token else None
    masked = [bos is not None and len(x) >= 2 and x[0] == bos and x[1] == bos for x in ids]
    return Encoded(ids, masked)
