"""``rayward store check [--quarantine]``: every damaged or orphaned file of a results store."""

from __future__ import annotations

import typer

from orchestrator.cli._common import Format, _emit, _fail, app, console, err_console
from orchestrator.errors import RaywardError

store_app = typer.Typer(no_args_is_help=True, help="Inspect the results store.")
app.add_typer(store_app, name="store")


@store_app.command("check")
def check(
    results: str = typer.Option("results", "--results", help="Results store: a directory or a URI."),
    quarantine: bool = typer.Option(
        False,
        "--quarantine",
        help="Move every file found to <store>/quarantine/<UTC stamp>/ (same relative paths; nothing deleted).",
    ),
    quick: bool = typer.Option(
        False, "--quick", help="Read only each record file's footer and schema, not its data."
    ),
    fmt: Format = typer.Option(Format.table, "--format", help="table, json, csv or markdown."),
) -> None:
    """List damaged record files and manifests, orphaned shards and stale temp files.

    Exit code 0: nothing found (or everything found was quarantined); 1: problems found; 2: no such store."""
    from orchestrator.results.integrity import check_store
    from orchestrator.results.integrity import quarantine as move_aside

    try:
        report = check_store(results, full=not quick)
    except RaywardError as exc:
        _fail(exc)
    columns = ["kind", "path", "run_id", "detail", "affects"]
    rows = [{c: getattr(p, c) for c in columns} for p in report.problems]
    summary = (
        f"{report.store}: {report.record_files} record files, {report.manifests} manifests, "
        f"{len(rows)} problem(s)"
    )
    if rows or fmt is not Format.table:
        _emit(rows, columns, fmt, title=summary if fmt is Format.table else None)
    if fmt is Format.table or not rows:
        err_console.print(summary, highlight=False)
    if not rows:
        return
    if not quarantine:
        err_console.print("nothing was changed; --quarantine moves these files aside", highlight=False)
        raise typer.Exit(1)
    for src, dst in move_aside(results, report.problems):
        console.print(f"quarantined {src} -> {dst}", highlight=False)
