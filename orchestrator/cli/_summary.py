"""``rayward leaderboard --all``: the cross-benchmark summary (see :mod:`orchestrator.query.summary`)."""

from __future__ import annotations

import json
import sys

from orchestrator.cli._common import Format, _emit, err_console


def print_summary(results: str, fmt: Format) -> None:
    """Scores and ranks per model across benchmarks, then Kendall's tau-b between the benchmarks' rankings."""
    from orchestrator.query.summary import summary

    s = summary(results)
    if fmt is Format.json:
        sys.stdout.write(
            json.dumps({"benchmarks": s.benchmarks, "models": s.rows, "kendall_tau": s.agreement}, indent=2)
            + "\n"
        )
        return
    if not s.rows:
        err_console.print(f"no results in {results}")
        return
    columns = ["model", "kind"]
    for b in s.benchmarks:
        columns += [b, f"rank {b}"]
    columns += ["mean_rank", "n_benchmarks"]
    rows = s.rows
    if fmt is not Format.csv:  # an incomplete row's score is marked, never shown as if complete
        rows = [
            {
                **r,
                **{
                    b: (f"{100 * r[b]:.2f}" + ("" if r.get(f"complete {b}") else " *"))
                    if r.get(b) is not None
                    else None
                    for b in s.benchmarks
                },
            }
            for r in rows
        ]
    else:
        columns += [f"complete {b}" for b in s.benchmarks]
    _emit(rows, columns, fmt, title="all benchmarks: overall score % (* incomplete) and rank")
    if fmt is Format.csv:
        return
    _emit(
        s.agreement,
        ["benchmark_a", "benchmark_b", "n_models", "n_incomplete", "kendall_tau"],
        fmt,
        title="rank agreement between benchmarks (Kendall tau-b over shared models)",
    )
