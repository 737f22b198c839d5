"""DuckDB over the results store: the views of ``orchestrator/query/sql`` and read-only queries.

Base relations come from Python (``raw_records`` over the committed Parquet files,
``run_models`` from the run manifests); every derived view and every stored query
is a ``.sql`` file taking DuckDB ``$named`` parameters.
"""

from __future__ import annotations

import logging
from functools import cache
from pathlib import Path
from typing import Any

import pyarrow as pa

from orchestrator._lazy import require
from orchestrator.benchmarks import table_files
from orchestrator.errors import QueryError
from orchestrator.query._sandbox import lock_down
from orchestrator.results.records import RECORD_SCHEMA, model_runs_table, read_manifests
from orchestrator.results.store import Store

logger = logging.getLogger(__name__)

SQL_DIR = Path(__file__).parent / "sql"
_READ_ONLY_TYPES = {"SELECT", "EXPLAIN", "PRAGMA"}


@cache
def read_sql(name: str) -> str:
    """A stored query by name (``queries/<name>.sql``) or a view file by file name."""
    path = SQL_DIR / "queries" / f"{name}.sql"
    if not path.is_file():
        path = SQL_DIR / name
    return path.read_text(encoding="utf-8")


def _view_files() -> list[Path]:
    return sorted(SQL_DIR.glob("[0-9][0-9]_*.sql"))


def _params() -> dict[str, list[str]]:
    """The benchmark data tables the views read (shipped and registered files)."""
    return {
        "subsets_csv": [str(p) for p in table_files("subsets")],
        "sections_csv": [str(p) for p in table_files("sections")],
    }


def connect(results: str | Path | Store) -> Any:
    """An in-memory DuckDB connection with every view over ``results`` (a directory or a URI) defined.

    Record files are read through a :mod:`pyarrow.dataset` over the store's pyarrow filesystem (scanned lazily
    by DuckDB), so every scheme pyarrow or fsspec opens works without DuckDB extensions or credentials of its
    own, and the connection is then locked down (:func:`orchestrator.query._sandbox.lock_down`: no file access,
    no setting changes). A local path that does not exist, or is a file, is a :class:`ConfigError`."""
    duckdb = require("duckdb")
    con = duckdb.connect(":memory:")
    from orchestrator.results.integrity import readable_record_files, require_readable_store

    store = require_readable_store(results)
    files = readable_record_files(store)  # damaged files skipped, each with a warning naming it and its run
    # The empty table in the current schema first: files of older schema versions (fewer fields) read with the
    # newer fields null, and every field exists even when all files are old.
    con.register("_record_schema", RECORD_SCHEMA.empty_table())
    con.execute("CREATE OR REPLACE TABLE _empty_records AS SELECT * FROM _record_schema")
    con.unregister("_record_schema")
    if files:
        import pyarrow.dataset as ds

        # Always an Arrow dataset (local stores too): the locked connection reads no file itself
        # (orchestrator.query._sandbox). The dataset's schema is the current one: fields an older file
        # lacks read as null.
        con.register(
            "_parquet_records",
            ds.dataset([str(f) for f in files], schema=RECORD_SCHEMA, format="parquet", filesystem=store.fs),
        )
    if files:
        con.execute(
            "CREATE OR REPLACE VIEW raw_records AS "
            "SELECT * FROM _empty_records UNION ALL BY NAME SELECT * FROM _parquet_records"
        )
    else:
        con.execute("CREATE OR REPLACE VIEW raw_records AS SELECT * FROM _empty_records")
    runs = model_runs_table(read_manifests(store))
    con.register("_run_models_arrow", runs)
    con.execute("CREATE OR REPLACE TABLE run_models AS SELECT * FROM _run_models_arrow")
    con.unregister("_run_models_arrow")
    for path in _view_files():
        sql = path.read_text(encoding="utf-8")
        params = {k: v for k, v in _params().items() if f"${k}" in sql}
        con.execute(sql, params or None)
    return lock_down(con)


def check_read_only(sql: str) -> None:
    """Reject anything but queries: ``rayward sql`` must never change the store."""
    duckdb = require("duckdb")
    try:
        statements = duckdb.extract_statements(sql)
    except duckdb.Error as exc:
        raise QueryError(f"invalid SQL: {exc}") from None
    if not statements:
        raise QueryError("empty query")
    for st in statements:
        kind = str(st.type).rsplit(".", 1)[-1]
        if kind not in _READ_ONLY_TYPES:
            raise QueryError(f"read-only: only SELECT queries are allowed, got a {kind} statement")


def run_query(con: Any, sql: str, params: dict[str, Any] | None = None) -> pa.Table:
    """Execute SQL and return an Arrow table; DuckDB errors become :class:`QueryError`."""
    duckdb = require("duckdb")
    try:
        relation = con.sql(sql, params=params or None)
        if relation is None:  # a statement without a result set
            return pa.table({})
        return relation.to_arrow_table()
    except duckdb.Error as exc:
        raise QueryError(str(exc).strip()) from None


def stored_query(con: Any, name: str, **params: Any) -> pa.Table:
    """Run ``orchestrator/query/sql/queries/<name>.sql`` with named parameters."""
    return run_query(con, read_sql(name), params)


def leaderboard_rows(con: Any, benchmark: str = "reward-bench") -> tuple[list[dict[str, Any]], list[str]]:
    """One dict per model (``model, kind, <section>..., score, complete, incomplete_subsets, run_id`` and the judges'
    ``parse_failure_rate, position_consistency, sample_alpha, member_alpha``, NULL for other kinds) and the
    benchmark's section names in its own order (custom data: its subsets)."""
    overall = stored_query(con, "leaderboard_overall", benchmark=benchmark).to_pylist()
    sections: list[str] = []
    by_model: dict[str, dict[str, Any]] = {}
    for r in stored_query(con, "leaderboard_sections", benchmark=benchmark).to_pylist():
        if r["section"] not in sections:
            sections.append(r["section"])
        by_model.setdefault(r["model"], {})[r["section"]] = r["score"]
    rows = []
    for o in overall:
        row = {"model": o["model"], "kind": o["kind"]}
        row.update({s: by_model.get(o["model"], {}).get(s) for s in sections})
        row.update(
            {
                k: o[k]
                for k in (
                    "score",
                    "complete",
                    "incomplete_subsets",
                    "run_id",
                    "parse_failure_rate",
                    "position_consistency",
                    "sample_alpha",
                    "member_alpha",
                )
            }
        )
        rows.append(row)
    return rows, sections


def leaderboard(results: str | Path | Store, benchmark: str = "reward-bench") -> list[dict[str, Any]]:
    """The leaderboard of one benchmark as a list of dicts (section scores are fractions in [0, 1])."""
    con = connect(results)
    try:
        return leaderboard_rows(con, benchmark)[0]
    finally:
        con.close()
