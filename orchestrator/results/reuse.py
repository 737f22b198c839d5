"""Cache-served units recorded as references to the earlier records they repeat, not as copies.

A unit whose every score came from the score cache is, in the usual nightly case, the same records as the unit
(same benchmark, model and shard) of an earlier run, but for ``run_id`` and ``cached_from``. Then
:func:`write_cached_unit` writes ``shard-<n>.ref.json`` (a few hundred bytes) into the run's partition instead of
a shard file: "the records of this unit are those of run ``from_run``". Readers expand it (``raw_records``): the
earlier rows with this run's id and ``cached_from`` = the run whose scores they are. Anything that would make the
reference differ from the records the cache produced (another shard boundary, a renamed model, a schema change,
other scores after a ``--no-cache`` refresh) writes the records as a shard file instead, so a reference is only
ever written where it reproduces exactly those records.

A reference always points at stored records (never at another reference), so ``rayward gc`` keeps a run as long as
a kept run's references point at it.
"""

from __future__ import annotations

import functools
import json
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from orchestrator.results.catalog import REF_SUFFIX, list_run_dirs, read_ref
from orchestrator.results.records import (
    RECORD_SCHEMA,
    TEXT_COLUMNS,
    _relative,
    _with_fields,
    metadata_of,
    partition_dir,
    split_texts,
    texts_key,
    write_shard,
)
from orchestrator.results.store import Store, open_store

if TYPE_CHECKING:
    from orchestrator.results.manifest import UnitSource

logger = logging.getLogger(__name__)

_IGNORED = ("run_id", "cached_from", "texts", *TEXT_COLUMNS)


def ref_name(shard: int) -> str:
    return f"shard-{shard:05d}{REF_SUFFIX}"


_LAST_READ: dict[str, Any] = {}
"""The last local record file :func:`_read_records` read, by (path, bytes, mtime): a model's units are
checked one after the other against the same earlier part file."""


def _read_table(store: Store, path: Path | str) -> pa.Table:
    if store.local is not None:
        return pq.read_table(path)
    with store.fs.open_input_file(str(path)) as fh:
        return pq.read_table(fh)


def _read_records(store: Store, path: Path | str) -> pa.Table:
    """A record file in the current schema (the last local one read is kept: files are immutable once
    written, and a rewrite under the same name changes its size or mtime)."""
    stamp = None
    if store.local is not None:
        st = Path(path).stat()
        stamp = (str(path), st.st_size, st.st_mtime_ns)
        if _LAST_READ.get("stamp") == stamp:
            return _LAST_READ["table"]
    table = _with_fields(_read_table(store, path)).cast(RECORD_SCHEMA)
    if stamp is not None:
        _LAST_READ.clear()
        _LAST_READ.update(stamp=stamp, table=table)
    return table


def stored_unit(
    store: Store, benchmark: str, model: str, run_id: str, shard: int
) -> tuple[str, pa.Table] | None:
    """``(run, records)`` of one stored unit of ``run_id`` (following a reference to the run holding the rows), or
    None when the run has no such unit."""
    from orchestrator.results.catalog import partition_files

    files, refs = partition_files(store, benchmark, model, run_id)
    ref = refs.get(shard)
    if ref is not None:
        found = read_ref(store, ref)
        if found is None or found.from_run == run_id:
            return None
        files, _ = partition_files(store, benchmark, model, found.from_run)
        run_id = found.from_run
    for path in files:
        name = str(path).rsplit("/", 1)[-1]
        if name.startswith("shard-") and name != f"shard-{shard:05d}.parquet":
            continue
        try:
            table = _read_records(store, path)
        except Exception as exc:  # unreadable: no reference to it
            logger.warning("cannot read %s (%s)", path, exc)
            return None
        table = table.filter(pc.equal(table.column("shard"), shard))
        if table.num_rows:
            return run_id, table
    return None


def _same(new: pa.Table, old: pa.Table, old_run: str) -> bool:
    """Whether ``old`` (records of ``old_run``) read through a reference gives exactly ``new``."""
    if new.num_rows != old.num_rows:
        return False
    origin = pc.coalesce(old.column("cached_from"), pa.scalar(old_run, pa.string()))
    if origin.to_pylist() != new.column("cached_from").to_pylist():
        return False
    new_texts = new.column("texts").to_pylist()
    old_texts = old.column("texts").to_pylist()
    if old.column("texts").null_count == old.num_rows:  # texts in the records (schema version < 4)
        old_texts = [texts_key(old.select(["row_index", *TEXT_COLUMNS]))] * old.num_rows
    if new_texts != old_texts:
        return False
    keep = [n for n in RECORD_SCHEMA.names if n not in _IGNORED]
    return new.select(keep).equals(old.select(keep))


def earlier_source(
    root: str | Path | Store,
    benchmark: str,
    model: str,
    run_id: str,
    shard: int,
    entries: dict[str, dict[tuple[str, str], dict[str, Any]]],
) -> UnitSource | None:
    """Where unit ``shard`` of (benchmark, model) came from in the model's newest run before ``run_id`` (its
    manifest's ``unit_sources``), when that run recorded it and the run holding the records still has them;
    else None. ``entries`` memoizes the successful entries of the manifests read (run id -> (benchmark, model)
    -> entry), so a run over many models reads and indexes each earlier manifest once."""
    from orchestrator.results.catalog import partition_files
    from orchestrator.results.integrity import load_manifest
    from orchestrator.results.manifest import UnitSource
    from orchestrator.results.records import manifest_path

    store = open_store(root)
    previous = next((r for r in list_run_dirs(store, benchmark, model) if r < run_id), None)
    if previous is None:
        return None
    if previous not in entries:
        manifest, _ = load_manifest(store, manifest_path(store, previous), warn=False)
        entries[previous] = {
            (e.get("benchmark"), e.get("model")): e
            for e in (manifest or {}).get("models", [])
            if e.get("status") == "ok"
        }
    raw = (entries[previous].get((benchmark, model), {}).get("unit_sources") or {}).get(str(shard))
    try:
        found = UnitSource.model_validate(raw) if raw is not None else None
    except ValueError:
        return None
    if found is None or not partition_files(store, benchmark, model, found.records_run)[0]:
        return None  # no note, or the records it points to are gone (or are not stored rows)
    return found


def _write_bytes(target: Any, data: bytes) -> None:
    if isinstance(target, str):
        Path(target).write_bytes(data)
    else:
        target.write(data)


def write_cached_unit(
    root: str | Path | Store, table: pa.Table, *, benchmark: str, model: str, run_id: str, shard: int
) -> Path | str:
    """Record a cache-served unit: a reference to the same unit of the model's newest earlier run when that gives
    exactly these records, else a shard file (:func:`write_shard`). Returns the path written."""
    return record_cached_unit(root, table, benchmark=benchmark, model=model, run_id=run_id, shard=shard)[0]


def record_cached_unit(
    root: str | Path | Store, table: pa.Table, *, benchmark: str, model: str, run_id: str, shard: int
) -> tuple[Path | str, str]:
    """:func:`write_cached_unit`, also returning the run whose stored rows the unit's records now are (the
    referenced run, or ``run_id`` when a shard file was written)."""
    store = open_store(root)
    new = split_texts(store, _with_fields(table).cast(RECORD_SCHEMA), metadata_of(table))
    for previous in list_run_dirs(store, benchmark, model):
        if previous >= run_id:
            continue
        found = stored_unit(store, benchmark, model, previous, shard)
        if found is None:
            continue
        from_run, old = found
        if not _same(new, old, from_run):
            break  # the newest earlier unit differs: the scores changed since, store them
        path = write_ref(
            store,
            benchmark=benchmark,
            model=model,
            run_id=run_id,
            shard=shard,
            from_run=from_run,
            rows=new.num_rows,
        )
        return path, from_run
    return write_shard(store, new, benchmark=benchmark, model=model, run_id=run_id, shard=shard), run_id


def write_ref(
    root: str | Path | Store, *, benchmark: str, model: str, run_id: str, shard: int, from_run: str, rows: int
) -> Path | str:
    """Write ``shard-<n>.ref.json``: unit ``shard`` of ``run_id`` is the ``rows`` records of run ``from_run``
    (which must hold them as records, not as a reference)."""
    store = open_store(root)
    ref = {
        "run_id": run_id,
        "benchmark": benchmark,
        "model": model,
        "shard": shard,
        "from_run": from_run,
        "rows": rows,
    }
    data = json.dumps(ref, sort_keys=True).encode()
    rel = _relative(store, partition_dir(store, benchmark, model, run_id)) + "/" + ref_name(shard)
    return store.write_atomic(rel, functools.partial(_write_bytes, data=data))


__all__ = ["write_cached_unit", "record_cached_unit", "write_ref", "stored_unit", "ref_name"]
