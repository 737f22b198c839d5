"""The cross-benchmark summary: one row per model with every benchmark's overall score and rank, and Kendall's
tau-b between the benchmarks' rankings (views ``benchmark_summary``, ``benchmark_rank_agreement``)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from orchestrator.query.db import connect, stored_query
from orchestrator.results.store import Store


@dataclass(frozen=True)
class Summary:
    """``rows``: one dict per model (``model, kind, <benchmark>, rank <benchmark>, complete <benchmark>, ...,
    mean_rank, n_benchmarks``), best mean rank first; ``benchmarks`` in name order; ``agreement``: one dict per
    benchmark pair (``benchmark_a, benchmark_b, n_models, n_incomplete, kendall_tau``)."""

    rows: list[dict[str, Any]]
    benchmarks: list[str]
    agreement: list[dict[str, Any]]


def summary(results: str | Path | Store) -> Summary:
    con = connect(results, records=False)
    try:
        long = stored_query(con, "summary_scores").to_pylist()
        agreement = stored_query(con, "summary_agreement").to_pylist()
    finally:
        con.close()
    benchmarks = sorted({r["benchmark"] for r in long})
    by_model: dict[str, dict[str, Any]] = {}
    for r in long:
        row = by_model.setdefault(r["model"], {"model": r["model"], "kind": r["kind"]})
        row[r["benchmark"]] = r["score"]
        row[f"rank {r['benchmark']}"] = r["rank"]
        row[f"complete {r['benchmark']}"] = r["complete"]
    rows = []
    for row in by_model.values():
        ranks = [row[f"rank {b}"] for b in benchmarks if f"rank {b}" in row]
        rows.append({**row, "mean_rank": sum(ranks) / len(ranks), "n_benchmarks": len(ranks)})
    rows.sort(key=lambda r: (r["mean_rank"], r["model"]))
    return Summary(rows, benchmarks, agreement)
