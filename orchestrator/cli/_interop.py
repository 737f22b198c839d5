"""``rayward import`` and ``rayward export``."""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Optional

import typer
from rich.table import Table

from orchestrator.cli._common import (
    _fail,
    app,
    console,
    err_console,
)
from orchestrator.errors import RaywardError


class InteropFormat(str, Enum):
    rewardbench = "rewardbench"


@app.command("import")
def import_(
    file: Path = typer.Argument(
        ..., help="A reference score file: eval-set-scores/<org>/<model>.json or <model>_outputs.jsonl."
    ),
    fmt: InteropFormat = typer.Option(
        InteropFormat.rewardbench, "--format", help="rewardbench (the reference's files)."
    ),
    model: str = typer.Option(..., "--model", help="Model name for the imported records."),
    benchmark: str = typer.Option(
        "reward-bench", "--benchmark", help="Benchmark whose examples the rows are matched to."
    ),
    source: Optional[str] = typer.Option(
        None, "--source", help="The benchmark data to match against (default: its hub id)."
    ),
    split: Optional[str] = typer.Option(
        None, "--split", help="Split of --source (default: the benchmark's)."
    ),
    subset_from_split: bool = typer.Option(
        False, "--subset-from-split", help="--source is laid out one split per subset (Prior Sets)."
    ),
    kind: str = typer.Option("classifier", "--kind", help="Model kind recorded for the imported model."),
    results: str = typer.Option("results", "--results", help="Results store: a directory or a URI."),
) -> None:
    """Import the reference's per-example scores as one run: rows matched by (subset, id) and checked by text."""
    from orchestrator.config import BenchmarkSpec, check_name
    from orchestrator.data import load_examples
    from orchestrator.results.interop import import_reference_scores

    try:
        try:
            check_name(model, "model name")
            spec = BenchmarkSpec(
                name=benchmark, source=source, split=split, subset_from_split=subset_from_split
            )
        except ValueError as exc:
            from orchestrator.errors import ConfigError

            raise ConfigError(
                str(exc).splitlines()[-1] if "validation error" in str(exc) else str(exc)
            ) from None
        examples = load_examples(spec)
        res = import_reference_scores(file, examples, results=results, model=model, kind=kind)
    except RaywardError as exc:
        _fail(exc)
    table = Table(title=f"import {file} -> {results} (run {res.run_id})")
    for c in ("subset", "records"):
        table.add_column(c)
    for subset, n in res.subsets.items():
        table.add_row(subset, str(n))
    err_console.print(table)
    err_console.print(
        f"{res.n_imported} of {res.n_rows} rows imported as model {model!r} on {examples.benchmark!r}.",
        highlight=False,
    )
    if res.disagreements:
        err_console.print(
            f"[yellow]warning:[/] {res.disagreements} rows' `results` disagree with score_chosen > score_rejected"
        )
    if res.unmatched:
        err_console.print(f"[yellow]{len(res.unmatched)} rows not matched (not imported):[/]")
        for row, reason in res.unmatched[:20]:
            err_console.print(f"  row {row}: {reason}", highlight=False, soft_wrap=True)
        if len(res.unmatched) > 20:
            err_console.print(f"  ... and {len(res.unmatched) - 20} more")
    if res.non_finite:
        err_console.print(
            f"[yellow]warning:[/] {res.non_finite} rows have a NaN or infinite score: imported as error records "
            "(counted wrong)",
            highlight=False,
        )
    if res.status != "ok" and res.error:
        err_console.print(f"[bold red]error:[/] {res.error}", highlight=False, soft_wrap=True)
    raise typer.Exit(0 if res.status == "ok" else 1)


@app.command()
def export(
    model: str = typer.Option(..., "--model", help="Model whose latest records to export."),
    out: Path = typer.Option(..., "--out", help="Directory for eval-set/ and eval-set-scores/."),
    fmt: InteropFormat = typer.Option(
        InteropFormat.rewardbench, "--format", help="rewardbench (the reference's layout)."
    ),
    benchmark: str = typer.Option("reward-bench", "--benchmark", help="Benchmark to export."),
    results: str = typer.Option("results", "--results", help="Results store: a directory or a URI."),
) -> None:
    """Write a model's latest records in the reference's file layout (eval-set/ and eval-set-scores/)."""
    from orchestrator.query.db import connect
    from orchestrator.results.interop import export_reference

    try:
        con = connect(results)
        try:
            summary, scores = export_reference(con, model=model, benchmark=benchmark, out=out)
        finally:
            con.close()
    except RaywardError as exc:
        _fail(exc)
    console.print(f"wrote {summary}\nwrote {scores}", highlight=False)
