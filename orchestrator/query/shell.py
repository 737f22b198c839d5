"""The interactive, read-only SQL session behind ``rayward sql`` (no query): line handling, dot commands,
row cap. It returns replies; the CLI reads input and prints them."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from orchestrator._lazy import require
from orchestrator.errors import QueryError

logger = logging.getLogger(__name__)

DEFAULT_MAX_ROWS = 100
FORMATS = ("table", "json", "csv", "markdown")

HELP = """\
Enter read-only SQL ending with ';' (it may span lines). Views: records, latest_records, subset_accuracy,
section_scores, leaderboard, run_models, refusal_balance, reasoning_breakdown, length_bias, ... (see .tables)
  .tables            list the tables and views
  .schema NAME       the columns of a table or view
  .limit N           show at most N rows (now {max_rows})
  .format FORMAT     table, json, csv or markdown (now {fmt})
  .help              this text
  .quit / .exit      leave (or Ctrl-D)"""


@dataclass
class Reply:
    kind: str  # "rows", "message", "error" or "quit"
    text: str = ""
    table: pa.Table | None = None
    truncated: bool = False


class SqlShell:
    """Feed it lines; it answers with a :class:`Reply` when a statement or dot command is complete."""

    def __init__(
        self, con: Any, *, max_rows: int = DEFAULT_MAX_ROWS, fmt: str = "table", timeout: float | None = None
    ):
        self.con = con
        self.max_rows = max_rows
        self.timeout = timeout
        """Seconds a statement may run (None or 0: no limit); Ctrl-C cancels a statement either way."""
        self.fmt = fmt
        self._buffer: list[str] = []

    @property
    def pending(self) -> bool:
        """True while a statement is being continued over several lines."""
        return bool(self._buffer)

    def reset(self) -> None:
        self._buffer.clear()

    def feed(self, line: str) -> Reply | None:
        stripped = line.strip()
        if not self._buffer and stripped.startswith("."):
            return self._dot(stripped)
        if not self._buffer and not stripped:
            return None
        self._buffer.append(line)
        if not stripped.endswith(";"):
            return None
        sql = "\n".join(self._buffer)
        self._buffer.clear()
        return self.execute(sql)

    def execute(self, sql: str) -> Reply:
        from orchestrator.query._sandbox import execute
        from orchestrator.query.db import check_read_only

        duckdb = require("duckdb")
        try:
            check_read_only(sql)
            result = execute(self.con, sql, timeout=self.timeout, max_rows=self.max_rows or None)
        except QueryError as exc:
            return Reply("error", str(exc))
        except duckdb.Error as exc:
            return Reply("error", str(exc).strip())
        if result.table.num_columns == 0:
            return Reply("message", "ok")
        truncated = result.truncated
        return Reply(
            "rows",
            table=result.table,
            truncated=truncated,
            text=f"showing the first {self.max_rows} rows (.limit N to change)" if truncated else "",
        )

    def _tables(self) -> pa.Table:
        return self.con.sql(
            "SELECT table_name AS name, lower(table_type) AS type, "
            "(SELECT count(*) FROM information_schema.columns c WHERE c.table_name = t.table_name) AS columns "
            "FROM information_schema.tables t WHERE table_name NOT LIKE '\\_%' ESCAPE '\\' ORDER BY table_name"
        ).to_arrow_table()

    def _dot(self, command: str) -> Reply:
        name, _, arg = command.partition(" ")
        arg = arg.strip()
        if name in (".quit", ".exit", ".q"):
            return Reply("quit")
        if name == ".help":
            return Reply("message", HELP.format(max_rows=self.max_rows, fmt=self.fmt))
        if name == ".tables":
            return Reply("rows", table=self._tables())
        if name == ".schema":
            if not arg:
                return Reply("error", ".schema needs a table or view name, e.g. .schema leaderboard")
            cols = self.con.sql(
                "SELECT column_name AS column, data_type AS type FROM information_schema.columns "
                "WHERE table_name = $name ORDER BY ordinal_position",
                params={"name": arg},
            ).to_arrow_table()
            if cols.num_rows == 0:
                return Reply("error", f"no table or view named {arg!r} (see .tables)")
            return Reply("rows", table=cols)
        if name == ".limit":
            try:
                value = int(arg)
                if value < 1:
                    raise ValueError
            except ValueError:
                return Reply("error", f".limit needs a positive whole number, got {arg!r}")
            self.max_rows = value
            return Reply("message", f"row cap: {value}")
        if name == ".format":
            if arg not in FORMATS:
                return Reply("error", f".format needs one of {', '.join(FORMATS)}, got {arg!r}")
            self.fmt = arg
            return Reply("message", f"format: {arg}")
        return Reply("error", f"unknown command {name!r} (try .help)")
