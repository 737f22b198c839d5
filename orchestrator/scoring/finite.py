"""Scores that cannot be right: NaN or infinite scores become error records, never comparisons.

A head whose weights are NaN (or a model that overflows) gives NaN logits; ``NaN > NaN`` is false, so every
such example would silently count as wrong with status ``ok``. The scoring worker and ``rayward import`` pass
their columns through :func:`non_finite_rows` and :func:`as_error_rows`: each row with a non-finite value
in a score column becomes a record with ``error`` = ``NonFiniteScore: <column> is nan`` and null scores
(so it counts as wrong, as any error record), and ``failures.max_error_rate`` decides whether the model fails.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

SCORE_COLUMNS = (
    "score_chosen",
    "score_rejected",
    "logp_chosen",
    "logp_rejected",
    "ref_logp_chosen",
    "ref_logp_rejected",
)
"""Float columns whose value must be finite when present (null is allowed: a judge's unparsed score)."""

LIST_SCORE_COLUMNS = ("scores_chosen", "scores_rejected")
"""List columns (best-of-N) every element of which must be finite."""

NULLED_ON_ERROR = SCORE_COLUMNS + LIST_SCORE_COLUMNS
"""Columns cleared in an error record (the texts and token counts stay)."""


def _bad(value: Any) -> str | None:
    if value is None:
        return None
    try:
        x = float(value)
    except (TypeError, ValueError):
        return f"{value!r}"
    if math.isfinite(x):
        return None
    return "nan" if math.isnan(x) else ("inf" if x > 0 else "-inf")


def _values(column: Any) -> list[Any]:
    if hasattr(column, "to_pylist"):
        return column.to_pylist()
    if hasattr(column, "tolist"):
        return column.tolist()
    return list(column)


def non_finite_rows(columns: dict[str, Any], n: int) -> dict[int, str]:
    """Row position -> ``NonFiniteScore: ...`` for every row with a NaN/inf score in ``columns``."""
    found: dict[int, str] = {}
    for name in SCORE_COLUMNS:
        if name not in columns:
            continue
        for row, value in enumerate(_values(columns[name])):
            what = _bad(value)
            if what is not None and row not in found:
                found[row] = f"NonFiniteScore: {name} is {what}"
    for name in LIST_SCORE_COLUMNS:
        if name not in columns:
            continue
        for row, values in enumerate(_values(columns[name])):
            if row in found or values is None:
                continue
            for i, value in enumerate(values):
                what = _bad(value)
                if what is not None:
                    found[row] = f"NonFiniteScore: {name}[{i}] is {what}"
                    break
    return {row: found[row] for row in sorted(found) if row < n}


def as_error_rows(
    columns: dict[str, Any], errors: Sequence[str | None] | None, bad: dict[int, str], n: int
) -> tuple[dict[str, list[Any]], list[str | None]]:
    """``columns`` and the ``error`` column with each row of ``bad`` made an error record (scores null,
    ``correct`` false); other rows unchanged."""
    out = {k: _values(v) for k, v in columns.items()}
    errs: list[str | None] = list(errors) if errors is not None else [None] * n
    for row, message in bad.items():
        for name in NULLED_ON_ERROR:
            if name in out:
                out[name][row] = None
        if "correct" in out:
            out["correct"][row] = False
        errs[row] = message
    return out, errs
