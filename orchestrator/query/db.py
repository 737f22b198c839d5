"""DuckDB over the results store: the views of ``orchestrator/query/sql`` and read-only queries.

Base relations come from Python (``raw_records`` over the committed Parquet files, ``examples`` over the texts,
``run_models`` from the run manifests, ``_latest_raw`` the records of the latest runs); every derived view and
every stored query is a ``.sql`` file taking DuckDB ``$named`` parameters.
"""

from __future__ import annotations

import logging
import re
from functools import cache
from pathlib import Path
from typing import Any

import pyarrow as pa

from orchestrator._lazy import require
from orchestrator.benchmarks import rules, table_files, table_rows
from orchestrator.errors import QueryError
from orchestrator.query._sandbox import lock_down
from orchestrator.results.catalog import read_catalog
from orchestrator.results.records import (
    EXAMPLES_DIR,
    EXAMPLES_SCHEMA,
    RECORD_SCHEMA,
    SCHEMA_VERSION,
    model_runs_table,
)
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
        "rules_csv": [str(p) for p in table_files("rules")],
    }


RULES_BEFORE = 15
"""Rule files (``sql/rules/*.sql``, named in ``rules.csv``) run after the view files numbered below this (the
records, the latest records) and before ``15_record_points.sql``, which takes their points."""

_NO_RULE_POINTS = (
    "SELECT l.*, NULL::VARCHAR AS rule, NULL::DOUBLE AS points FROM latest_records l WHERE false"
)
_NO_RULE_SECTIONS = (
    "SELECT NULL::VARCHAR AS model, NULL::VARCHAR AS kind, NULL::VARCHAR AS benchmark, NULL::VARCHAR AS section, "
    "NULL::DOUBLE AS score, NULL::BIGINT AS n_subsets, NULL::VARCHAR AS run_id, NULL::BOOLEAN AS complete WHERE false"
)


def _define_rules(con: Any) -> None:
    """Each rule file's views, then ``rule_points`` / ``rule_sections``: the unions of their points / sections
    (built with DuckDB's relational API: the rule views' names never become SQL text)."""
    points, sections = con.sql(_NO_RULE_POINTS), con.sql(_NO_RULE_SECTIONS)
    for rule in rules().values():
        if not rule.points_view:
            continue  # a built-in rule: computed in the numbered view files
        con.execute((SQL_DIR / rule.sql).read_text(encoding="utf-8"))
        points = points.union(_columns_of(con.view(rule.points_view), points.columns, rule.points_view))
        if rule.sections_view:
            view = con.view(rule.sections_view)
            sections = sections.union(_columns_of(view, sections.columns, rule.sections_view))
    points.create_view("rule_points", replace=True)
    sections.create_view("rule_sections", replace=True)


def _columns_of(relation: Any, columns: list[str], name: str) -> Any:
    """``relation`` projected on ``columns`` in that order (a positional union then matches by name)."""
    missing = [c for c in columns if c not in relation.columns]
    if missing:
        raise QueryError(f"rule view {name} lacks the columns {missing}")
    return relation.select(*[f'"{c}"' for c in columns])


def connect(results: str | Path | Store) -> Any:
    """An in-memory DuckDB connection with every view over ``results`` (a directory or a URI) defined.

    What the store holds comes from its listing and its manifests (:mod:`orchestrator.results.catalog`); records
    are read through :mod:`pyarrow.dataset` scans in the current record schema (fields an older file lacks read
    as null), which DuckDB binds in constant time however many files there are. The latest run per
    (benchmark, model, subset) comes from the manifests; only the files of those runs are read for
    ``latest_records``, once, into a table that every leaderboard view then reads (``docs/store.md``).
    Damaged record files are skipped with a warning naming them and their run. The connection is then locked
    down (:func:`orchestrator.query._sandbox.lock_down`: no file access, no setting changes), which is why every
    file reaches DuckDB as an Arrow dataset registered before the lock. A local path that does not exist, or is
    a file, is a :class:`ConfigError`."""
    duckdb = require("duckdb")
    from orchestrator.results.integrity import require_readable_store

    store = require_readable_store(results)
    for attempt in range(_ATTEMPTS):
        con = duckdb.connect(":memory:")
        try:
            return _define(con, store)
        except duckdb.Error as exc:
            con.close()
            # a compaction or gc removed a file between the listing and the read: list again
            if attempt + 1 == _ATTEMPTS or not _GONE.search(str(exc)):
                raise
            logger.info("store changed while connecting (%s); listing it again", str(exc).splitlines()[0])
    raise AssertionError("unreachable")


_ATTEMPTS = 3
_GONE = re.compile(r"No such file|not found|Failed to open", re.IGNORECASE)


def _define(con: Any, store: Store) -> Any:
    catalog = read_catalog(store)
    _drop_damaged(catalog)
    runs = model_runs_table(catalog.manifests)
    con.register("_run_models_arrow", runs)
    con.execute("CREATE OR REPLACE TABLE run_models AS SELECT * FROM _run_models_arrow")
    con.unregister("_run_models_arrow")
    refs = pa.Table.from_pylist([r.as_dict() for r in catalog.refs], schema=_REFS_SCHEMA)
    con.register("_refs_arrow", refs)
    con.execute("CREATE OR REPLACE TABLE _record_refs AS SELECT * FROM _refs_arrow")
    con.unregister("_refs_arrow")
    con.register("_record_schema", RECORD_SCHEMA.empty_table())
    con.execute("CREATE OR REPLACE TABLE _empty_records AS SELECT * FROM _record_schema")
    con.unregister("_record_schema")
    uniform = _uniform(catalog)
    everything = catalog.files()
    _examples(con, store)
    _records_view(con, store, "raw_records", everything, everything, uniform)
    _latest(con, store, catalog, uniform)
    rules_defined = False
    for path in _view_files():
        if not rules_defined and int(path.name[:2]) >= RULES_BEFORE:
            _define_rules(con)
            rules_defined = True
        sql = path.read_text(encoding="utf-8")
        params = {k: v for k, v in _params().items() if f"${k}" in sql}
        con.execute(sql, params or None)
        for view in _MATERIALIZED.get(path.name, ()):  # computed once: the views defined later read a table
            con.view(view).create(f"_{view}_table")
            con.table(f"_{view}_table").create_view(view, replace=True)
    return lock_down(con)


def _drop_damaged(catalog: Any) -> None:
    """Leave out of every partition the record files whose footer or schema does not read, each with a warning
    naming it and the run it belongs to (:func:`orchestrator.results.integrity.record_file_problem`)."""
    from orchestrator.results.integrity import record_file_problem, warn_damaged

    for partition in catalog.partitions.values():
        good = []
        for path in partition.files:
            problem = record_file_problem(catalog.store, path)
            if problem is None:
                good.append(path)
            else:
                warn_damaged(catalog.store, path, problem)
        partition.files = good


_MATERIALIZED = {"16_judge_stats.sql": ("judge_stats",), "20_subset_accuracy.sql": ("subset_accuracy",)}
"""Views evaluated once per connection (each reads the latest records once) and kept as tables; the views defined
over them (sections, overall scores, leaderboard, analyses) then never rescan records."""


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


def _relation(con: Any, store: Store, name: str, files: list[Any], uniform: set[str]) -> str:
    """Register view ``name`` over record ``files``: DuckDB's own Parquet reader over the files known to be in the
    current schema (``uniform``: runs compacted or upgraded by this release; their columns are in schema order), a
    pyarrow dataset in the current schema over the others (fields an older file lacks read as null). Returns
    ``name``."""
    # Arrow datasets only: the connection is locked down after the views are defined and reads no file itself
    # (orchestrator.query._sandbox); DuckDB's own reader would fail there.
    native: list[str] = []
    other = [f for f in files if str(f) not in set(native)]
    parts = []
    if native:
        parts.append(con.read_parquet(native, hive_partitioning=False))
    if other:
        con.register(f"{name}_dataset", _dataset(store, other, RECORD_SCHEMA))
        parts.append(con.view(f"{name}_dataset"))
    if not parts:
        parts.append(con.table("_empty_records"))
    relation = parts[0] if len(parts) == 1 else parts[0].union(parts[1])  # UNION ALL, both in schema order
    relation.create_view(name, replace=True)
    return name


def _records_view(
    con: Any, store: Store, name: str, direct: list[Any], targets: list[Any], uniform: set[str]
) -> None:
    """View ``name``: the records stored in ``direct`` plus the units runs reuse from the records in ``targets``
    (with the reusing run's id, and ``cached_from`` = the run whose scores they are)."""
    stored = _relation(con, store, f"_{name}_direct", direct, uniform)
    reused = stored if targets is direct else _relation(con, store, f"_{name}_targets", targets, uniform)
    sql = read_sql("base/records.sql")
    con.execute(sql.replace("$stored", stored).replace("$reused", reused).replace("$name", name))


def _uniform(catalog: Any) -> set[str]:
    """Files of runs whose manifest says every record file is in the current schema (set by compaction/upgrade)."""
    runs = {m["run_id"] for m in catalog.manifests if m.get("record_schema_version") == SCHEMA_VERSION}
    return {str(f) for (_, _, r), p in catalog.partitions.items() if r in runs for f in p.files}


def _latest(con: Any, store: Store, catalog: Any, uniform: set[str]) -> None:
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
        direct, targets = _sources(unknown, catalog)
        _records_view(con, store, "_scan_records", direct, targets, uniform)
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
            "SELECT DISTINCT benchmark, model, max(run_id) FROM _run_subsets GROUP BY benchmark, model, subset"
        ).fetchall()
    }
    direct, targets = _sources(latest, catalog)
    _records_view(con, store, "_latest_candidates", direct, targets, uniform)
    con.execute(
        "CREATE OR REPLACE VIEW _latest_raw AS SELECT c.* FROM _latest_candidates c "
        "SEMI JOIN (SELECT benchmark, model, subset, max(run_id) AS run_id FROM _run_subsets "
        "GROUP BY benchmark, model, subset) l USING (benchmark, model, subset, run_id)"
    )


def _sources(keys: set[tuple[str, str, str]], catalog: Any) -> tuple[list[Any], list[Any]]:
    """The record files of the partitions ``keys``, and those of the partitions their unit references point to."""
    targets = {
        (r.benchmark, r.model, r.from_run) for r in catalog.refs if (r.benchmark, r.model, r.run_id) in keys
    }
    return catalog.files(sorted(keys)), catalog.files(sorted(targets))


_RUN_SUBSETS_SCHEMA = pa.schema(
    [("benchmark", pa.string()), ("model", pa.string()), ("subset", pa.string()), ("run_id", pa.string())]
)


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
    ``parse_failure_rate, position_consistency, sample_alpha, member_alpha, primary_parse_failure_rate``, NULL
    for other kinds) and the
    benchmark's section names in its own order (custom data: its subsets)."""
    overall = stored_query(con, "leaderboard_overall", benchmark=benchmark).to_pylist()
    sections: list[str] = []
    by_model: dict[str, dict[str, Any]] = {}
    for r in stored_query(con, "leaderboard_sections", benchmark=benchmark).to_pylist():
        if r["section"] not in sections:
            sections.append(r["section"])
        by_model.setdefault(r["model"], {})[r["section"]] = r["score"]
    if overall:  # a declared, non-optional section no model has (RM-Bench's Math offline) is an empty column
        declared = sorted(
            (r for r in table_rows("sections") if r["benchmark"] == benchmark),
            key=lambda r: int(r["section_order"]),
        )
        names = [r["section"] for r in declared if r["optional"] != "true" or r["section"] in sections]
        if names and all(s in names for s in sections):
            sections = names
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
                    "primary_parse_failure_rate",
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
