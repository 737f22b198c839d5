"""Shared pieces of the command line: the typer app, consoles, output formats and rendering."""

from __future__ import annotations

import csv
import io
import json
import logging
import math
import os
import sys
import threading
from collections.abc import Callable, Collection
from enum import Enum
from pathlib import Path
from typing import Any, TypeVar

import typer
from rich.console import Console
from rich.table import Table

from orchestrator.errors import RaywardError

app = typer.Typer(add_completion=False, no_args_is_help=True, help="Rayward: evaluate reward models on Ray.")
console = Console()
err_console = Console(stderr=True)
store_app = typer.Typer(no_args_is_help=True, help="Inspect and maintain a results store (docs/store.md).")
app.add_typer(store_app, name="store")

DEMO_JOB = Path(__file__).resolve().parent.parent / "demo.yaml"


class Format(str, Enum):
    table = "table"
    json = "json"
    csv = "csv"
    markdown = "markdown"


class By(str, Enum):
    section = "section"
    subset = "subset"
    category = "category"


def _fail(exc: RaywardError) -> None:
    err_console.print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
    raise typer.Exit(exc.exit_code)


_T = TypeVar("_T")


def _cancellable(work: Callable[[], _T], what: str = "query") -> _T:
    """Run read-only ``work`` in a thread of its own; Ctrl-C ends the process at once with exit 130.

    Ctrl-C (a KeyboardInterrupt, delivered to the main thread only) otherwise surfaces from wherever DuckDB is
    (an error wrapping it from inside an Arrow scan, a retried view definition), and a normal interpreter exit
    while DuckDB's threads still scan Python-registered Arrow data aborts the process ("FATAL: exception not
    rethrown", CPython ending threads that ask for the GIL during finalisation). A read-only command has
    nothing to finish or flush but its consoles, so it leaves with ``os._exit``."""
    box: dict[str, Any] = {}

    def run() -> None:
        try:
            box["result"] = work()
        except BaseException as exc:  # handed to the main thread (typer.Exit included)
            box["error"] = exc

    worker = threading.Thread(target=run, name="rayward-read", daemon=True)
    worker.start()
    try:
        while worker.is_alive():
            worker.join(0.05)
    except KeyboardInterrupt:
        err_console.print(f"[bold red]error:[/] {what} cancelled (Ctrl-C)", highlight=False)
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(130)
    error = box.get("error")
    if error is not None:
        raise error
    return box["result"]


def _setup_logging(verbose: bool) -> None:
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s"
    )


# ----------------------------------------------------------------- output


def _fmt_cell(value: Any, percent: bool) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        if math.isnan(value):
            return ""
        return f"{100 * value:.2f}" if percent else f"{value:.6g}"
    return str(value)


def _emit(
    rows: list[dict[str, Any]],
    columns: list[str],
    fmt: Format,
    *,
    percent: Collection[str] = frozenset(),
    title: str | None = None,
) -> None:
    if fmt is Format.json:
        sys.stdout.write(json.dumps(rows, indent=2, default=str) + "\n")
        return
    if fmt is Format.csv:
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=columns, extrasaction="ignore", lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
        sys.stdout.write(buf.getvalue())
        return
    cells = [[_fmt_cell(r.get(c), c in percent) for c in columns] for r in rows]
    if fmt is Format.markdown:
        lines = ["| " + " | ".join(columns) + " |", "|" + "|".join("---" for _ in columns) + "|"]
        lines += ["| " + " | ".join(row) + " |" for row in cells]
        sys.stdout.write("\n".join(lines) + "\n")
        return
    table = Table(title=title, show_lines=False)
    for c in columns:
        table.add_column(c, justify="right" if c in percent else "left")
    for row in cells:
        table.add_row(*row)
    console.print(table)
