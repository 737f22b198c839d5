"""The query sandbox: a DuckDB connection that cannot touch files or change its settings, and query execution
with a time limit, a row cap and Ctrl-C that actually stop DuckDB.

Why no allowed paths: DuckDB's ``allowed_paths`` / ``allowed_directories`` lift the external-access lock for
*writes* too (``COPY (...) TO '<an allowed shard>' (USE_TMP_FILE false)`` overwrites it, also under
``EXPLAIN ANALYZE``). So the record files reach DuckDB only as Arrow datasets registered before the lock
(:func:`orchestrator.query.db.connect`), the weights tables are materialized before it, and the locked
connection gets no file access at all: ``enable_external_access = false`` with empty allowed lists, no
replacement scans of Python variables, no extension auto-install/auto-load, then ``lock_configuration``.
Every statement type and writing table function is refused by DuckDB itself (``tests/query/test_sandbox.py``);
:func:`orchestrator.query.db.check_read_only` is only the first, friendlier filter.

:func:`execute` runs a statement on a helper thread while the calling thread waits: at the deadline, or on
Ctrl-C, it calls ``con.interrupt()`` (DuckDB checks it between vectors, so even a 10^6 x 10^6 cross join
stops within moments) and raises :class:`QueryTimeout` / :class:`QueryCancelled`. Results are streamed in
record batches and only ``max_rows + 1`` rows are ever materialized.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from orchestrator._lazy import require
from orchestrator.errors import QueryError

logger = logging.getLogger(__name__)

DEFAULT_TIMEOUT_S = 60.0
"""``rayward sql --timeout`` default (seconds)."""

DEFAULT_MAX_ROWS = 10_000
"""``rayward sql --max-rows`` default for one query (0 = unlimited, only when asked)."""

LOCKED_SETTINGS: tuple[tuple[str, Any], ...] = (
    ("allowed_directories", []),
    ("allowed_paths", []),
    ("python_enable_replacements", False),
    ("autoinstall_known_extensions", False),
    ("autoload_known_extensions", False),
    ("allow_community_extensions", False),
    ("enable_external_access", False),
    ("lock_configuration", True),  # last: nothing above can be changed back
)
"""The settings :func:`lock_down` applies, in order."""


def _lock_statements() -> tuple[str, ...]:
    return tuple("SET " + name + " = " + _sql_literal(value) for name, value in LOCKED_SETTINGS)


class QueryTimeout(QueryError):
    """A query ran past its time limit and was interrupted."""

    exit_code = 124


class QueryCancelled(QueryError):
    """A query was cancelled with Ctrl-C."""

    exit_code = 130


@dataclass(frozen=True)
class QueryResult:
    table: pa.Table
    """The rows (at most ``max_rows`` when a cap was given)."""

    truncated: bool
    """True when the query had more rows than the cap."""


def _sql_literal(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "[" + ", ".join(_sql_literal(v) for v in value) + "]"
    return repr(value)


_LOCK_STATEMENTS = _lock_statements()
"""The ``SET`` statements of :data:`LOCKED_SETTINGS`, made once from those constants (no value from outside)."""


def lock_down(con: Any) -> Any:
    """Apply :data:`LOCKED_SETTINGS` to ``con`` and check they hold; returns ``con``.

    Call it after every view, table and Arrow dataset is in place: afterwards the connection reads only what
    was registered and writes nothing outside its own in-memory database."""
    for statement in _LOCK_STATEMENTS:
        con.execute(statement)
    got = dict(
        con.execute(
            "SELECT name, value FROM duckdb_settings() WHERE name IN "
            "('enable_external_access', 'lock_configuration', 'python_enable_replacements')"
        ).fetchall()
    )
    expected = {
        "enable_external_access": "false",
        "lock_configuration": "true",
        "python_enable_replacements": "false",
    }
    if {
        k: str(v).lower() for k, v in got.items()
    } != expected:  # pragma: no cover - a DuckDB that ignores SET
        raise QueryError(f"could not lock the query connection down (settings now {got})")
    return con


def is_locked(con: Any) -> bool:
    """Whether ``con`` is locked down (external access off, configuration locked)."""
    rows = dict(
        con.execute(
            "SELECT name, value FROM duckdb_settings() WHERE name IN ('enable_external_access', 'lock_configuration')"
        ).fetchall()
    )
    return (
        str(rows.get("enable_external_access")).lower() == "false"
        and str(rows.get("lock_configuration")).lower() == "true"
    )


def _collect(con: Any, sql: str, params: dict[str, Any] | None, max_rows: int | None) -> QueryResult:
    relation = con.sql(sql, params=params or None)
    if relation is None:  # a statement without a result set
        return QueryResult(pa.table({}), False)
    reader = relation.to_arrow_reader(2048)
    batches: list[pa.RecordBatch] = []
    rows = 0
    truncated = False
    for batch in reader:
        if max_rows is not None and rows + batch.num_rows > max_rows:
            batches.append(batch.slice(0, max_rows - rows))
            truncated = True
            break
        batches.append(batch)
        rows += batch.num_rows
    return QueryResult(pa.Table.from_batches(batches, schema=reader.schema), truncated)


def execute(
    con: Any,
    sql: str,
    params: dict[str, Any] | None = None,
    *,
    timeout: float | None = DEFAULT_TIMEOUT_S,
    max_rows: int | None = None,
) -> QueryResult:
    """Run ``sql`` on ``con`` with a time limit (seconds; None or 0 = none) and a row cap (None or 0 = none).

    Raises :class:`QueryTimeout` past the limit, :class:`QueryCancelled` on Ctrl-C (both after interrupting
    DuckDB, so the connection is usable again), :class:`QueryError` for SQL errors."""
    duckdb = require("duckdb")
    cap = max_rows if max_rows else None
    limit = timeout if timeout and timeout > 0 else None
    box: dict[str, Any] = {}

    def work() -> None:
        try:
            box["result"] = _collect(con, sql, params, cap)
        except BaseException as exc:  # handed to the waiting thread
            box["error"] = exc

    worker = threading.Thread(target=work, name="rayward-query", daemon=True)
    cancelled: type[QueryError] | None = None
    worker.start()
    deadline = None if limit is None else _now() + limit
    try:
        while worker.is_alive():
            wait = 0.05 if deadline is None else max(0.0, min(0.05, deadline - _now()))
            worker.join(wait)
            if worker.is_alive() and deadline is not None and _now() >= deadline:
                cancelled = QueryTimeout
                con.interrupt()
                break
    except KeyboardInterrupt:
        cancelled = QueryCancelled
        con.interrupt()
    while worker.is_alive():  # DuckDB stops at its next interrupt check
        try:
            worker.join(0.05)
        except KeyboardInterrupt:  # a second Ctrl-C: keep interrupting, keep waiting
            con.interrupt()
    if cancelled is QueryTimeout:
        raise QueryTimeout(
            f"query interrupted after the {limit:g} s time limit (--timeout N to allow longer, 0 for none)"
        )
    if cancelled is QueryCancelled:
        raise QueryCancelled("query cancelled (Ctrl-C)")
    error = box.get("error")
    if error is not None:
        if isinstance(error, duckdb.Error):
            raise QueryError(str(error).strip()) from None
        raise error
    return box["result"]


def _now() -> float:
    import time

    return time.monotonic()
