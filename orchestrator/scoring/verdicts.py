"""Parsing judge outputs into verdicts. Pure functions that never raise on any text.

* rubric: the **last** ``Score: N`` in the output (case-insensitive, optional ``**`` bold around the number) with
  N an integer from 0 to 5; anything else (no score line, 7, 2.5) is a parse failure (``None``);
* pairwise: ``[[A]]`` or ``[[B]]``; an output naming both, or neither, is a parse failure. (The reference takes
  ``[[A]]`` whenever it appears; an output carrying both labels is ambiguous, so we count it as unparseable.)
"""

from __future__ import annotations

import re

SCORE_MIN, SCORE_MAX = 0, 5

_SCORE_RE = re.compile(r"score\s*:\s*\**\s*([0-9]+(?:\.[0-9]+)?)", re.IGNORECASE)


def parse_score(text: str) -> float | None:
    """The rubric score of a judge output, or ``None`` when it has no valid ``Score: N`` (N in 0..5)."""
    if not isinstance(text, str):
        return None
    matches = _SCORE_RE.findall(text)
    if not matches:
        return None
    value = matches[-1]
    if "." in value:
        whole, frac = value.split(".", 1)
        if frac.strip("0"):
            return None  # 2.5 is not a point count
        value = whole
    number = int(value)
    return float(number) if SCORE_MIN <= number <= SCORE_MAX else None


def parse_pair(text: str) -> str | None:
    """``"A"`` or ``"B"``, the response a pairwise judge output prefers, or ``None`` (neither or both named)."""
    if not isinstance(text, str):
        return None
    a, b = "[[A]]" in text, "[[B]]" in text
    if a == b:
        return None
    return "A" if a else "B"


# --------------------------------------------------------------------- the reference's semantics and RewardBench 2

RATING_MIN, RATING_MAX = 1, 10
RATING_FAILED = -1.0
"""The reference's value of a rating that did not parse (``get_single_rating`` returns -1)."""

_RATING_RE = re.compile(r"\b([1-9]|10)\b\s*$")
_LABELS = ("A", "B", "C", "D")


def parse_rating(text: str) -> float | None:
    """A 1-10 rating: the number that ends the (stripped) output, as the reference reads it; ``None`` otherwise."""
    if not isinstance(text, str):
        return None
    m = _RATING_RE.search(text.strip())
    return float(m.group(1)) if m else None


def parse_label(text: str, labels: tuple[str, ...] = ("A", "B"), *, first_wins: bool = False) -> str | None:
    """The label ``[[X]]`` an output names, among ``labels``. Strict (default): exactly one label named, else
    ``None``. ``first_wins`` (``protocol: rewardbench``): the first label in ``labels`` order that appears, as the
    reference's ``process_judgement`` checks ``[[A]]`` before ``[[B]]`` (before ``[[C]]``, ``[[D]]``)."""
    if not isinstance(text, str):
        return None
    named = [x for x in labels if f"[[{x}]]" in text]
    if not named:
        return None
    if first_wins:
        return named[0]
    return named[0] if len(named) == 1 else None


def four_way_labels() -> tuple[str, ...]:
    return _LABELS
