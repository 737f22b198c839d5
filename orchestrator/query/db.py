"""DuckDB over the results store: the views of ``orchestrator/query/sql`` and read-only queries.

Base relations come from Python (``raw_records`` over the committed Parquet files, ``examples`` over the texts,
``run_models`` from the run manifests, ``_latest_raw`` the records of the latest runs); every derived view and
every stored query is a ``.sql`` file taking DuckDB ``$named`` parameters.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any, TypeVar

import pyarrow as pa

from orchestrator._lazy import require
from orchestrator.benchmarks import rules, table_files, table_rows
from orchestrator.errors import QueryError
from orchestrator.query._sandbox import lock_down
from orchestrator.results.catalog import read_catalog
from orchestrator.results.records import (
    EXAMPLES_DIR,
    EXAMPLES_SCHEMA,
    MODEL_RUNS_SCHEMA,
    RECORD_SCHEMA,
    SCHEMA_VERSION,
    model_runs_rows,
)
from orchestrator.results.store import Store

logger = logging.getLogger(__name__)
T = TypeVar("T")

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
        "ppe_categories_csv": [str(p) for p in table_files("ppe_categories")],
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


def _define_rules(con: Any, *, files: bool = True) -> None:
    """Each rule file's views, then ``rule_points`` / ``rule_sections``: the unions (by column name) of their
    points / sections views. The views' names reach DuckDB as a list parameter of ``query_table``, never as SQL
    text. ``files=False`` (no latest partition holds a subset of a rule file): no rule file, both unions empty."""
    points: list[str] = []
    sections: list[str] = []
    for rule in rules().values():
        if not rule.points_view or not files:
            continue  # a built-in rule: computed in the numbered view files
        con.execute((SQL_DIR / rule.sql).read_text(encoding="utf-8"))
        points.append(rule.points_view)
        if rule.sections_view:
            sections.append(rule.sections_view)
    _check_columns(con, points, con.sql(_NO_RULE_POINTS).columns)
    _check_columns(con, sections, con.sql(_NO_RULE_SECTIONS).columns)
    _union(con, "rule_points", points, _RULE_POINTS_UNION)
    _union(con, "rule_sections", sections, _RULE_SECTIONS_UNION)


_RULE_POINTS_UNION = "SELECT * FROM query_table($views, true)"
_RULE_SECTIONS_UNION = (
    "SELECT model, kind, benchmark, section, score::DOUBLE AS score, n_subsets::BIGINT AS n_subsets, run_id, "
    "complete::BOOLEAN AS complete FROM query_table($views, true)"
)
"""The rule files' sections, typed as :data:`_NO_RULE_SECTIONS` (so with or without rule files the same)."""


_EMPTY_UNION = {
    "rule_points": "CREATE OR REPLACE VIEW rule_points AS " + _NO_RULE_POINTS,
    "rule_sections": "CREATE OR REPLACE VIEW rule_sections AS " + _NO_RULE_SECTIONS,
}
"""Each rule union with no rule view in it: the empty relation of its columns (constant text)."""


def _union(con: Any, name: str, views: list[str], union: str) -> None:
    if not views:
        con.execute(_EMPTY_UNION[name])
        return
    con.sql(union, params={"views": views}).create_view(name, replace=True)


def _check_columns(con: Any, views: list[str], columns: list[str]) -> None:
    """Every view in ``views`` has every one of ``columns``, else a :class:`QueryError` naming what it lacks."""
    if not views:
        return
    have: dict[str, set[str]] = {v: set() for v in views}
    for view, column in con.execute(
        "SELECT view_name, column_name FROM duckdb_columns() c JOIN duckdb_views() v "
        "ON c.table_oid = v.view_oid WHERE view_name IN (SELECT unnest($views))",
        {"views": views},
    ).fetchall():
        have[view].add(column)
    for view in views:
        missing = [c for c in columns if c not in have[view]]
        if missing:
            raise QueryError(f"rule view {view} lacks the columns {missing}")


def connect(results: str | Path | Store, *, records: bool = True) -> Any:
    """An in-memory DuckDB connection with every view over ``results`` (a directory or a URI) defined.

    What the store holds comes from its listing and its manifests (:mod:`orchestrator.results.catalog`); records
    are read through :mod:`pyarrow.dataset` scans in the current record schema (fields an older file lacks read
    as null), which DuckDB binds in constant time however many files there are. The latest run per
    (benchmark, model, subset) comes from the manifests; only the files of those runs are read for
    ``latest_records``, once, into a table that every leaderboard view then reads (``docs/store.md``).
    Damaged record files are skipped with a warning naming them and their run. The connection is then locked
    down (:func:`orchestrator.query._sandbox.lock_down`: no file access, no setting changes), which is why every
    file reaches DuckDB as an Arrow dataset registered before the lock. A local path that does not exist, or is
    a file, is a :class:`ConfigError`.

    ``records=False``: a connection for the score views only (``leaderboard``, ``section_scores``,
    ``overall_scores``, ``subset_accuracy``, ``judge_stats``, ``run_models``, ...). Where every latest partition
    has valid stored totals (and holds no judge record, no subset of a rule file, no file compaction did not
    check), it is built from the manifests alone: no record file is opened, nothing goes through Arrow (which
    imports pandas) and the record views (``raw_records``, ``records``, ``latest_records``, ``examples`` and the
    analyses over them) are left out, so reading one is a catalog error, never an empty answer. Otherwise it is
    the full connection. The score views' numbers are the same either way."""
    duckdb = require("duckdb")
    from orchestrator.results.integrity import require_readable_store

    store = require_readable_store(results)
    for attempt in range(_ATTEMPTS):
        con = duckdb.connect(":memory:")
        try:
            catalog = read_catalog(store)
            if not records:
                try:
                    return _define(con, store, catalog, records=False)
                except _RecordsNeeded as why:
                    logger.info("scores-only connection: %s; defining every view", why)
                    con.close()
                    con = duckdb.connect(":memory:")
            return _define(con, store, catalog)
        except (duckdb.Error, FileNotFoundError) as exc:
            con.close()
            # a compaction or gc removed a file between the listing and the read: list again
            if attempt + 1 == _ATTEMPTS or not _gone(exc):
                raise
            logger.info("store changed while connecting (%s); listing it again", str(exc).splitlines()[0])
        except BaseException:
            con.close()
            raise
    raise AssertionError("unreachable")


class _RecordsNeeded(Exception):
    """The score views of this store cannot come from stored totals alone (the reason is the message)."""


_ATTEMPTS = 3
_GONE = re.compile(r"No such file|not found|Failed to open", re.IGNORECASE)


def _gone(exc: BaseException) -> bool:
    """Whether ``exc`` says a listed file is no longer there (pyarrow: while building a dataset; DuckDB: while
    reading one)."""
    return isinstance(exc, FileNotFoundError) or bool(_GONE.search(str(exc)))


def read_store(results: str | Path | Store, read: Callable[[Any], T], *, records: bool = True) -> T:
    """``read(con)`` over a fresh connection to ``results`` (``records``: as in :func:`connect`), closed
    afterwards. Records are read lazily, so a compaction or gc of another run on the same store can remove a file
    this connection listed while ``read`` runs; then the store is listed again and ``read`` (read-only work) runs
    again, up to three times."""
    duckdb = require("duckdb")
    for attempt in range(_ATTEMPTS):
        con = connect(results, records=records)
        try:
            return read(con)
        except (duckdb.Error, FileNotFoundError) as exc:
            if attempt + 1 == _ATTEMPTS or not _gone(exc):
                raise
            logger.info("store changed while reading (%s); listing it again", str(exc).splitlines()[0])
        finally:
            con.close()
    raise AssertionError("unreachable")


def _define(con: Any, store: Store, catalog: Any = None, *, totals: bool = True, records: bool = True) -> Any:
    """Every view over ``catalog`` (default: the store's); ``totals=False`` ignores the per-run subset totals of
    the manifests (compaction computes them that way); ``records=False``: the score views only, from the stored
    totals (:func:`connect`), or :class:`_RecordsNeeded` where they do not suffice."""
    catalog = catalog if catalog is not None else read_catalog(store)
    covered = _covered(catalog) if totals else {}
    if records:
        damaged = _drop_damaged(catalog, covered)
        for key in damaged:  # a partition that lost a file is read from what is left of its records
            covered.pop(key, None)
        for ref in catalog.refs:  # ... and so is one whose reused records lost a file
            if (ref.benchmark, ref.model, ref.from_run) in damaged:
                covered.pop((ref.benchmark, ref.model, ref.run_id), None)
    _load_rows(con, "run_models", model_runs_rows(catalog.manifests))
    _load_rows(con, "_record_refs", [r.as_dict() for r in catalog.refs])
    con.execute(_EMPTY_RECORDS)
    if records:
        everything = catalog.files()
        _examples(con, store)
    else:  # left out at the end: defined empty so the views over them bind
        everything = []
        con.execute(_NO_EXAMPLES)
        con.execute("CREATE OR REPLACE VIEW examples AS SELECT * FROM _no_examples")
    _records_view(con, store, "raw_records", everything, everything)
    latest, whole = _latest(con, store, catalog, scan=records)
    # the stored totals of the latest partitions (those of older runs would only be filtered out again)
    _load_columns(con, "_subset_totals", _totals_columns({k: v for k, v in covered.items() if k in latest}))
    by_rule = _rule_subsets()
    special = {k for k in latest if k not in covered or _special(covered[k], by_rule)}
    if not records:
        _require_totals_only(catalog, latest, covered, special)
    _latest_view(con, store, catalog, "_latest_all", latest if records else set(), whole)
    _latest_view(con, store, catalog, "_latest_uncovered", {k for k in latest if k not in covered}, whole)
    _latest_view(con, store, catalog, "_latest_special", special, whole)
    _point_latest(con, "_latest_all")
    rules_defined = False
    for path in _view_files():
        if not rules_defined and int(path.name[:2]) >= RULES_BEFORE:
            # scores-only: no partition read from records holds subsets of a rule file
            _define_rules(con, files=records)
            _materialize(con, "rule_sections", "_latest_special")
            rules_defined = True
        sql = path.read_text(encoding="utf-8")
        params = {k: v for k, v in _params().items() if f"${k}" in sql}
        con.execute(sql, params or None)
        if path.name == "12_latest_records.sql":  # the totals of the latest (benchmark, model, subset) runs
            con.execute(
                "CREATE OR REPLACE TABLE _subset_totals_latest AS SELECT t.* FROM _subset_totals t "
                "SEMI JOIN latest_subset_runs USING (benchmark, model, subset, run_id)"
            )
        for view, source in _MATERIALIZED.get(path.name, ()):  # computed once: later views read a table
            _materialize(con, view, source)
    if records:
        _point_latest(con, "_latest_all")
    else:  # the record views read these: left out, reading them is an error (the score views read tables)
        for statement in _DROP_VIEW.values():
            con.execute(statement)
    return lock_down(con)


_DROP_VIEW = {view: "DROP VIEW " + view for view in ("_latest_raw", "_latest_all", "raw_records", "examples")}


def _require_totals_only(
    catalog: Any,
    latest: set[tuple[str, str, str]],
    covered: dict[tuple[str, str, str], dict[str, Any]],
    special: set[tuple[str, str, str]],
) -> None:
    """:class:`_RecordsNeeded` unless every ``latest`` partition's scores come from its stored totals alone: it
    is covered and not special, and every file of it (and of the partitions its unit references point to) is
    one compaction checked (name and size in ``part_files``), so none would be left out as damaged."""
    if special:
        raise _RecordsNeeded(f"{len(special)} latest partitions are read from their records")
    for key in sorted(latest | _ref_targets(latest, catalog)):
        partition = catalog.partitions.get(key)
        if partition is None:
            continue
        known = (covered.get(key) or {}).get("part_files") or {}
        for path in partition.files:
            name = str(path).rsplit("/", 1)[-1]
            if partition.sizes.get(name) is None or known.get(name) != partition.sizes.get(name):
                raise _RecordsNeeded(f"record file {path} of run {key[2]} is not one compaction checked")


_POINT = {
    source: "CREATE OR REPLACE VIEW _latest_raw AS SELECT * FROM " + source
    for source in ("_latest_all", "_latest_uncovered", "_latest_special")
}
"""The statement pointing ``_latest_raw`` at each of the latest-records views (constant text, made once)."""


def _point_latest(con: Any, source: str) -> None:
    """``_latest_raw`` (what ``latest_records`` reads) := the latest records of the partitions of ``source``."""
    con.execute(_POINT[source])


def _materialize(con: Any, view: str, source: str) -> None:
    """Evaluate ``view`` once into a table, with ``latest_records`` reading only the partitions of ``source``
    (``_latest_uncovered``: those whose subsets have no valid totals; ``_latest_special``: those plus every
    partition holding judge records or records of a subset scored by a rule file), then point ``view`` at it."""
    _point_latest(con, source)
    create, point = _MATERIALIZE[view]
    if view != "subset_accuracy" and not _has_rows(con, source):  # (it also holds the stored subset totals)
        create = _empty_like(con, view)  # no records in: no row out, and no time spent planning for none
    con.execute(create)
    con.execute(point)


def _empty_like(con: Any, view: str) -> str:
    """The statement creating ``view``'s table empty, its columns typed as the catalog holds them (planning the
    view itself, even with ``WHERE false``, costs a tenth of a second)."""
    columns = con.execute(_VIEW_COLUMNS, {"view": view}).fetchall()
    if not columns:  # pragma: no cover - every materialized view is defined before it is materialized
        raise QueryError(f"view {view} is not defined")
    body = ", ".join('"' + name.replace('"', '""') + '" ' + kind for name, kind in columns)
    return "CREATE OR REPLACE TABLE _" + view + "_table (" + body + ")"


_VIEW_COLUMNS = (
    "SELECT c.column_name, c.data_type FROM duckdb_columns() c JOIN duckdb_views() v ON c.table_oid = v.view_oid "
    "WHERE v.view_name = $view AND NOT v.internal ORDER BY c.column_index"
)


def _has_rows(con: Any, source: str) -> bool:
    return con.execute(_ANY_ROW[source]).fetchone() is not None


_MATERIALIZED = {
    "16_judge_stats.sql": (("judge_stats", "_latest_special"),),
    "17_judge_reliability.sql": (("judge_reliability", "_latest_special"),),
    "20_subset_accuracy.sql": (("subset_accuracy", "_latest_uncovered"),),
}
"""Views evaluated once per connection and kept as tables, and the latest records each is computed from: the
views defined over them (sections, overall scores, leaderboard, analyses) then never rescan records. Records
of partitions with valid subset totals enter ``subset_accuracy`` through ``_subset_totals_latest`` instead; the
judge views read only partitions that hold judge records (a partition without any adds no row to them), and the
rule files' sections (``rule_sections``) only partitions that hold subsets of those rules."""

_MATERIALIZE = {
    view: (
        "CREATE OR REPLACE TABLE _" + view + "_table AS SELECT * FROM " + view,
        "CREATE OR REPLACE VIEW " + view + " AS SELECT * FROM _" + view + "_table",
    )
    for view in ("rule_sections", *(v for views in _MATERIALIZED.values() for v, _ in views))
}
"""The statements that evaluate each materialized view into a table and point the view at it (constant text,
made once from the names above)."""
_ANY_ROW = {
    source: f"SELECT 1 FROM (SELECT 1 FROM {source}_whole UNION ALL SELECT 1 FROM {source}_candidates) LIMIT 1"
    for source in _POINT
}


def _special(entry: dict[str, Any], by_rule: dict[Any, set[str]]) -> bool:
    """Whether a covered partition (its manifest entry) holds judge records or subsets scored by a rule file
    (``by_rule``: :func:`_rule_subsets`)."""
    return bool(entry.get("judge_records")) or bool(
        set(entry.get("subset_scores", {})) & by_rule.get(entry.get("benchmark"), set())
    )


def _rule_subsets() -> dict[Any, set[str]]:
    """Per benchmark, the subsets whose rule has its own SQL file (points or sections view)."""
    with_sql = {name for name, r in rules().items() if r.points_view or r.sections_view}
    out: dict[Any, set[str]] = {}
    for row in table_rows("subsets"):
        if row.get("rule") in with_sql:
            out.setdefault(row["benchmark"], set()).add(row["subset"])
    return out


def scoring_key() -> str:
    """A digest of everything subset totals depend on besides the records: every SQL file of the views, the
    benchmark data tables (shipped and registered) and the record schema version. Totals computed under another
    key are not used (their partitions are read from their records)."""
    import hashlib

    h = hashlib.sha256(f"record-schema-{SCHEMA_VERSION}".encode())
    for path in sorted(SQL_DIR.rglob("*.sql")):
        h.update(str(path.relative_to(SQL_DIR)).encode() + b"\0" + path.read_bytes() + b"\0")
    for table in ("subsets", "sections", "rules"):
        for path in table_files(table):
            h.update(table.encode() + b"\0" + path.read_bytes() + b"\0")
    return h.hexdigest()[:32]


def _covered(catalog: Any) -> dict[tuple[str, str, str], dict[str, Any]]:
    """(benchmark, model, run) -> manifest entry, for the successful entries whose subset totals were computed
    under the current :func:`scoring_key`."""
    key = scoring_key()
    current = [m for m in catalog.manifests if m.get("totals_key") == key]
    held = {
        (m.get("run_id"), e.get("benchmark"), e.get("model")): e
        for m in current
        for e in m.get("models", [])
        if e.get("status") == "ok" and isinstance(e.get("subset_scores"), dict)
    }
    out = {}
    for m in current:
        for entry in m.get("models", []):
            if entry.get("status") != "ok" or not isinstance(entry.get("subsets"), dict):
                continue
            benchmark, model = entry.get("benchmark"), entry.get("model")
            if isinstance(entry.get("subset_scores"), dict):
                out[(benchmark, model, m.get("run_id"))] = entry
            elif isinstance(entry.get("totals_from"), str):  # the totals of the run whose records it reuses
                source = held.get((entry["totals_from"], benchmark, model))
                if source is not None:
                    scores = {
                        "subset_scores": source["subset_scores"],
                        "judge_records": source.get("judge_records"),
                    }
                    out[(benchmark, model, m.get("run_id"))] = {**entry, **scores}
    return out


_TOTALS_SCHEMA = pa.schema(
    [
        ("model", pa.string()),
        ("kind", pa.string()),
        ("benchmark", pa.string()),
        ("subset", pa.string()),
        ("run_id", pa.string()),
        ("n", pa.int64()),
        ("n_correct", pa.int64()),
        ("accuracy", pa.float64()),
    ]
)


def _totals_columns(covered: dict[tuple[str, str, str], dict[str, Any]]) -> dict[str, list[Any]]:
    """The rows of ``_subset_totals`` for the ``covered`` partitions, as one list per column."""
    cols: dict[str, list[Any]] = {name: [] for name in _TOTALS_SCHEMA.names}
    model, kind, benchmark, subset, run, n, n_correct, accuracy = (
        cols[name] for name in _TOTALS_SCHEMA.names
    )
    for (b, m, r), entry in covered.items():
        for s, t in entry["subset_scores"].items():
            model.append(m)
            kind.append(t.get("kind"))
            benchmark.append(b)
            subset.append(s)
            run.append(r)
            n.append(t.get("n"))
            n_correct.append(t.get("n_correct"))
            accuracy.append(t.get("accuracy"))
    return cols


def subset_totals(con: Any) -> dict[tuple[str, str], dict[str, Any]]:
    """What compaction stores per (benchmark, model) of a run, from a connection over that run alone
    (``totals=False``): ``subset_scores`` ({subset: kind, n, n_correct, accuracy}, the rows of
    ``_subset_scored``) and ``judge_records`` (records of kind judge)."""
    out: dict[tuple[str, str], dict[str, Any]] = {}
    rows = con.execute(
        "SELECT benchmark, model, subset, kind, n, n_correct, accuracy FROM subset_accuracy "
        "ORDER BY benchmark, model, subset"
    ).fetchall()
    for benchmark, model, subset, kind, n, n_correct, accuracy in rows:
        entry = out.setdefault((benchmark, model), {"subset_scores": {}, "judge_records": 0})
        entry["subset_scores"][subset] = {"kind": kind, "n": n, "n_correct": n_correct, "accuracy": accuracy}
    for benchmark, model, n in con.execute(
        "SELECT benchmark, model, count(*) FROM latest_records WHERE kind = 'judge' GROUP BY ALL"
    ).fetchall():
        out.setdefault((benchmark, model), {"subset_scores": {}, "judge_records": 0})["judge_records"] = n
    return out


def connect_catalog(catalog: Any, *, totals: bool = True) -> Any:
    """:func:`connect` over a given catalog (e.g. one run's partitions, for compaction)."""
    duckdb = require("duckdb")
    con = duckdb.connect(":memory:")
    try:
        return _define(con, catalog.store, catalog, totals=totals)
    except BaseException:
        con.close()
        raise


def _drop_damaged(
    catalog: Any, trusted: dict[tuple[str, str, str], dict[str, Any]]
) -> set[tuple[str, str, str]]:
    """Leave out of every partition the record files whose footer or schema does not read, each with a warning
    naming it and the run it belongs to (:func:`orchestrator.results.integrity.record_file_problem`); returns
    the partitions that lost a file. A file of a ``trusted`` partition (valid totals) whose name and size are
    those compaction checked and recorded (``part_files``) is not opened again."""
    from orchestrator.results.integrity import record_file_problem, warn_damaged

    lost = set()
    for key, partition in catalog.partitions.items():
        known = (trusted.get(key) or {}).get("part_files") or {}
        good = []
        for path in partition.files:
            name = str(path).rsplit("/", 1)[-1]
            size = partition.sizes.get(name)
            if size is not None and known.get(name) == size:
                good.append(path)
                continue
            problem = record_file_problem(catalog.store, path)
            if problem is None:
                good.append(path)
            else:
                warn_damaged(catalog.store, path, problem)
                lost.add(key)
        partition.files = good
    return lost


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


def _relation(con: Any, store: Store, name: str, files: list[Any]) -> str:
    """Register ``name`` as a pyarrow dataset in the current record schema over record ``files`` (fields an older
    file lacks read as null); returns the name to read them by (``_empty_records`` when there are none).

    Arrow datasets only: the connection is locked down after the views are defined and reads no file itself
    (:mod:`orchestrator.query._sandbox`), so DuckDB's own Parquet reader would fail there."""
    if not files:
        return "_empty_records"
    con.register(name, _dataset(store, files, RECORD_SCHEMA))
    return name


def _records_view(con: Any, store: Store, name: str, direct: list[Any], targets: list[Any]) -> None:
    """View ``name``: the records stored in ``direct`` plus the units runs reuse from the records in ``targets``
    (with the reusing run's id, and ``cached_from`` = the run whose scores they are)."""
    stored = _relation(con, store, f"_{name}_direct", direct)
    reused = stored if targets is direct else _relation(con, store, f"_{name}_targets", targets)
    sql = read_sql("base/records.sql")
    con.execute(sql.replace("$stored", stored).replace("$reused", reused).replace("$name", name))


def _latest(
    con: Any, store: Store, catalog: Any, *, scan: bool = True
) -> tuple[set[tuple[str, str, str]], set[tuple[str, str, str]]]:
    """``_run_subsets`` (which subsets each run wrote per benchmark and model: from the manifests, else from the
    run's records; ``scan=False``: :class:`_RecordsNeeded` instead); returns the (benchmark, model, run)
    partitions that are the latest for some subset, and those of them that are the latest for every subset they
    hold."""
    ok = {
        tuple(row)
        for row in con.execute(
            "SELECT DISTINCT benchmark, model, run_id FROM run_models WHERE status = 'ok'"
        ).fetchall()
    }
    known: dict[str, list[Any]] = {name: [] for name in _RUN_SUBSETS_SCHEMA.names}
    benchmarks, models, subset_names, runs = (known[name] for name in _RUN_SUBSETS_SCHEMA.names)
    unknown: set[tuple[str, str, str]] = set()
    complete: set[tuple[str, str, str]] = set()  # partitions whose records are all of the subsets listed
    for m in catalog.manifests:
        for entry in m.get("models", []):
            key = (entry.get("benchmark"), entry.get("model"), m.get("run_id"))
            if key not in ok:
                continue
            subsets = entry.get("subsets")
            if isinstance(subsets, dict):
                if _listed_in_full(entry):
                    complete.add(key)
                k = len(subsets)
                benchmarks += [key[0]] * k
                models += [key[1]] * k
                subset_names += subsets
                runs += [key[2]] * k
            else:
                unknown.add(key)
    _load_columns(con, "_run_subsets", known)
    if unknown and not scan:
        raise _RecordsNeeded(f"{len(unknown)} runs' manifests do not list their subsets")
    if unknown:
        direct, targets = _sources(unknown, catalog)
        _records_view(con, store, "_scan_records", direct, targets)
        con.register(
            "_unknown_runs",
            pa.Table.from_pylist([{"benchmark": b, "model": m, "run_id": r} for b, m, r in sorted(unknown)]),
        )
        con.execute(
            "INSERT INTO _run_subsets SELECT DISTINCT s.benchmark, s.model, s.subset, s.run_id "
            "FROM _scan_records s JOIN _unknown_runs u USING (benchmark, model, run_id)"
        )
    complete |= unknown  # their subsets were read from their own records
    rows = con.execute(_LATEST_PARTITIONS).fetchall()
    latest = {(b, m, r) for b, m, r, _ in rows}
    return latest, {(b, m, r) for b, m, r, whole in rows if whole and (b, m, r) in complete}


def _listed_in_full(entry: dict[str, Any]) -> bool:
    """Whether a manifest entry's ``subsets`` ({subset: records}) account for every record of it (``n_records``):
    then no record of the partition is of a subset the manifest leaves out."""
    counts = list(entry["subsets"].values())
    n = entry.get("n_records")
    return isinstance(n, int) and all(isinstance(c, int) for c in counts) and sum(counts) == n


_LATEST_PARTITIONS = (
    "WITH newest AS (SELECT benchmark, model, subset, max(run_id) AS newest FROM _run_subsets GROUP BY ALL) "
    "SELECT r.benchmark, r.model, r.run_id, bool_and(r.run_id = n.newest) AS whole "
    "FROM _run_subsets r JOIN newest n USING (benchmark, model, subset) "
    "GROUP BY r.benchmark, r.model, r.run_id HAVING bool_or(r.run_id = n.newest)"
)
"""The (benchmark, model, run) partitions that are the latest for some subset, and whether they are for every
subset they hold (``whole``: none of their records is left out of the latest records)."""


def _latest_view(con: Any, store: Store, catalog: Any, name: str, keys: set[Any], whole: set[Any]) -> None:
    """View ``name``: the records of the partitions ``keys`` (and the units they reuse) that are the latest for
    their (benchmark, model, subset). Those of a partition in ``whole`` all are (no join to find them); the others
    are joined with the latest run per subset."""
    direct, targets = _sources(keys & whole, catalog)
    _records_view(con, store, name + "_whole", direct, targets)
    direct, targets = _sources(keys - whole, catalog)
    _records_view(con, store, name + "_candidates", direct, targets)
    # the simplest form that holds them (every view over the latest records binds it)
    con.execute(_LATEST[name][(bool(keys & whole), bool(keys - whole))])


_NEWEST = (
    " SEMI JOIN (SELECT benchmark, model, subset, max(run_id) AS run_id FROM _run_subsets "
    "GROUP BY benchmark, model, subset) USING (benchmark, model, subset, run_id)"
)
_LATEST = {
    name: {
        (True, True): f"CREATE OR REPLACE VIEW {name} AS SELECT * FROM {name}_whole "
        f"UNION ALL SELECT * FROM {name}_candidates{_NEWEST}",
        (True, False): f"CREATE OR REPLACE VIEW {name} AS SELECT * FROM {name}_whole",
        (False, True): f"CREATE OR REPLACE VIEW {name} AS SELECT * FROM {name}_candidates{_NEWEST}",
        (False, False): f"CREATE OR REPLACE VIEW {name} AS SELECT * FROM _empty_records",
    }
    for name in ("_latest_all", "_latest_uncovered", "_latest_special")
}
"""Each latest-records view, by (any whole partition, any other): the records of its whole partitions, and those
of its other partitions that belong to the latest run of their (benchmark, model, subset)."""


def _sources(keys: set[tuple[str, str, str]], catalog: Any) -> tuple[list[Any], list[Any]]:
    """The record files of the partitions ``keys``, and those of the partitions their unit references point to."""
    return catalog.files(sorted(keys)), catalog.files(sorted(_ref_targets(keys, catalog)))


def _ref_targets(keys: set[tuple[str, str, str]], catalog: Any) -> set[tuple[str, str, str]]:
    """The partitions the unit references of the partitions ``keys`` point to."""
    return {
        (r.benchmark, r.model, r.from_run) for r in catalog.refs if (r.benchmark, r.model, r.run_id) in keys
    }


_RUN_SUBSETS_SCHEMA = pa.schema(
    [("benchmark", pa.string()), ("model", pa.string()), ("subset", pa.string()), ("run_id", pa.string())]
)


_TABLES = {
    "run_models": MODEL_RUNS_SCHEMA,
    "_record_refs": _REFS_SCHEMA,
    "_subset_totals": _TOTALS_SCHEMA,
    "_run_subsets": _RUN_SUBSETS_SCHEMA,
}


def _sql_type(t: pa.DataType) -> str:
    """DuckDB's name for Arrow type ``t`` (the types of the base tables and of the record schema)."""
    if pa.types.is_list(t):
        return _sql_type(t.value_type) + "[]"
    if pa.types.is_struct(t):
        return "STRUCT(" + ", ".join(f'"{f.name}" {_sql_type(f.type)}' for f in t) + ")"
    if pa.types.is_map(t):
        return f"MAP({_sql_type(t.key_type)}, {_sql_type(t.item_type)})"
    return _SQL_TYPES[t]


_SQL_TYPES = {
    pa.string(): "VARCHAR",
    pa.bool_(): "BOOLEAN",
    pa.int8(): "TINYINT",
    pa.int16(): "SMALLINT",
    pa.int32(): "INTEGER",
    pa.int64(): "BIGINT",
    pa.float64(): "DOUBLE",
}


def _from_lists(name: str, schema: pa.Schema) -> str:
    columns = ", ".join(f"unnest(CAST(${f.name} AS {_sql_type(f.type)}[])) AS {f.name}" for f in schema)
    return f"CREATE OR REPLACE TABLE {name} AS SELECT {columns}"


_FROM_LISTS = {name: _from_lists(name, schema) for name, schema in _TABLES.items()}
"""Per base table, the statement that creates it from one list parameter per column (constant text made once
from the schemas above; every value arrives as a parameter)."""
_EMPTY_RECORDS = (
    "CREATE OR REPLACE TABLE _empty_records ("
    + ", ".join(f'"{f.name}" {_sql_type(f.type)}' for f in RECORD_SCHEMA)
    + ")"
)
"""The empty records relation in the current record schema (what a view over no record file reads)."""
_NO_EXAMPLES = (
    "CREATE OR REPLACE TABLE _no_examples ("
    + ", ".join(f'"{f.name}" {_sql_type(f.type)}' for f in EXAMPLES_SCHEMA)
    + ")"
)


def _load_rows(con: Any, name: str, rows: list[dict[str, Any]]) -> None:
    """Create base table ``name`` (:data:`_TABLES`: its schema) holding ``rows``."""
    _load_columns(con, name, {c: [r.get(c) for r in rows] for c in _TABLES[name].names})


def _load_columns(con: Any, name: str, columns: dict[str, list[Any]]) -> None:
    """Create base table ``name`` (:data:`_TABLES`) from one list per column. The values reach DuckDB as list
    parameters, not through Arrow: DuckDB imports pandas for any Arrow object (a quarter of a second), which a
    scores-only connection never needs."""
    con.execute(_FROM_LISTS[name], columns)


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
    return read_store(results, lambda con: leaderboard_rows(con, benchmark)[0])
