"""Uncertainty of the leaderboard: seeded cluster bootstrap CIs and exact McNemar tests (numpy only).

Resampling scheme (documented because tests reproduce it draw by draw):

* Stratified by subset, subsets in sorted order; inside a subset the unit is the *prompt*
  (rows sharing the same prompt text form one cluster; a row without a prompt is its own cluster).
* For each subset, ``rng.integers(0, k, size=(n_boot, k))`` draws ``k`` clusters with replacement
  (``rng = numpy.random.default_rng(seed)``); the subset's replicate accuracy is
  ``sum(correct in drawn clusters) / sum(rows in drawn clusters)``.
* Section and overall replicates use the weights of ``benchmark_subsets`` / ``benchmark_sections``
  exactly as the SQL views do (weighted mean over the subsets / sections present).
* The CI is the percentile interval (``numpy.percentile``, linear interpolation).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

DEFAULT_N_BOOT = 2000
DEFAULT_SEED = 0
MIN_RESAMPLING_UNITS = 20
"""Fewest resampling units (prompt clusters, over all subsets resampled together) a bootstrap CI or p-value is
given for; below it the interval is NaN and a paired p-value is refused, with a note saying why (two examples
can never give ``p < 0.0005``)."""


def _too_few(n_units: int, minimum: int = MIN_RESAMPLING_UNITS) -> str | None:
    if n_units >= minimum:
        return None
    return f"bootstrap refused: {n_units} resampling unit(s) (prompts), fewer than the {minimum} it needs"


@dataclass(frozen=True)
class Weights:
    """Subset -> (section, weight) and section -> weight, as in the SQL tables."""

    subset_section: dict[str, str]
    subset_weight: dict[str, float]
    section_weight: dict[str, float]
    section_order: list[str] = field(default_factory=list)

    @classmethod
    def from_rows(cls, rows: Iterable[dict[str, Any]]) -> Weights:
        rows = list(rows)
        order: list[str] = []
        for r in rows:
            if r["section"] not in order:
                order.append(r["section"])
        return cls(
            subset_section={r["subset"]: r["section"] for r in rows},
            subset_weight={r["subset"]: float(r["weight"]) for r in rows},
            section_weight={r["section"]: float(r["section_weight"]) for r in rows},
            section_order=order,
        )


@dataclass(frozen=True)
class Interval:
    score: float
    low: float
    high: float
    note: str | None = None
    """Why the interval is NaN (too few resampling units), else None."""


@dataclass(frozen=True)
class ScoreCIs:
    """Point scores (as the SQL computes them) and bootstrap percentile intervals."""

    subsets: dict[str, Interval]
    sections: dict[str, Interval]
    overall: Interval


# ----------------------------------------------------------------- clustering


def _clusters(rows: list[dict[str, Any]]) -> tuple[np.ndarray, np.ndarray]:
    """(correct per cluster, rows per cluster) of one subset's rows, clustered by prompt text."""
    keys: dict[Any, int] = {}
    correct: list[int] = []
    count: list[int] = []
    for i, r in enumerate(rows):
        key = ("p", r["prompt"]) if r.get("prompt") is not None else ("row", i)
        j = keys.setdefault(key, len(keys))
        if j == len(correct):
            correct.append(0)
            count.append(0)
        correct[j] += bool(r["correct"])
        count[j] += 1
    return np.asarray(correct, dtype=np.int64), np.asarray(count, dtype=np.int64)


def _by_subset(rows: Iterable[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        out.setdefault(r["subset"], []).append(r)
    return dict(sorted(out.items()))


def _combine(subset_values: dict[str, Any], weights: Weights) -> tuple[dict[str, Any], Any]:
    """Section and overall values (scalars or replicate arrays) from subset values, SQL-style."""
    sections: dict[str, Any] = {}
    for section in weights.section_order:
        present = [s for s in subset_values if weights.subset_section.get(s) == section]
        if present:
            total = sum(weights.subset_weight[s] for s in present)
            sections[section] = sum(subset_values[s] * weights.subset_weight[s] for s in present) / total
    total = sum(weights.section_weight[s] for s in sections)
    overall = sum(sections[s] * weights.section_weight[s] for s in sections) / total if sections else math.nan
    return sections, overall


def _known(rows: list[dict[str, Any]], weights: Weights) -> dict[str, list[dict[str, Any]]]:
    # subsets without a weight are outside the leaderboard (the SQL joins drop them too)
    return {s: rs for s, rs in _by_subset(rows).items() if s in weights.subset_weight}


def _interval(point: float, reps: np.ndarray, level: float) -> Interval:
    alpha = (1 - level) / 2
    low, high = np.percentile(reps, [100 * alpha, 100 * (1 - alpha)])
    return Interval(float(point), float(low), float(high))


# ----------------------------------------------------------------- bootstrap


def bootstrap_scores(
    rows: Iterable[dict[str, Any]],
    weights: Weights,
    *,
    n_boot: int = DEFAULT_N_BOOT,
    seed: int = DEFAULT_SEED,
    level: float = 0.95,
    min_units: int = MIN_RESAMPLING_UNITS,
) -> ScoreCIs:
    """CIs for one model's subset, section and overall scores. ``rows``: dicts with subset, prompt, correct.
    An interval over fewer than ``min_units`` resampling units is NaN with a ``note``."""
    by_subset = _known(list(rows), weights)
    rng = np.random.default_rng(seed)
    points: dict[str, float] = {}
    reps: dict[str, np.ndarray] = {}
    for subset, subset_rows in by_subset.items():
        correct, count = _clusters(subset_rows)
        points[subset] = correct.sum() / count.sum()
        idx = rng.integers(0, len(correct), size=(n_boot, len(correct)))
        reps[subset] = correct[idx].sum(axis=1) / count[idx].sum(axis=1)
    point_sections, point_overall = _combine(points, weights)
    rep_sections, rep_overall = _combine(reps, weights)
    units = {s: len(_clusters(rs)[0]) for s, rs in by_subset.items()}

    def interval(point: float, rep: np.ndarray, n_units: int) -> Interval:
        note = _too_few(n_units, min_units)
        if note:
            return Interval(float(point), math.nan, math.nan, note)
        return _interval(point, rep, level)

    section_units = {
        sec: sum(n for s, n in units.items() if weights.subset_section.get(s) == sec)
        for sec in point_sections
    }
    return ScoreCIs(
        subsets={s: interval(points[s], reps[s], units[s]) for s in points},
        sections={s: interval(point_sections[s], rep_sections[s], section_units[s]) for s in point_sections},
        overall=interval(point_overall, rep_overall, sum(units.values()))
        if point_sections
        else Interval(math.nan, math.nan, math.nan),
    )


def leaderboard_cis(
    con: Any,
    benchmark: str = "reward-bench",
    *,
    n_boot: int = DEFAULT_N_BOOT,
    seed: int = DEFAULT_SEED,
    level: float = 0.95,
) -> dict[str, ScoreCIs]:
    """Bootstrap CIs of every model on the leaderboard (each model resampled with the same seed)."""
    from orchestrator.query.db import stored_query

    weights = Weights.from_rows(stored_query(con, "stats_weights", benchmark=benchmark).to_pylist())
    by_model: dict[str, list[dict[str, Any]]] = {}
    for r in stored_query(con, "stats_latest_outcomes", benchmark=benchmark).to_pylist():
        by_model.setdefault(r["model"], []).append(r)
    return {
        m: bootstrap_scores(rows, weights, n_boot=n_boot, seed=seed, level=level)
        for m, rows in by_model.items()
    }


# ----------------------------------------------------------------- paired tests


def mcnemar_exact(a_only: int, b_only: int) -> float:
    """Two-sided exact McNemar p-value: a binomial(n = discordant pairs, 1/2) test on ``a_only``."""
    n = a_only + b_only
    if n == 0:
        return 1.0
    k = min(a_only, b_only)
    tail = sum(math.comb(n, i) for i in range(k + 1))
    return min(1.0, 2 * tail / 2**n)


@dataclass(frozen=True)
class PairedDelta:
    """Score of A, score of B, their difference (A - B), and its test."""

    name: str
    n: int
    score_a: float
    score_b: float
    delta: float
    a_only: int
    b_only: int
    p: float
    low: float | None = None
    high: float | None = None
    note: str | None = None
    """Why ``p`` is NaN (the bootstrap was refused: too few resampling units), else None."""


@dataclass(frozen=True)
class PairedComparison:
    subsets: list[PairedDelta]
    sections: list[PairedDelta]
    overall: PairedDelta
    n_unpaired: int


def pair_outcomes(
    a_rows: Iterable[dict[str, Any]], b_rows: Iterable[dict[str, Any]]
) -> tuple[list[dict[str, Any]], int]:
    """Join two outcome lists on (subset, example_id): rows with subset, prompt, a, b; and the count left unpaired."""
    b_index = {(r["subset"], r["example_id"]): r for r in b_rows}
    paired, seen = [], set()
    a_list = list(a_rows)
    for r in a_list:
        key = (r["subset"], r["example_id"])
        other = b_index.get(key)
        if other is not None and key not in seen:
            seen.add(key)
            paired.append(
                {
                    "subset": r["subset"],
                    "prompt": r.get("prompt"),
                    "a": bool(r["correct"]),
                    "b": bool(other["correct"]),
                }
            )
    unpaired = len(a_list) + len(b_index) - 2 * len(paired)
    return paired, unpaired


def paired_comparison(
    pairs: list[dict[str, Any]],
    weights: Weights,
    *,
    n_boot: int = DEFAULT_N_BOOT,
    seed: int = DEFAULT_SEED,
    level: float = 0.95,
    min_units: int = MIN_RESAMPLING_UNITS,
) -> PairedComparison:
    """Exact McNemar per subset and per section (discordant pairs pooled over the section's subsets);
    for the overall score a paired cluster bootstrap of ``overall(A) - overall(B)`` (same resamples for both),
    with the two-sided p-value ``min(1, 2 * min(P(d <= 0), P(d >= 0)))`` over the replicates."""
    by_subset = _known(pairs, weights)
    rng = np.random.default_rng(seed)
    subset_rows: list[PairedDelta] = []
    acc_a: dict[str, float] = {}
    acc_b: dict[str, float] = {}
    rep_a: dict[str, np.ndarray] = {}
    rep_b: dict[str, np.ndarray] = {}
    disc: dict[str, tuple[int, int, int]] = {}
    for subset, rows in by_subset.items():
        a_only = sum(r["a"] and not r["b"] for r in rows)
        b_only = sum(r["b"] and not r["a"] for r in rows)
        disc[subset] = (len(rows), a_only, b_only)
        ca, count = _clusters([{"prompt": r["prompt"], "correct": r["a"]} for r in rows])
        cb, _ = _clusters([{"prompt": r["prompt"], "correct": r["b"]} for r in rows])
        acc_a[subset], acc_b[subset] = ca.sum() / count.sum(), cb.sum() / count.sum()
        idx = rng.integers(0, len(count), size=(n_boot, len(count)))
        n = count[idx].sum(axis=1)
        rep_a[subset], rep_b[subset] = ca[idx].sum(axis=1) / n, cb[idx].sum(axis=1) / n
        subset_rows.append(
            PairedDelta(
                subset,
                len(rows),
                float(acc_a[subset]),
                float(acc_b[subset]),
                float(acc_a[subset] - acc_b[subset]),
                a_only,
                b_only,
                mcnemar_exact(a_only, b_only),
            )
        )
    sec_a, all_a = _combine(acc_a, weights)
    sec_b, all_b = _combine(acc_b, weights)
    section_rows = []
    for section in sec_a:
        members = [s for s in disc if weights.subset_section[s] == section]
        n = sum(disc[s][0] for s in members)
        a_only = sum(disc[s][1] for s in members)
        b_only = sum(disc[s][2] for s in members)
        section_rows.append(
            PairedDelta(
                section,
                n,
                float(sec_a[section]),
                float(sec_b[section]),
                float(sec_a[section] - sec_b[section]),
                a_only,
                b_only,
                mcnemar_exact(a_only, b_only),
            )
        )
    n_all = sum(d[0] for d in disc.values())
    a_all = sum(d[1] for d in disc.values())
    b_all = sum(d[2] for d in disc.values())
    n_units = sum(
        len(_clusters([{"prompt": r["prompt"], "correct": r["a"]} for r in rs])[0])
        for rs in by_subset.values()
    )
    refused = _too_few(n_units, min_units) if by_subset else None
    if refused:
        overall = PairedDelta(
            "overall",
            n_all,
            float(all_a),
            float(all_b),
            float(all_a - all_b),
            a_all,
            b_all,
            math.nan,
            note=refused,
        )
    elif by_subset:
        _, rep_all_a = _combine(rep_a, weights)
        _, rep_all_b = _combine(rep_b, weights)
        d = rep_all_a - rep_all_b
        p = min(1.0, 2 * min(float(np.mean(d <= 0)), float(np.mean(d >= 0))))
        alpha = (1 - level) / 2
        low, high = np.percentile(d, [100 * alpha, 100 * (1 - alpha)])
        overall = PairedDelta(
            "overall",
            n_all,
            float(all_a),
            float(all_b),
            float(all_a - all_b),
            a_all,
            b_all,
            p,
            float(low),
            float(high),
        )
    else:
        overall = PairedDelta("overall", 0, math.nan, math.nan, math.nan, 0, 0, 1.0)
    return PairedComparison(subset_rows, section_rows, overall, 0)


def format_p(p: float, n_boot: int | None = None) -> str:
    if n_boot and p == 0:
        return f"p < {1 / n_boot:.2g}"
    return f"p = {p:.3g}" if p >= 0.001 else f"p = {p:.1e}"


def verdict(
    comp: PairedComparison, name_a: str, name_b: str, *, alpha: float = 0.05, n_boot: int | None = None
) -> str:
    """In words: which sections and the overall score differ significantly (at ``alpha``)."""
    parts = []
    for d in comp.sections:
        if d.p < alpha and d.delta != 0:
            better = name_a if d.delta > 0 else name_b
            parts.append(f"{better} better on {d.name}, {format_p(d.p)}")
    o = comp.overall
    if o.note:
        pooled = mcnemar_exact(o.a_only, o.b_only)
        parts.append(
            f"overall not tested: {o.note}; exact McNemar over all {o.n} pairs: {format_p(pooled)} "
            f"({o.a_only} won by {name_a} alone, {o.b_only} by {name_b} alone)"
        )
    elif o.p < alpha and o.delta != 0:
        better = name_a if o.delta > 0 else name_b
        parts.append(f"{better} better overall, {format_p(o.p, n_boot)}")
    else:
        parts.append(f"no significant difference overall ({format_p(o.p, n_boot)})")
    return "; ".join(parts)
