"""``rayward compare`` and ``rayward diff``."""

from __future__ import annotations

import json
import sys
from typing import Any, Optional

import typer

from orchestrator.cli._common import (
    Format,
    _emit,
    _fail,
    app,
    console,
    err_console,
)
from orchestrator.errors import RaywardError


def _comparison_rows(comp: Any) -> list[dict[str, Any]]:
    rows = []
    for level, items in (("subset", comp.subsets), ("section", comp.sections), ("overall", [comp.overall])):
        for d in items:
            rows.append(
                {
                    "level": level,
                    "name": d.name,
                    "n": d.n,
                    "a": d.score_a,
                    "b": d.score_b,
                    "delta": d.delta,
                    "a_only": d.a_only,
                    "b_only": d.b_only,
                    "p": d.p,
                    "delta_low": d.low,
                    "delta_high": d.high,
                }
            )
    return rows


def _print_comparison(
    comp: Any, name_a: str, name_b: str, fmt: Format, title: str, n_boot: int, verdict_text: str
) -> None:
    rows = _comparison_rows(comp)
    if fmt is Format.json:
        sys.stdout.write(
            json.dumps(
                {
                    "a": name_a,
                    "b": name_b,
                    "n_unpaired": comp.n_unpaired,
                    "verdict": verdict_text,
                    "rows": rows,
                },
                indent=2,
                default=str,
            )
            + "\n"
        )
        return
    columns = ["level", "name", "n", "a", "b", "delta", "a_only", "b_only", "p", "delta_low", "delta_high"]
    _emit(rows, columns, fmt, percent={"a", "b", "delta", "delta_low", "delta_high"}, title=title)
    if fmt is not Format.csv:
        if comp.n_unpaired:
            err_console.print(f"{comp.n_unpaired} example(s) scored by only one side were left out")
        console.print(verdict_text, highlight=False)


@app.command()
def compare(
    model_a: str = typer.Argument(..., help="Model A."),
    model_b: str = typer.Argument(..., help="Model B."),
    results: str = typer.Option("results", "--results", help="Results store: a directory or a URI."),
    benchmark: str = typer.Option("reward-bench", "--benchmark"),
    fmt: Format = typer.Option(Format.table, "--format", help="table, json, csv or markdown."),
    alpha: float = typer.Option(0.05, "--alpha", help="Significance level of the verdict."),
    n_boot: int = typer.Option(2000, "--n-boot"),
    seed: int = typer.Option(0, "--seed"),
) -> None:
    """Paired comparison of two models on the same examples (exact McNemar; paired bootstrap overall)."""
    from orchestrator.query.compare import compare_models
    from orchestrator.query.db import connect
    from orchestrator.query.stats import verdict

    try:
        con = connect(results)
        comp = compare_models(con, model_a, model_b, benchmark, n_boot=n_boot, seed=seed)
    except RaywardError as exc:
        _fail(exc)
    text = verdict(comp, model_a, model_b, alpha=alpha, n_boot=n_boot)
    _print_comparison(
        comp, model_a, model_b, fmt, f"{model_a} (a) vs {model_b} (b), accuracy %", n_boot, text
    )


@app.command()
def diff(
    model: str = typer.Argument(..., help="The model whose runs to compare."),
    runs: Optional[tuple[str, str]] = typer.Option(
        None, "--runs", help="OLD NEW run ids (default: previous and latest successful run)."
    ),
    results: str = typer.Option("results", "--results", help="Results store: a directory or a URI."),
    benchmark: str = typer.Option("reward-bench", "--benchmark"),
    fmt: Format = typer.Option(Format.table, "--format", help="table, json, csv or markdown."),
    fail_on_drop: Optional[float] = typer.Option(
        None, "--fail-on-drop", help="Exit 1 if a section (or overall) falls by more than X points."
    ),
    alpha: float = typer.Option(0.05, "--alpha"),
    n_boot: int = typer.Option(2000, "--n-boot"),
    seed: int = typer.Option(0, "--seed"),
) -> None:
    """Per-subset and per-section deltas between two runs of one model (a = new, b = old), with significance."""
    from orchestrator.query.compare import diff_runs, resolve_runs, section_drops
    from orchestrator.query.db import connect
    from orchestrator.query.stats import verdict

    try:
        con = connect(results)
        wanted_old, wanted_new = runs or (None, None)
        old, new = resolve_runs(con, model, wanted_old, wanted_new, benchmark=benchmark)
        comp = diff_runs(con, model, old, new, benchmark, n_boot=n_boot, seed=seed)
    except RaywardError as exc:
        _fail(exc)
    text = verdict(comp, f"new run {new}", f"old run {old}", alpha=alpha, n_boot=n_boot)
    _print_comparison(
        comp, new, old, fmt, f"{model}: run {new} (a) vs run {old} (b), accuracy %", n_boot, text
    )
    if fail_on_drop is not None:
        dropped = section_drops(comp, fail_on_drop)
        if dropped:
            err_console.print(
                f"[bold red]drop:[/] {', '.join(dropped)} fell by more than {fail_on_drop:g} points",
                highlight=False,
            )
            raise typer.Exit(1)
