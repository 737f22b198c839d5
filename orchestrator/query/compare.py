"""Paired comparisons on the same examples: two models (``rayward compare``) or two runs of one model (``rayward diff``)."""

from __future__ import annotations

import dataclasses
from typing import Any

from orchestrator.errors import QueryError
from orchestrator.query.stats import (
    DEFAULT_N_BOOT,
    DEFAULT_SEED,
    PairedComparison,
    Weights,
    pair_outcomes,
    paired_comparison,
)


def _weights(con: Any, benchmark: str) -> Weights:
    from orchestrator.query.db import stored_query

    return Weights.from_rows(stored_query(con, "stats_weights", benchmark=benchmark).to_pylist())


def _compare(
    con: Any,
    a_rows: list[dict[str, Any]],
    b_rows: list[dict[str, Any]],
    benchmark: str,
    n_boot: int,
    seed: int,
) -> PairedComparison:
    pairs, unpaired = pair_outcomes(a_rows, b_rows)
    comp = paired_comparison(pairs, _weights(con, benchmark), n_boot=n_boot, seed=seed)
    return dataclasses.replace(comp, n_unpaired=unpaired)


def compare_models(
    con: Any,
    model_a: str,
    model_b: str,
    benchmark: str = "reward-bench",
    *,
    n_boot: int = DEFAULT_N_BOOT,
    seed: int = DEFAULT_SEED,
) -> PairedComparison:
    """A vs B on the examples both latest successful runs scored (joined on subset and example_id)."""
    from orchestrator.query.db import stored_query

    rows = stored_query(con, "stats_latest_outcomes", benchmark=benchmark).to_pylist()
    by_model = {m: [r for r in rows if r["model"] == m] for m in (model_a, model_b)}
    for m, mine in by_model.items():
        if not mine:
            known = sorted({r["model"] for r in rows})
            raise QueryError(
                f"no successful run of model {m!r} on benchmark {benchmark!r}; models: {', '.join(known) or 'none'}"
            )
    return _compare(con, by_model[model_a], by_model[model_b], benchmark, n_boot, seed)


def resolve_runs(
    con: Any, model: str, old: str | None = None, new: str | None = None, benchmark: str = "reward-bench"
) -> tuple[str, str]:
    """(old, new) run ids: by default the latest and the previous successful run of ``model``."""
    from orchestrator.query.db import stored_query

    runs = [
        r["run_id"] for r in stored_query(con, "model_runs", benchmark=benchmark, model=model).to_pylist()
    ]
    if old is None and new is None:
        if len(runs) < 2:
            raise QueryError(
                f"model {model!r} has {len(runs)} successful run(s) on {benchmark!r}; diff needs two "
                "(or give --runs OLD NEW)"
            )
        return runs[-2], runs[-1]
    if old is None or new is None:
        raise QueryError("--runs needs two run ids: OLD NEW")
    return old, new


def diff_runs(
    con: Any,
    model: str,
    old: str,
    new: str,
    benchmark: str = "reward-bench",
    *,
    n_boot: int = DEFAULT_N_BOOT,
    seed: int = DEFAULT_SEED,
) -> PairedComparison:
    """NEW vs OLD run of one model (A = new, B = old: a positive delta is an improvement)."""
    from orchestrator.query.db import stored_query

    rows = {}
    for run_id in (old, new):
        rows[run_id] = stored_query(
            con, "stats_run_outcomes", benchmark=benchmark, model=model, run_id=run_id
        ).to_pylist()
        if not rows[run_id]:
            raise QueryError(f"no records of model {model!r} in run {run_id!r} on benchmark {benchmark!r}")
    return _compare(con, rows[new], rows[old], benchmark, n_boot, seed)


def section_drops(comp: PairedComparison, max_drop_points: float) -> list[str]:
    """Sections (and 'overall') whose score fell by more than ``max_drop_points`` percentage points."""
    return [
        d.name
        for d in [*comp.sections, comp.overall]
        if d.delta == d.delta and -100 * d.delta > max_drop_points
    ]
