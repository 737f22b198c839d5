"""``rayward sql`` (one query or the interactive session) and ``rayward analyze``."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from types import ModuleType
from typing import Optional

import typer

from orchestrator.cli._common import (
    Format,
    _cancellable,
    _emit,
    _fail,
    app,
    console,
    err_console,
)
from orchestrator.errors import RaywardError


def _readline(history: Path) -> ModuleType | None:
    """The readline module with the session history loaded, or None where there is none."""
    try:
        import readline
    except ImportError:  # pragma: no cover - Windows without pyreadline
        return None
    try:
        readline.read_history_file(history)
    except OSError:
        pass
    return readline


def _sql_session(results: str | Path, fmt: Format, max_rows: int, timeout: float) -> None:
    """The interactive loop: read lines from stdin, print replies; history via readline on a terminal."""
    from orchestrator.query.db import connect
    from orchestrator.query.shell import SqlShell

    con = _cancellable(lambda: connect(results), "session")  # a statement's Ctrl-C is the shell's (execute)
    shell = SqlShell(con, max_rows=max_rows, fmt=fmt.value, timeout=timeout)
    interactive = sys.stdin.isatty()
    history = Path(os.environ.get("RAYWARD_HISTORY", Path.home() / ".rayward_history"))
    readline = _readline(history) if interactive else None
    if interactive:
        err_console.print(
            f"rayward sql over {results} (read-only). .help for commands, .quit to leave.", highlight=False
        )
    try:
        while True:
            prompt = ("   ...> " if shell.pending else "rayward> ") if interactive else ""
            try:
                line = input(prompt) if interactive else sys.stdin.readline()
            except EOFError:
                break
            except KeyboardInterrupt:
                shell.reset()
                err_console.print("^C")
                continue
            if not interactive and line == "":
                break
            reply = shell.feed(line.rstrip("\n"))
            if reply is None:
                continue
            if reply.kind == "quit":
                break
            if reply.kind == "error":
                err_console.print(f"[bold red]error:[/] {reply.text}", highlight=False, soft_wrap=True)
            elif reply.kind == "message":
                console.print(reply.text, highlight=False)
            elif reply.table is not None:
                _emit(reply.table.to_pylist(), reply.table.column_names, Format(shell.fmt))
                if reply.truncated:
                    err_console.print(reply.text)
        if shell.pending:
            err_console.print("error: unfinished statement at end of input (end it with ';')")
    finally:
        con.close()
        if readline is not None:
            try:
                readline.write_history_file(history)
            except OSError:
                pass


@app.command()
def sql(
    query: Optional[str] = typer.Argument(
        None, help="A read-only SQL query; leave out for an interactive session."
    ),
    results: str = typer.Option("results", "--results", help="Results store: a directory or a URI."),
    fmt: Format = typer.Option(Format.table, "--format", help="table, json, csv or markdown."),
    max_rows: Optional[int] = typer.Option(
        None,
        "--max-rows",
        min=0,
        help="Most rows printed (default 10000 for a query, 100 in the interactive session); 0 = all.",
    ),
    timeout: float = typer.Option(
        60.0, "--timeout", min=0, help="Seconds a statement may run before it is interrupted; 0 = no limit."
    ),
) -> None:
    """Run read-only SQL over the results store with the views preloaded (no query: interactive session).

    The connection cannot read or write files or change settings; a statement past --timeout is
    interrupted (exit 124), Ctrl-C cancels it (exit 130)."""
    from orchestrator.query._sandbox import DEFAULT_MAX_ROWS, QueryResult, execute
    from orchestrator.query.db import check_read_only, connect
    from orchestrator.query.shell import DEFAULT_MAX_ROWS as SESSION_MAX_ROWS

    if query is None:
        try:
            _sql_session(results, fmt, SESSION_MAX_ROWS if max_rows is None else max_rows, timeout)
        except RaywardError as exc:
            _fail(exc)
        return
    cap = DEFAULT_MAX_ROWS if max_rows is None else max_rows

    def run() -> QueryResult:
        check_read_only(query)
        return execute(connect(results), query, timeout=timeout, max_rows=cap or None)

    try:
        result = _cancellable(run)
    except RaywardError as exc:
        _fail(exc)
    table = result.table
    _emit(table.to_pylist(), table.column_names, fmt)
    if result.truncated:
        err_console.print(
            f"warning: output cut at {cap} rows (--max-rows N for more, --max-rows 0 for all)",
            highlight=False,
        )


@app.command()
def analyze(
    name: str = typer.Argument(
        ...,
        help="refusals, refusal-prompts, reasoning, length, length-category, length-correlation, instruction, families, size.",
    ),
    results: str = typer.Option("results", "--results", help="Results store: a directory or a URI."),
    benchmark: str = typer.Option("reward-bench", "--benchmark", help="Benchmark to analyse."),
    fmt: Format = typer.Option(Format.table, "--format", help="table, json, csv or markdown."),
) -> None:
    """Print one analysis view (latest successful run of each model)."""
    from orchestrator.query.analyses import analysis_table, get_analysis

    try:
        spec = get_analysis(name)
        table = _cancellable(lambda: analysis_table(results, name, benchmark), "analysis")
    except RaywardError as exc:
        _fail(exc)
    rows, columns = table.to_pylist(), table.column_names
    if not rows and fmt is Format.table:
        err_console.print(f"no rows for analysis {name!r} of benchmark {benchmark!r} in {results}")
        return
    _emit(
        rows,
        columns,
        fmt,
        percent=set(spec.percent),
        title=f"{name}: {spec.description} (% where a fraction)",
    )
