"""The steps ``rayward run`` takes after a run (job key ``after_run``): leaderboard files and the regression check.

The regression check compares each model that finished in the new run with that model's previous successful run
on the same benchmark (the newest one that started before it), paired on the same examples as ``rayward diff``
(:func:`orchestrator.query.compare.diff_runs`); a section or the overall score that fell by more than
``max_drop_points`` percentage points is a :class:`Drop`. The paired tests cover pairwise records; a best-of-N
benchmark is skipped, with the reason reported.
"""

from __future__ import annotations

import csv
import functools
import io
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from orchestrator.config import AfterRun
from orchestrator.results.records import encode_part
from orchestrator.results.store import Store, open_store

LEADERBOARDS_DIR = "leaderboards"
REGRESSION_EXIT_CODE = 3


@dataclass(frozen=True)
class Drop:
    """A section (or ``overall``) of one model that fell by more than the threshold."""

    model: str
    benchmark: str
    section: str
    old_run: str
    new_run: str
    old: float
    new: float

    @property
    def points(self) -> float:
        """The change in percentage points (negative: a drop)."""
        return 100 * (self.new - self.old)

    def __str__(self) -> str:
        return (
            f"{self.model} on {self.benchmark}: {self.section} {100 * self.old:.2f} -> {100 * self.new:.2f} "
            f"({self.points:+.2f} points; run {self.old_run} -> {self.new_run})"
        )


@dataclass
class RegressionReport:
    """What the regression check compared, skipped and found."""

    max_drop_points: float
    compared: list[tuple[str, str, str, str]] = field(
        default_factory=list
    )  # (model, benchmark, old run, new run)
    skipped: list[str] = field(default_factory=list)
    drops: list[Drop] = field(default_factory=list)


@dataclass
class AfterRunReport:
    files: list[Path | str] = field(default_factory=list)
    regression: RegressionReport | None = None

    @property
    def exit_code(self) -> int:
        return REGRESSION_EXIT_CODE if self.regression and self.regression.drops else 0


def write_leaderboards(
    results: str | Path | Store, benchmarks: Iterable[str], formats: Iterable[str]
) -> list[Path | str]:
    """Write each benchmark's leaderboard as ``leaderboards/<benchmark>.<format>`` (json: a list of rows, as
    ``rayward leaderboard --format json``; csv: one row per model). Each file is replaced atomically."""
    from orchestrator.query.db import leaderboard_rows, read_store

    store = open_store(results)
    formats = list(dict.fromkeys(formats))
    names = list(dict.fromkeys(benchmarks))
    boards = read_store(store, lambda con: [leaderboard_rows(con, bench) for bench in names], records=False)
    written: list[Path | str] = []
    for bench, (rows, sections) in zip(names, boards):
        columns = ["model", "kind", *sections, "score", "complete", "incomplete_subsets", "run_id"]
        rows = [{c: r.get(c) for c in columns} for r in rows]
        for fmt in formats:
            data = _render(rows, columns, fmt)
            rel = f"{LEADERBOARDS_DIR}/{encode_part(bench)}.{fmt}"
            written.append(store.write_atomic(rel, functools.partial(_put, data=data)))
    return written


def _render(rows: list[dict[str, Any]], columns: list[str], fmt: str) -> bytes:
    if fmt == "json":
        return (json.dumps(rows, indent=2, default=str) + "\n").encode()
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buf.getvalue().encode()


def _put(target: Any, data: bytes) -> None:
    if isinstance(target, str):
        Path(target).write_bytes(data)
    else:
        target.write(data)


def check_regressions(
    results: str | Path | Store,
    run_id: str,
    finished: Iterable[tuple[str, str]],
    max_drop_points: float,
    *,
    n_boot: int = 1000,
    seed: int = 0,
) -> RegressionReport:
    """Compare each ``(model, benchmark)`` that finished in ``run_id`` with its previous successful run."""
    from orchestrator.query.compare import diff_runs
    from orchestrator.query.db import connect, stored_query

    report = RegressionReport(max_drop_points)
    con = connect(results)
    try:
        for model, bench in finished:
            runs = [
                r["run_id"] for r in stored_query(con, "model_runs", benchmark=bench, model=model).to_pylist()
            ]
            older = [r for r in runs if r < run_id]
            if not older:
                report.skipped.append(f"{model} on {bench}: no previous successful run")
                continue
            if stored_query(con, "run_best_of_n", benchmark=bench, model=model, run_id=run_id).to_pylist()[0][
                "n"
            ]:
                report.skipped.append(
                    f"{model} on {bench}: best-of-N records (the paired check covers pairwise benchmarks)"
                )
                continue
            old = older[-1]
            comp = diff_runs(con, model, old, run_id, bench, n_boot=n_boot, seed=seed)
            report.compared.append((model, bench, old, run_id))
            for d in [*comp.sections, comp.overall]:
                if d.delta == d.delta and -100 * d.delta > max_drop_points:
                    report.drops.append(Drop(model, bench, d.name, old, run_id, d.score_b, d.score_a))
    finally:
        con.close()
    return report


def after_run(
    config: AfterRun,
    results: str | Path | Store,
    run_id: str,
    finished: list[tuple[str, str]],
    benchmarks: list[str],
) -> AfterRunReport:
    """Run the ``after_run`` steps for a finished run (``finished``: the (model, benchmark) pairs that succeeded)."""
    report = AfterRunReport()
    if config.leaderboard_files:
        report.files = write_leaderboards(results, benchmarks, config.leaderboard_files)
    if config.regression_check is not None:
        report.regression = check_regressions(
            results, run_id, finished, config.regression_check.max_drop_points
        )
    return report
