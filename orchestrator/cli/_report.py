"""``rayward report``."""

from __future__ import annotations

from pathlib import Path

import typer

from orchestrator.cli._common import (
    _fail,
    app,
    console,
)
from orchestrator.errors import RaywardError


@app.command()
def report(
    out: Path = typer.Option(Path("report.html"), "--out", help="The HTML file to write."),
    results: str = typer.Option("results", "--results", help="Results store: a directory or a URI."),
    benchmark: str = typer.Option("reward-bench", "--benchmark"),
    n_boot: int = typer.Option(2000, "--n-boot", help="Bootstrap resamples for the CIs."),
    seed: int = typer.Option(0, "--seed"),
) -> None:
    """Write a self-contained HTML report (leaderboard with CIs, charts, run metadata; works offline)."""
    from orchestrator.outputs.report import write_report

    try:
        path = write_report(results, out, benchmark, n_boot=n_boot, seed=seed)
    except RaywardError as exc:
        _fail(exc)
    console.print(f"wrote {path} ({path.stat().st_size / 1e6:.1f} MB)")
