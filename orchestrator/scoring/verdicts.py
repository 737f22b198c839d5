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
