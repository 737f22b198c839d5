"""DuckDB over the results store: the views of ``orchestrator/query/sql`` and read-only queries.

Base relations come from Python (``raw_records`` over the committed Parquet files, ``examples`` over the texts,
``run_models`` from the run manifests, ``_latest_raw`` the records of the latest runs); every derived view and
every stored query is a ``.sql`` file taking DuckDB ``$named`` parameters.
"""

from __future__ import annotations

import logging
from functools import cache
from pathlib import Path
from typing import Any

import pyarrow as pa

from orchestrator._lazy import require
from orchestrator.benchmarks import SECTIONS_CSV, SUBSETS_CSV
from orchestrator.errors import QueryError
from orchestrator.results.catalog import read_catalog
from orchestrator.results.records import EXAMPLES_DIR, EXAMPLES_SCHEMA, RECORD_SCHEMA, model_runs_table
from orchestrator.results.store import Store, open_store

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


_PARAMS = {"subsets_csv": str(SUBSETS_CSV), "sections_csv": str(SECTIONS_CSV)}


def connect(results: str | Path | Store) -> Any:
    """An in-memory DuckDB connection with every view over ``results`` (a directory or a URI) defined.

    What the store holds comes from its listing and its manifests (:mod:`orchestrator.results.catalog`); records
    are read through :mod:`pyarrow.dataset` scans in the current record schema (fields an older file lacks read
    as null), which DuckDB binds in constant time however many files there are. The latest run per
    (benchmark, model, subset) comes from the manifests; only the files of those runs are read for
    ``latest_records``, once, into a table that every leaderboard view then reads (``docs/store.md``)."""
    duckdb = require("duckdb")
    con = duckdb.connect(":memory:")
    store = open_store(results)
    catalog = read_catalog(store)
    runs = model_runs_table(catalog.manifests)
    con.register("_run_models_arrow", runs)
    con.execute("CREATE OR REPLACE TABLE run_models AS SELECT * FROM _run_models_arrow")
    con.unregister("_run_models_arrow")
    refs = pa.Table.from_pylist([r.as_dict() for r in catalog.refs], schema=_REFS_SCHEMA)
    con.register("_refs_arrow", refs)
    con.execute("CREATE OR REPLACE TABLE _record_refs AS SELECT * FROM _refs_arrow")
    con.unregister("_refs_arrow")
    _examples(con, store)
    _records_view(con, store, "raw_records", catalog.files())
    _latest(con, store, catalog)
    for path in _view_files():
        sql = path.read_text(encoding="utf-8")
        params = {k: v for k, v in _PARAMS.items() if f"${k}" in sql}
        con.execute(sql, params or None)
    return con


_REFS_SCHEMA = pa.schema(
    [
        ("run_id", pa.string()),
        ("benchmark", pa.string()),
        ("model", pa.string()),
        ("shard", pa.int32()),
        ("from_run", pa.string()),
        ("rows", pa.int64()),
    ]
)


def _dataset(store: Store, files: list[Any], schema: pa.Schema) -> Any:
    import pyarrow.dataset as ds

    paths = [str(f) for f in files]
    return ds.dataset(paths, schema=schema, format="parquet", filesystem=store.fs)


def _examples(con: Any, store: Store) -> None:
    """``examples``: the texts of every examples file (one row per (texts, row_index))."""
    files = store.glob(EXAMPLES_DIR, "*.parquet")
    con.register("_examples_data", _dataset(store, files, EXAMPLES_SCHEMA))
    con.execute("CREATE OR REPLACE VIEW examples AS SELECT * FROM _examples_data")


def _records_view(con: Any, store: Store, name: str, files: list[Any]) -> None:
    """View ``name``: the records stored in ``files`` plus the units other runs reuse from them (with the reusing
    run's id, and ``cached_from`` = the run whose scores they are)."""
    con.register(f"_{name}_stored", _dataset(store, files, RECORD_SCHEMA))
    con.execute(read_sql("base/records.sql").replace("$stored", f"_{name}_stored").replace("$name", name))


def _latest(con: Any, store: Store, catalog: Any) -> None:
    """``_run_subsets`` (which subsets each run wrote per benchmark and model: from the manifests, else from the
    run's records) and ``_latest_raw``: the records of the runs that are the latest for some subset."""
    ok = {
        tuple(row)
        for row in con.execute(
            "SELECT DISTINCT benchmark, model, run_id FROM run_models WHERE status = 'ok'"
        ).fetchall()
    }
    known: list[dict[str, Any]] = []
    unknown: set[tuple[str, str, str]] = set()
    for m in catalog.manifests:
        for entry in m.get("models", []):
            key = (entry.get("benchmark"), entry.get("model"), m.get("run_id"))
            if key not in ok:
                continue
            subsets = entry.get("subsets")
            if isinstance(subsets, dict):
                known += [
                    {"benchmark": key[0], "model": key[1], "subset": s, "run_id": key[2]} for s in subsets
                ]
            else:
                unknown.add(key)
    table = pa.Table.from_pylist(known, schema=_RUN_SUBSETS_SCHEMA)
    con.register("_known_subsets", table)
    con.execute("CREATE OR REPLACE TABLE _run_subsets AS SELECT * FROM _known_subsets")
    con.unregister("_known_subsets")
    if unknown:
        _records_view(con, store, "_scan_records", catalog.files(_with_targets(unknown, catalog)))
        con.register(
            "_unknown_runs",
            pa.Table.from_pylist([{"benchmark": b, "model": m, "run_id": r} for b, m, r in sorted(unknown)]),
        )
        con.execute(
            "INSERT INTO _run_subsets SELECT DISTINCT s.benchmark, s.model, s.subset, s.run_id "
            "FROM _scan_records s JOIN _unknown_runs u USING (benchmark, model, run_id)"
        )
    latest = {
        tuple(r)
        for r in con.execute(
            "SELECT DISTINCT s.benchmark, s.model, max(s.run_id) FROM _run_subsets s GROUP BY s.benchmark, s.model, s.subset"
        ).fetchall()
    }
    _records_view(con, store, "_latest_candidates", catalog.files(_with_targets(latest, catalog)))
    con.execute(
        "CREATE OR REPLACE TABLE _latest_raw AS SELECT c.* FROM _latest_candidates c "
        "SEMI JOIN (SELECT benchmark, model, subset, max(run_id) AS run_id FROM _run_subsets "
        "GROUP BY benchmark, model, subset) l USING (benchmark, model, subset, run_id)"
    )


_RUN_SUBSETS_SCHEMA = pa.schema(
    [("benchmark", pa.string()), ("model", pa.string()), ("subset", pa.string()), ("run_id", pa.string())]
)


def _with_targets(keys: set[tuple[str, str, str]], catalog: Any) -> list[tuple[str, str, str]]:
    """The partitions ``keys`` plus those their unit references point to."""
    out = set(keys)
    for ref in catalog.refs:
        if (ref.benchmark, ref.model, ref.run_id) in keys:
            out.add((ref.benchmark, ref.model, ref.from_run))
    return sorted(out)


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
    ``parse_failure_rate, position_consistency``, NULL for other kinds) and the
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
