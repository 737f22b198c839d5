"""``rayward store upgrade``: bring a store written by an older release to the current layout, losing nothing.

Stores of every older layout are read as they are (fields a file lacks read as null; texts kept in a record are
shown as they are), so upgrading is about size and speed, never about being readable:

1. every record file of schema version < 4 (texts in each record) is rewritten with its texts moved to the
   examples table (``examples/<texts>.parquet``, written and read back first) and the newer fields added; the new
   file replaces the old one atomically (same name), after checking it holds the same rows, ids and scores;
2. every finished run is compacted (:mod:`orchestrator.results.compact`), which also records each run's subsets in
   its manifest, so readers stop scanning records to find the latest run per subset.

A file a driver is writing (its run's lock is held) is skipped and reported; running the command again later
finishes the job. Every step is idempotent.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from orchestrator.results.catalog import list_partitions
from orchestrator.results.compact import CompactReport, compact_store
from orchestrator.results.records import (
    RECORD_SCHEMA,
    SCHEMA_VERSION,
    TEXT_COLUMNS,
    _relative,
    _with_fields,
    examples_rel,
    run_lock_name,
    split_texts,
)
from orchestrator.results.store import LockHeld, Store, open_store

logger = logging.getLogger(__name__)

_CHECKED = (
    "run_id",
    "benchmark",
    "model",
    "subset",
    "example_id",
    "row_index",
    "shard",
    "score_chosen",
    "score_rejected",
    "correct",
    "scores_chosen",
    "scores_rejected",
    "cached_from",
)


@dataclass
class UpgradeReport:
    rewritten_files: int = 0
    bytes_before: int = 0
    bytes_after: int = 0
    skipped_locked: list[str] = field(default_factory=list)
    compacted: list[CompactReport] = field(default_factory=list)


def _size(store: Store, path: Path | str) -> int:
    if store.local is not None:
        return Path(path).stat().st_size
    return store.fs.get_file_info(str(path)).size or 0


def _read(store: Store, path: Path | str) -> pa.Table:
    if store.local is not None:
        return pq.read_table(path)
    with store.fs.open_input_file(str(path)) as fh:
        return pq.read_table(fh)


def upgrade_file(store: Store, path: Path | str) -> bool:
    """Rewrite one record file in the current layout; False when it already is. Raises when the rewrite would
    not hold the same records (the old file is then left untouched)."""
    if store.local is not None:
        names = pq.ParquetFile(path).schema_arrow.names
    else:
        with store.fs.open_input_file(str(path)) as fh:
            names = pq.ParquetFile(fh).schema_arrow.names
    if "texts" in names:
        return False
    old = _with_fields(_read(store, path)).cast(RECORD_SCHEMA)
    version = pa.array([SCHEMA_VERSION] * old.num_rows, pa.int16())
    new = split_texts(store, old.set_column(0, RECORD_SCHEMA.field("schema_version"), version))
    # nothing lost: the examples file read back holds the texts, the new file the same rows, ids and scores
    keys = set(new.column("texts").to_pylist())
    for key in keys:
        stored = _read(store, store.path(examples_rel(key)))
        by_row = {r: i for i, r in enumerate(stored.column("row_index").to_pylist())}
        rows = [by_row.get(r) for r in old.column("row_index").to_pylist()]
        if None in rows:
            raise ValueError(f"{path}: examples file {key} misses rows; file left as it was")
        got = stored.take(pa.array(rows, pa.int64()))
        for name in TEXT_COLUMNS:
            if got.column(name).to_pylist() != old.column(name).to_pylist():
                raise ValueError(f"{path}: examples file {key} differs in {name}; file left as it was")
    if not new.select(list(_CHECKED)).equals(old.select(list(_CHECKED))):
        raise ValueError(f"{path}: rewritten records differ; file left as it was")
    store.write_atomic(_relative(store, path), lambda target: pq.write_table(new, target, compression="zstd"))
    return True


def upgrade_store(results: str | Path | Store, *, compact: bool = True) -> UpgradeReport:
    """Upgrade every record file, then compact every finished run (see the module docstring)."""
    store = open_store(results)
    report = UpgradeReport()
    for (_, _, run_id), p in sorted(list_partitions(store).items()):
        try:
            with store.lock(run_lock_name(run_id)):
                for path in [*p.files, *p.superseded]:
                    before = _size(store, path)
                    if upgrade_file(store, path):
                        report.rewritten_files += 1
                        report.bytes_before += before
                        report.bytes_after += _size(store, path)
        except LockHeld:
            if run_id not in report.skipped_locked:
                report.skipped_locked.append(run_id)
    if compact:
        report.compacted = compact_store(store)
    return report


__all__ = ["upgrade_store", "upgrade_file", "UpgradeReport"]
