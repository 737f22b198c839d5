"""``rayward leaderboard`` and ``rayward benchmarks``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from orchestrator.cli._common import (
    By,
    Format,
    _cancellable,
    _emit,
    _fail,
    app,
    err_console,
)
from orchestrator.errors import RaywardError


def _leaderboard_rows(
    results: str | Path, benchmark: str, by: By
) -> tuple[list[dict[str, Any]], list[str], set[str]]:
    from orchestrator.query.db import leaderboard_rows, read_store, stored_query

    if by is By.category:
        return _category_rows(results, benchmark)
    if by is By.subset:
        long = read_store(
            results,
            lambda con: stored_query(con, "subset_accuracy", benchmark=benchmark).to_pylist(),
            records=False,
        )
        subsets: list[str] = []
        wide: dict[str, dict[str, Any]] = {}
        for r in long:
            if r["subset"] not in subsets:
                subsets.append(r["subset"])
            wide.setdefault(r["model"], {"model": r["model"]})[r["subset"]] = r["accuracy"]
        return list(wide.values()), ["model", *subsets], set(subsets)
    rows, sections = read_store(results, lambda con: leaderboard_rows(con, benchmark), records=False)
    columns = ["model", "kind", *sections, "score"]
    judges = [r for r in rows if r["kind"] == "judge"]
    judge_columns = ["parse_failure_rate", "position_consistency"] if judges else []
    judge_columns += [
        c for c in ("sample_alpha", "member_alpha") if any(r.get(c) is not None for r in judges)
    ]
    if any(r.get("primary_parse_failure_rate") != r.get("parse_failure_rate") for r in judges):
        judge_columns.append("primary_parse_failure_rate")  # a fallback parser rescued some outputs
    columns += judge_columns
    if any(not r["complete"] for r in rows):
        columns += ["complete", "incomplete_subsets"]
    return rows, columns, {*sections, "score", *judge_columns}


def _category_rows(results: str | Path, benchmark: str) -> tuple[list[dict[str, Any]], list[str], set[str]]:
    """PPE human preference accuracy per category and per language (view ``ppe_preference_categories``): one
    column per category in the data table's order, then ``language=<name>`` columns, most battles first."""
    from orchestrator.errors import ConfigError
    from orchestrator.query.db import read_store, stored_query

    long = read_store(
        results, lambda con: stored_query(con, "ppe_categories", benchmark=benchmark).to_pylist()
    )
    if not long and benchmark != "ppe-human":
        raise ConfigError(
            f"--by category: categories are PPE human preference's (ppe-human); {benchmark!r} has none"
        )
    categories: list[str] = []
    wide: dict[str, dict[str, Any]] = {}
    for r in long:  # ordered by the query: categories, then languages by battles
        if r["category"] not in categories:
            categories.append(r["category"])
        wide.setdefault(r["model"], {"model": r["model"], "kind": r["kind"]})[r["category"]] = r["accuracy"]
    return list(wide.values()), ["model", "kind", *categories], set(categories)


def _print_ranking(results: str | Path, benchmark: str, fmt: Format, n_boot: int, seed: int) -> None:
    """PPE's model-level ranking metrics (:mod:`orchestrator.query.ppe_ranking`), one row per reward model."""
    from orchestrator.errors import ConfigError
    from orchestrator.query.db import read_store
    from orchestrator.query.ppe_ranking import ranking_rows

    rows = [
        r.as_row()
        for r in read_store(results, lambda con: ranking_rows(con, benchmark, n_boot=n_boot, seed=seed))
    ]
    if not rows:
        if benchmark != "ppe-human":
            raise ConfigError(
                f"--ranking: the ranking metrics are PPE human preference's (ppe-human), not {benchmark!r}"
            )
        err_console.print(f"no results for benchmark {benchmark!r} in {results}")
        return
    columns = list(rows[0])
    _emit(
        rows,
        columns,
        fmt,
        percent={"separability", "confidence_agreement"},
        title=(
            f"{benchmark} ranking of the battle models: Bradley-Terry from each model's verdicts vs the human votes "
            f"(bootstrap {n_boot} resamples, seed {seed})"
        ),
    )


def _add_cis(
    results: str | Path,
    benchmark: str,
    rows: list[dict[str, Any]],
    columns: list[str],
    fmt: Format,
    n_boot: int,
    seed: int,
    by: By = By.section,
) -> list[str]:
    """Add bootstrap CIs: ``<col>_low``/``<col>_high`` fields (json/csv), or "score [low, high]" cells (table/markdown)."""
    from orchestrator.errors import ConfigError
    from orchestrator.query.db import connect, stored_query
    from orchestrator.query.stats import leaderboard_cis

    con = connect(results)
    try:
        if stored_query(con, "ci_unsupported", benchmark=benchmark).to_pylist()[0]["n"]:
            raise ConfigError(
                f"--ci: bootstrap CIs cover pairwise benchmarks only; {benchmark!r} has best-of-N, Ties, pairwise-judge "
                "records or sections of its own formula"
            )
        cis = leaderboard_cis(con, benchmark, n_boot=n_boot, seed=seed)
    finally:
        con.close()
    if by is By.subset:
        scored = [c for c in columns if c != "model"]
    else:
        scored = [
            c
            for c in columns
            if c
            not in (
                "model",
                "kind",
                "complete",
                "incomplete_subsets",
                "parse_failure_rate",
                "position_consistency",
                "sample_alpha",
                "member_alpha",
                "primary_parse_failure_rate",
            )
        ]
    for r in rows:
        ci = cis.get(r["model"])
        for c in scored:
            if ci is None:
                iv = None
            elif by is By.subset:
                iv = ci.subsets.get(c)
            else:
                iv = ci.overall if c == "score" else ci.sections.get(c)
            if fmt in (Format.json, Format.csv):
                r[f"{c}_low"], r[f"{c}_high"] = (iv.low, iv.high) if iv is not None else (None, None)
            elif r.get(c) is not None and iv is not None:
                r[c] = f"{100 * r[c]:.2f} [{100 * iv.low:.1f}, {100 * iv.high:.1f}]"
    if fmt in (Format.json, Format.csv):
        out = []
        for c in columns:
            out += [c, f"{c}_low", f"{c}_high"] if c in scored else [c]
        return out
    return columns


def _print_leaderboard(
    results: str | Path,
    benchmark: str,
    by: By,
    fmt: Format,
    ci: bool = False,
    n_boot: int = 2000,
    seed: int = 0,
) -> None:
    rows, columns, percent = _leaderboard_rows(results, benchmark, by)
    if ci and by is By.category:
        from orchestrator.errors import ConfigError

        raise ConfigError("--ci: bootstrap CIs cover the sections and subsets, not --by category")
    if ci:
        columns = _add_cis(results, benchmark, rows, columns, fmt, n_boot, seed, by)
    if fmt is Format.json and by is By.section:
        rows = [
            {
                k: r.get(k)
                for k in ("model", "kind", *[c for c in columns if c not in ("model", "kind")], "run_id")
            }
            for r in rows
        ]
    if not rows and fmt is Format.table:
        err_console.print(f"no results for benchmark {benchmark!r} in {results}")
        return
    if fmt is Format.table:  # a quick run (`limit:`) leaves every subset partial: name a few, count the rest
        rows = [{**r, "incomplete_subsets": _abbreviate(r.get("incomplete_subsets"))} for r in rows]
    title = {
        By.section: f"{benchmark} leaderboard (accuracy %)",
        By.subset: f"{benchmark} per-subset accuracy (%)",
        By.category: f"{benchmark} accuracy per category and language (%, ties left out)",
    }[by]
    if ci:
        title += f", bootstrap 95% CI over prompts, {n_boot} resamples, seed {seed}"
    _emit(rows, columns, fmt, percent=percent, title=title)


def _abbreviate(incomplete: str | None, keep: int = 3) -> str | None:
    """``a 2/100, b 2/95, c 2/95, d 2/28`` -> ``a 2/100, b 2/95, c 2/95 (+1 more; --format json lists all)``."""
    parts = incomplete.split(", ") if incomplete else []
    if len(parts) <= keep:
        return incomplete
    return f"{', '.join(parts[:keep])} (+{len(parts) - keep} more; --format json lists all)"


@app.command()
def leaderboard(
    results: str = typer.Option("results", "--results", help="Results store: a directory or a URI."),
    benchmark: str = typer.Option("reward-bench", "--benchmark", help="Benchmark to rank on."),
    by: By = typer.Option(
        By.section,
        "--by",
        help="section (leaderboard), subset (per-subset accuracy) or category (ppe-human: per category and language).",
    ),
    fmt: Format = typer.Option(Format.table, "--format", help="table, json, csv or markdown."),
    ci: bool = typer.Option(False, "--ci", help="Add bootstrap 95% CIs (prompts resampled within subsets)."),
    n_boot: int = typer.Option(2000, "--n-boot", help="Bootstrap resamples for --ci."),
    seed: int = typer.Option(0, "--seed", help="Bootstrap seed for --ci."),
    all_benchmarks: bool = typer.Option(
        False, "--all", help="Cross-benchmark summary: every benchmark's overall score and rank, Kendall tau."
    ),
    ranking: bool = typer.Option(
        False,
        "--ranking",
        help="ppe-human: rank the battle models by each model's verdicts (Bradley-Terry) against the human votes: "
        "Spearman, Kendall, separability, confidence agreement, Brier (--n-boot, --seed).",
    ),
) -> None:
    """Print the leaderboard (latest successful run of each model)."""

    def run() -> None:
        if ranking:
            _print_ranking(results, benchmark, fmt, n_boot, seed)
        elif all_benchmarks:
            from orchestrator.cli._summary import print_summary

            print_summary(results, fmt)
        else:
            _print_leaderboard(results, benchmark, by, fmt, ci, n_boot, seed)

    try:
        _cancellable(run, "leaderboard")
    except RaywardError as exc:
        _fail(exc)


@app.command()
def benchmarks(
    fmt: Format = typer.Option(Format.table, "--format", help="table, json, csv or markdown."),
) -> None:
    """List the benchmarks: loader, default data, and each section's subsets, rules and weights (the data tables)."""
    from orchestrator.benchmarks import table_rows

    sections = {(r["benchmark"], r["section"]): r for r in table_rows("sections")}
    bench = {r["benchmark"]: r for r in table_rows("benchmarks")}
    rows = []
    for r in table_rows("subsets"):
        sec = sections.get((r["benchmark"], r["section"]), {})
        b = bench[r["benchmark"]]
        rows.append(
            {
                "benchmark": r["benchmark"],
                "loader": b["loader"],
                "default_source": b["default_source"],
                "section": r["section"] or "(unscored)",
                "section_weight": sec.get("section_weight", ""),
                "optional": sec.get("optional", ""),
                "subset": r["subset"],
                "rule": r["rule"],
                "weight": r["weight"],
                "n_expected": r["n_expected"],
            }
        )
    rows.append(
        {
            "benchmark": "custom",
            "loader": "custom",
            "default_source": "",
            "section": "(each subset)",
            "section_weight": "1",
            "optional": "",
            "subset": "(any)",
            "rule": "pairwise or best-of-n",
            "weight": "1",
            "n_expected": "",
        }
    )
    _emit(rows, list(rows[0]), fmt, title="benchmarks (orchestrator/benchmarks/data/*.csv)")
