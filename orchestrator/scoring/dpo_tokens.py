"""Prompt/completion token ids for implicit (DPO) rewards, exactly as RewardBench's ``run_dpo.py`` builds them.

Reference behaviour (``rewardbench`` 0.1.4: ``prepare_dialogue_from_tokenizer`` + ``DPOInference.tokenize_row``):

* the prompt text is the chat template over the prompt messages alone (no generation prompt); the
  completion text is the template over prompt + ``[assistant: completion]`` with every occurrence of the
  prompt text removed (``str.replace``), so the prompt is not repeated inside the completion;
* both are tokenized without special tokens; the completion's ids are ``enc(prompt + completion)`` after the
  prompt's ids, where a token merged across the boundary moves to the completion;
* a BOS id is put before the prompt ids (the tokenizer's BOS, its EOS when it has none; a template that writes
  its own BOS thus gives a doubled BOS, neither masked) and an EOS id after the completion ids;
* when prompt + the pair's *longer* completion exceeds ``max_length`` (2048), the prompt keeps its last
  ``max_prompt_length`` (128) ids; if still too long, each completion keeps its first
  ``max_length - max_prompt_length`` ids.

The reward sums the log-probs of the completion ids only (the prompt positions are masked out).
Pure Python over a tokenizer: the transformers and vLLM scorers share it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from orchestrator.errors import DataError, ModelError
from orchestrator.scoring.formatting import to_messages

MAX_PROMPT_LENGTH = 128
"""Prompt ids kept (from the end) when a sequence is too long: the reference's ``max_prompt_length``."""


@dataclass
class DPOSequence:
    """One (prompt, completion) as the model reads it: ``prompt_ids + completion_ids``."""

    prompt_ids: list[int]
    completion_ids: list[int]

    @property
    def input_ids(self) -> list[int]:
        return self.prompt_ids + self.completion_ids

    @property
    def start(self) -> int:
        """Index of the first completion token (whose log-prob comes from the position before it)."""
        return len(self.prompt_ids)


def special_ids(tokenizer) -> tuple[int, int]:
    """(BOS, EOS) as the reference uses them: a tokenizer without BOS uses its EOS for both."""
    eos = tokenizer.eos_token_id
    if eos is None:
        raise ModelError("the tokenizer has no EOS token; the reference's DPO tokenization needs one")
    bos = tokenizer.bos_token_id if tokenizer.bos_token is not None else eos
    return bos, eos


def dpo_texts(tokenizer, prompt: Any, completion: str, where: str = "") -> tuple[str, str]:
    """(prompt text, completion text): the templated prompt, and the templated conversation without it."""
    messages = to_messages(prompt, completion, where=where)
    prompt_text = tokenizer.apply_chat_template(messages[:-1], tokenize=False)
    full_text = tokenizer.apply_chat_template(messages, tokenize=False)
    return prompt_text, full_text.replace(prompt_text, "")


def _split(prompt_ids: list[int], full_ids: list[int], where: str) -> tuple[list[int], list[int]]:
    """The reference's ``build_tokenized_answer`` on token ids: a token merged across the boundary is the completion's."""
    if len(full_ids) < len(prompt_ids):
        raise DataError(f"{where}: prompt + completion tokenizes shorter than the prompt alone")
    start = len(prompt_ids)
    if prompt_ids != full_ids[:start]:
        start -= 1
    return full_ids[:start], full_ids[start:]


def _truncate(seq: DPOSequence, longer: int, max_length: int) -> DPOSequence:
    prompt, completion = seq.prompt_ids, seq.completion_ids
    if len(prompt) + longer > max_length:
        prompt = prompt[-MAX_PROMPT_LENGTH:]
    if len(prompt) + longer > max_length:
        completion = completion[: max_length - MAX_PROMPT_LENGTH]
    return DPOSequence(prompt, completion)


def tokenize(
    tokenizer,
    prompts: Sequence[Any],
    completions: Sequence[str],
    *,
    max_length: int = 2048,
    groups: Sequence[int] | None = None,
) -> list[DPOSequence]:
    """Token ids of each (prompt, completion), in input order.

    ``groups[i]`` names the group whose longest completion decides truncation (the reference truncates a
    chosen/rejected pair together); default: every completion on its own.
    """
    if getattr(tokenizer, "chat_template", None) is None:
        raise ModelError(
            "the tokenizer has no chat template and the job sets none: "
            "add `chat_template:` (Jinja text or a .jinja file) to the model's entry"
        )
    if max_length <= MAX_PROMPT_LENGTH:
        raise ModelError(f"max_length {max_length}: a dpo model needs more than {MAX_PROMPT_LENGTH} tokens")
    bos, eos = special_ids(tokenizer)
    texts = [
        dpo_texts(tokenizer, p, c, where=f"example {i}") for i, (p, c) in enumerate(zip(prompts, completions))
    ]
    prompt_enc = tokenizer([t[0] for t in texts], add_special_tokens=False)["input_ids"]
    full_enc = tokenizer([t[0] + t[1] for t in texts], add_special_tokens=False)["input_ids"]
    seqs = []
    for i, (p_ids, f_ids) in enumerate(zip(prompt_enc, full_enc)):
        prompt_ids, completion_ids = _split(list(p_ids), list(f_ids), where=f"example {i}")
        seqs.append(DPOSequence([bos] + prompt_ids, completion_ids + [eos]))
    groups = list(groups) if groups is not None else list(range(len(seqs)))
    longest: dict[int, int] = {}
    for g, seq in zip(groups, seqs):
        longest[g] = max(longest.get(g, 0), len(seq.completion_ids))
    return [_truncate(seq, longest[g], max_length) for g, seq in zip(groups, seqs)]


def tokenize_pairs(
    tokenizer,
    prompts: Sequence[Any],
    chosen: Sequence[str],
    rejected: Sequence[str],
    *,
    max_length: int = 2048,
) -> list[DPOSequence]:
    """Chosen sequences then rejected ones (``2n``), each pair truncated together as the reference does."""
    n = len(prompts)
    return tokenize(
        tokenizer,
        list(prompts) * 2,
        list(chosen) + list(rejected),
        max_length=max_length,
        groups=list(range(n)) * 2,
    )
