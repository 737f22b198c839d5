"""Compaction and garbage collection of finished runs (``rayward compact``, ``rayward gc``).

**Compaction** of a finished run (manifest status ``ok``; a run that may still be resumed is left as it is) holds
the run's lock (a driver resuming it, or another compaction, makes it skip the run) and, per partition,

1. merges its shard files into one ``part-<id>.parquet`` (written atomically), then deletes the shard files;
2. records in the manifest, per model entry, ``subsets`` ({subset: records}: readers take the latest run per subset
   from it instead of scanning records) and folds the partition's unit references into ``reused_shards``; the
   manifest is rewritten atomically *before* the reference files are deleted.

A reader lists the partition before it reads the manifest and prefers a part file over shard files, so at every
moment it finds each unit exactly once (:mod:`orchestrator.results.catalog`).

**gc** (``--keep-last N``) removes, per (benchmark, model), the records of runs older than its newest ``N`` runs,
except a run that is the latest for some subset (what the leaderboard shows), a run whose records a kept run
reuses, and a run whose lock a driver holds. The manifest loses those model entries first (a manifest left with
no entry is deleted), then the records go.
"""

from __future__ import annotations

import functools
import logging
import secrets
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from orchestrator.results.catalog import PART_PREFIX, list_partitions, partition_files, read_ref
from orchestrator.results.records import (
    RECORD_SCHEMA,
    RUNS_DIR,
    SCHEMA_VERSION,
    _relative,
    _with_fields,
    encode_part,
    read_manifests,
    run_lock_name,
    write_manifest,
)
from orchestrator.results.store import LockHeld, Store, open_store

logger = logging.getLogger(__name__)


@dataclass
class CompactReport:
    """What compaction did to one run."""

    run_id: str
    status: str
    """``compacted``, ``skipped: <why>``."""
    merged_files: int = 0
    part_files: int = 0
    refs_folded: int = 0


@dataclass
class GcReport:
    removed_runs: list[str] = field(default_factory=list)
    """Runs whose manifest went (every model entry removed)."""
    removed_partitions: int = 0
    removed_bytes: int = 0
    kept_latest: int = 0
    kept_referenced: int = 0
    skipped_locked: list[str] = field(default_factory=list)


def _read(store: Store, path: Path | str, columns: list[str] | None = None) -> pa.Table:
    if store.local is not None:
        return pq.read_table(path, columns=columns)
    with store.fs.open_input_file(str(path)) as fh:
        return pq.read_table(fh, columns=columns)


def _manifest(store: Store, run_id: str) -> dict[str, Any] | None:
    """Run ``run_id``'s manifest, or None when it is missing or damaged (a damaged one is logged)."""
    from orchestrator.results.integrity import load_manifest
    from orchestrator.results.records import manifest_path

    if not store.is_file(f"{RUNS_DIR}/{encode_part(run_id)}.json"):
        return None
    return load_manifest(store, manifest_path(store, run_id))[0]


def _delete(store: Store, path: Path | str) -> int:
    try:
        if store.local is not None:
            size = Path(path).stat().st_size
            Path(path).unlink()
            return size
        info = store.fs.get_file_info(str(path))
        store.fs.delete_file(str(path))
        return info.size or 0
    except FileNotFoundError:
        return 0


def _rmdir(store: Store, path: Path | str) -> None:
    if store.local is not None:
        try:
            Path(path).rmdir()
        except OSError:
            pass  # not empty (a concurrent writer) or already gone


def _write_part(table: pa.Table, target: Any) -> None:
    pq.write_table(table, target, compression="zstd", row_group_size=1 << 20)


def _schema_names(store: Store, path: Path | str) -> list[str]:
    if store.local is not None:
        return pq.read_schema(path).names
    with store.fs.open_input_file(str(path)) as fh:
        return pq.ParquetFile(fh).schema_arrow.names


def _subset_counts(store: Store, files: list[Path | str], shards: set[int] | None = None) -> Counter:
    counts: Counter = Counter()
    for path in files:
        table = _read(store, path, ["subset", "shard"])
        if shards is not None:
            table = table.filter(pc.is_in(table.column("shard"), pa.array(sorted(shards), pa.int32())))
        for subset, n in Counter(table.column("subset").to_pylist()).items():
            counts[subset] += n
    return counts


def _whole_partition_counts(
    store: Store,
    benchmark: str,
    model: str,
    target: str,
    shards: set[int],
    manifests: dict[str, dict[str, Any] | None],
) -> Counter | None:
    """Records per subset of the units ``shards`` of run ``target`` from its manifest, when they are every unit
    it wrote for (benchmark, model), it reuses none of them and compaction counted them (``subsets``); else None
    (the records are counted)."""
    if target not in manifests:
        manifests[target] = _manifest(store, target)
    manifest = manifests[target] or {}
    if any(
        (r.get("benchmark"), r.get("model")) == (benchmark, model)
        for r in manifest.get("reused_shards") or []
    ):
        return None
    entry = next(
        (e for e in manifest.get("models", []) if (e.get("benchmark"), e.get("model")) == (benchmark, model)),
        None,
    )
    if (
        entry is None
        or not manifest.get("compacted")
        or entry.get("status") != "ok"
        or not isinstance(entry.get("subsets"), dict)
        or sorted(entry.get("shards") or []) != sorted(shards)
    ):
        return None
    return Counter({str(k): int(v) for k, v in entry["subsets"].items()})


def compact_run(results: str | Path | Store, run_id: str) -> CompactReport:
    """Compact one finished run (see the module docstring)."""
    store = open_store(results)
    manifest = _manifest(store, run_id)
    if manifest is None:
        return CompactReport(run_id, "skipped: no manifest")
    if manifest.get("status") != "ok":
        return CompactReport(run_id, f"skipped: status {manifest.get('status')!r} (may be resumed)")
    try:
        with store.lock(run_lock_name(run_id)):
            return _compact_locked(store, run_id)
    except LockHeld:
        return CompactReport(run_id, "skipped: a driver holds the run's lock")


def _compact_locked(store: Store, run_id: str) -> CompactReport:
    report = CompactReport(run_id, "compacted")
    manifest = _manifest(store, run_id)
    if manifest is None:
        return CompactReport(run_id, "skipped: no manifest")
    partitions = list_partitions(store, {run_id})
    to_delete_shards: list[Path | str] = []
    for _key, p in sorted(partitions.items()):
        shard_files = [f for f in p.files if str(f).rsplit("/", 1)[-1].startswith("shard-")]
        if len(shard_files) > 1:
            tables = [_with_fields(_read(store, f)).cast(RECORD_SCHEMA) for f in shard_files]
            merged = pa.concat_tables(tables).sort_by([("shard", "ascending"), ("row_index", "ascending")])
            rel = _relative(store, p.path) + f"/{PART_PREFIX}{secrets.token_hex(6)}.parquet"
            store.write_atomic(rel, functools.partial(_write_part, merged))
            report.merged_files += len(shard_files)
            report.part_files += 1
            to_delete_shards += shard_files
        to_delete_shards += p.superseded
    for path in to_delete_shards:  # the part file holds them now
        _delete(store, path)
    # subsets per model entry and the unit references, into the manifest
    partitions = list_partitions(store, {run_id})
    reused = {(r["benchmark"], r["model"], int(r["shard"])): r for r in manifest.get("reused_shards") or []}
    ref_files: list[Path | str] = []
    counts: dict[tuple[str, str], Counter] = {}
    manifests: dict[str, dict[str, Any] | None] = {}
    for (benchmark, model, _), p in partitions.items():
        c = _subset_counts(store, p.files)
        by_target: dict[str, set[int]] = {}
        for path in p.ref_files:
            ref = read_ref(store, path)
            if ref is None:
                continue
            reused[(ref.benchmark, ref.model, ref.shard)] = {
                k: v for k, v in ref.as_dict().items() if k != "run_id"
            }
            by_target.setdefault(ref.from_run, set()).add(ref.shard)
            ref_files.append(path)
        for key in reused:
            if key[:2] == (benchmark, model):
                by_target.setdefault(reused[key]["from_run"], set()).add(key[2])
        for target, shards in by_target.items():
            whole = _whole_partition_counts(store, benchmark, model, target, shards, manifests)
            if whole is not None:
                c += whole
                continue
            files, _ = partition_files(store, benchmark, model, target)
            c += _subset_counts(store, files, shards)
        counts[(benchmark, model)] = c
    for entry in manifest.get("models", []):
        found = counts.get((entry.get("benchmark"), entry.get("model")))
        if found is not None:
            entry["subsets"] = dict(sorted(found.items()))
    manifest["reused_shards"] = [
        {"benchmark": b, "model": m, "shard": s, "from_run": r["from_run"], "rows": r["rows"]}
        for (b, m, s), r in sorted(reused.items())
    ]
    manifest["compacted"] = True
    if all(_schema_names(store, f) == RECORD_SCHEMA.names for p in partitions.values() for f in p.files):
        manifest["record_schema_version"] = SCHEMA_VERSION  # readers may use DuckDB's reader without unions
    _add_totals(store, manifest, partitions)
    write_manifest(store, manifest)
    for path in ref_files:  # the manifest holds them now
        _delete(store, path)
    report.refs_folded = len(ref_files)
    return report


def _add_totals(store: Store, manifest: dict[str, Any], partitions: dict[tuple[str, str, str], Any]) -> None:
    """Per model entry, the run's subset totals (``subset_scores``, ``judge_records``) and the record files they
    were computed from (``part_files``: name -> bytes), with the run's ``totals_key``: computed by the views'
    own SQL over this run's records alone (and the records its references reuse), exactly the rows
    ``subset_accuracy`` gets from them (docs/store.md, "Subset totals")."""
    from orchestrator.query.db import connect_catalog, scoring_key, subset_totals
    from orchestrator.results.catalog import Catalog, UnitRef

    run_id = manifest["run_id"]
    refs = [
        UnitRef(run_id, r["benchmark"], r["model"], int(r["shard"]), r["from_run"], int(r["rows"]))
        for r in manifest.get("reused_shards") or []
    ]
    listing = list_partitions(store, {run_id} | {r.from_run for r in refs})
    key = scoring_key()
    totals = _copied_totals(store, manifest, listing, refs, key)
    rest = [
        e
        for e in manifest.get("models", [])
        if e.get("status") == "ok" and (e.get("benchmark"), e.get("model")) not in totals
    ]
    for batch in _batches(rest):  # computed from the records, a bounded number of records at a time
        pairs = {(e.get("benchmark"), e.get("model")) for e in batch}
        own = [r for r in refs if (r.benchmark, r.model) in pairs]
        wanted = {(b, m, run_id) for b, m in pairs} | {(r.benchmark, r.model, r.from_run) for r in own}
        doc = {**manifest, "models": batch}
        catalog = Catalog(store, {k: p for k, p in listing.items() if k in wanted}, own, [doc])
        con = connect_catalog(catalog, totals=False)
        try:
            totals.update(subset_totals(con))
        finally:
            con.close()
    for entry in manifest.get("models", []):
        pair = (entry.get("benchmark"), entry.get("model"))
        for name in ("subset_scores", "judge_records", "part_files", "totals_from"):
            entry.pop(name, None)
        if entry.get("status") != "ok" or pair not in totals:
            continue
        entry.update(totals[pair])
        p = listing.get((pair[0], pair[1], run_id))
        if p is not None:
            names = [str(f).rsplit("/", 1)[-1] for f in p.files]
            entry["part_files"] = {n: p.sizes[n] for n in names if n in p.sizes}
    manifest["totals_key"] = key


TOTALS_BATCH_RECORDS = 500_000
"""Compaction computes subset totals over at most about this many records per connection (whole model entries;
an entry's totals depend on its own records only), so its memory does not grow with the run."""


def _batches(entries: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """``entries`` in consecutive groups of about :data:`TOTALS_BATCH_RECORDS` records (by ``n_records``)."""
    out: list[list[dict[str, Any]]] = []
    size = 0
    for entry in entries:
        n = entry.get("n_records")
        n = n if isinstance(n, int) and n > 0 else 1
        if not out or size + n > TOTALS_BATCH_RECORDS:
            out.append([])
            size = 0
        out[-1].append(entry)
        size += n
    return out


def _copied_totals(
    store: Store,
    manifest: dict[str, Any],
    listing: dict[tuple[str, str, str], Any],
    refs: list[Any],
    key: str,
) -> dict[tuple[str, str], dict[str, Any]]:
    """Totals of the entries whose every record is a reference to one earlier run with valid totals (a nightly
    rerun served by the score cache): that run's totals, since the referenced rows differ from its rows only in
    ``run_id`` and ``cached_from``, which no score reads. They are recorded as ``totals_from`` (that run), not
    copied, so a night with nothing new adds no per-subset numbers; readers take them from that run's manifest
    (:func:`orchestrator.query.db._covered`), and read the records where it is gone. Everything else is computed
    from the records."""
    run_id = manifest["run_id"]
    by_pair: dict[tuple[str, str], list[Any]] = {}
    for r in refs:
        by_pair.setdefault((r.benchmark, r.model), []).append(r)
    targets = {r.from_run for r in refs}
    earlier = {t: m for t in sorted(targets) if (m := _manifest(store, t)) is not None}
    for reused_run, reused in list(earlier.items()):
        if reused.get("status") == "ok" and reused.get("totals_key") != key:
            # totals from older scoring SQL or data: redo them once in the reused run (its records are read),
            # so that this night and the ones after it take them from there instead of reading records each night
            if compact_run(store, reused_run).status == "compacted":
                earlier[reused_run] = _manifest(store, reused_run) or reused
    out: dict[tuple[str, str], dict[str, Any]] = {}
    for entry in manifest.get("models", []):
        pair = (entry.get("benchmark"), entry.get("model"))
        own = listing.get((pair[0], pair[1], run_id))
        units = by_pair.get(pair)
        if entry.get("status") != "ok" or not units or (own is not None and own.files):
            continue
        sources = {r.from_run for r in units}
        target = earlier.get(next(iter(sources))) if len(sources) == 1 else None
        if target is None or target.get("totals_key") != key:
            continue
        found = next(
            (e for e in target.get("models", []) if (e.get("benchmark"), e.get("model")) == pair), None
        )
        if (
            found is None
            or found.get("status") != "ok"
            or not isinstance(found.get("subset_scores"), dict)
            or not isinstance(found.get("subsets"), dict)
            or sum(found["subsets"].values()) != sum(r.rows for r in units)
            or found["subsets"] != entry.get("subsets")
        ):
            continue
        out[pair] = {"totals_from": target["run_id"]}  # its totals are read from there, not copied
    return out


def compact_store(results: str | Path | Store, run_ids: list[str] | None = None) -> list[CompactReport]:
    """Compact the given runs (default: every finished run not compacted yet)."""
    store = open_store(results)
    if run_ids is None:
        from orchestrator.query.db import scoring_key

        key = scoring_key()  # runs compacted before, under other scoring SQL or data: their totals are redone
        run_ids = sorted(
            m["run_id"]
            for m in read_manifests(store)
            if m.get("status") == "ok" and (not m.get("compacted") or m.get("totals_key") != key)
        )
    return [compact_run(store, r) for r in run_ids]


def gc_store(results: str | Path | Store, keep_last: int, *, dry_run: bool = False) -> GcReport:
    """Remove old runs' records (see the module docstring); ``dry_run`` only reports what would go."""
    from orchestrator.results.catalog import read_catalog

    if keep_last < 1:
        raise ValueError("--keep-last must be at least 1")
    store = open_store(results)
    latest = _latest_runs(store)
    catalog = read_catalog(store)
    report = GcReport()
    by_model: dict[tuple[str, str], list[str]] = {}
    for benchmark, model, run_id in catalog.partitions:
        by_model.setdefault((benchmark, model), []).append(run_id)
    for m in catalog.manifests:  # runs with a manifest entry but no records count too
        for e in m.get("models", []):
            key = (e.get("benchmark"), e.get("model"))
            if None not in key and m["run_id"] not in by_model.setdefault(key, []):
                by_model[key].append(m["run_id"])
    old: set[tuple[str, str, str]] = set()
    for (benchmark, model), runs in by_model.items():
        for run_id in sorted(runs, reverse=True)[keep_last:]:
            old.add((benchmark, model, run_id))
    for k in sorted(old):
        if k in latest:
            report.kept_latest += 1
    old -= latest
    # a reference of any run not removed keeps its target (references never chain)
    targets = {
        (r.benchmark, r.model, r.from_run)
        for r in catalog.refs
        if (r.benchmark, r.model, r.run_id) not in old
    }
    report.kept_referenced = len(old & targets)
    old -= targets
    by_run: dict[str, list[tuple[str, str]]] = {}
    for benchmark, model, run_id in old:
        by_run.setdefault(run_id, []).append((benchmark, model))
    manifests = {m["run_id"]: m for m in catalog.manifests}
    for run_id, pairs in sorted(by_run.items()):
        try:
            with store.lock(run_lock_name(run_id)):
                if dry_run:
                    report.removed_partitions += sum(
                        1 for b, m in pairs if (b, m, run_id) in catalog.partitions
                    )
                    continue
                manifest = manifests.get(run_id)
                if manifest is not None:
                    gone = set(pairs)
                    manifest["models"] = [
                        e
                        for e in manifest.get("models", [])
                        if (e.get("benchmark"), e.get("model")) not in gone
                    ]
                    manifest["reused_shards"] = [
                        r
                        for r in manifest.get("reused_shards") or []
                        if (r.get("benchmark"), r.get("model")) not in gone
                    ]
                    if manifest["models"]:
                        manifest.setdefault("gc_removed", []).extend(f"{b}/{m}" for b, m in sorted(gone))
                        write_manifest(store, manifest)
                    else:
                        _delete(store, store.path(f"runs/{encode_part(run_id)}.json"))
                        report.removed_runs.append(run_id)
                for benchmark, model in pairs:
                    p = catalog.partitions.get((benchmark, model, run_id))
                    if p is None:
                        continue
                    for path in [*p.files, *p.superseded, *p.ref_files]:
                        report.removed_bytes += _delete(store, path)
                    _rmdir(store, p.path)
                    report.removed_partitions += 1
        except LockHeld:
            report.skipped_locked.append(run_id)
    return report


def _latest_runs(store: Store) -> set[tuple[str, str, str]]:
    """(benchmark, model, run) of every run that is the latest for some subset (as the leaderboard reads it)."""
    from orchestrator.query.db import connect

    con = connect(store)
    try:
        rows = con.execute("SELECT DISTINCT benchmark, model, run_id FROM latest_subset_runs").fetchall()
    finally:
        con.close()
    return {tuple(r) for r in rows}


__all__ = ["compact_run", "compact_store", "gc_store", "CompactReport", "GcReport"]
