"""What a results store holds, read from its directory listing and its run manifests, not from its records.

A reader lists ``records/benchmark=*/model=*/run=*/`` once and, in each partition, takes

* ``part-*.parquet`` when the partition was compacted (it then holds every shard of the run; shard files still
  there were superseded by it and are ignored), else every ``shard-*.parquet``;
* ``shard-*.ref.json``: a cache-served unit that reuses the records of an earlier run instead of copying them
  (:mod:`orchestrator.results.reuse`); compaction folds these into the run manifest's ``reused_shards``.

The listing is taken before the manifests are read: compaction writes the manifest (with ``reused_shards``)
before it deletes the ref files, and the merged part file before it deletes the shard files, so a reader always
finds every unit once, in one form or the other (duplicates of a unit seen in both forms are dropped).
"""

from __future__ import annotations

import json
import logging
import os
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from orchestrator.results.records import RECORDS_DIR, read_manifests
from orchestrator.results.store import Store, open_store

logger = logging.getLogger(__name__)

PART_PREFIX = "part-"
SHARD_PREFIX = "shard-"
REF_SUFFIX = ".ref.json"


@dataclass
class Partition:
    """One (benchmark, model, run) directory of ``records/``."""

    benchmark: str
    model: str
    run_id: str
    path: Path | str
    """The partition directory."""
    files: list[Path | str] = field(default_factory=list)
    """The record files a reader takes (the compacted part files, or else the shard files)."""
    superseded: list[Path | str] = field(default_factory=list)
    """Shard files a part file already holds (left by an interrupted compaction; never read)."""
    ref_files: list[Path | str] = field(default_factory=list)
    """Unit references not yet folded into the manifest."""
    sizes: dict[str, int] = field(default_factory=dict)
    """Bytes of each file of the partition by name, from the listing (where it gave sizes)."""


@dataclass(frozen=True)
class UnitRef:
    """Records of run ``run_id`` for (benchmark, model, shard) are those of run ``from_run`` for the same unit."""

    run_id: str
    benchmark: str
    model: str
    shard: int
    from_run: str
    rows: int

    def as_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "benchmark": self.benchmark,
            "model": self.model,
            "shard": self.shard,
            "from_run": self.from_run,
            "rows": self.rows,
        }


@dataclass
class Catalog:
    """The store's partitions, unit references and manifests, as one reader sees them."""

    store: Store
    partitions: dict[tuple[str, str, str], Partition]
    refs: list[UnitRef]
    manifests: list[dict[str, Any]]

    def files(self, keys: Any = None) -> list[Path | str]:
        """Record files of every partition (or of the partitions ``keys``: (benchmark, model, run) triples)."""
        if keys is None:
            return [f for p in self.partitions.values() for f in p.files]
        return [f for k in keys if k in self.partitions for f in self.partitions[k].files]


def _value(part: str, prefix: str) -> str | None:
    if not part.startswith(prefix):
        return None
    return urllib.parse.unquote(part[len(prefix) :])


def _entries(store: Store, rel: str) -> list[tuple[str, bool]]:
    """(name, is_dir) of the entries under ``rel``; hidden names (temp files, locks) are skipped."""
    return [(name, is_dir) for name, is_dir, _ in _sized_entries(store, rel, sizes=False)]


def _sized_entries(store: Store, rel: str, *, sizes: bool = True) -> list[tuple[str, bool, int | None]]:
    """(name, is_dir, bytes of a file or None) of the entries under ``rel``, hidden names skipped."""
    if store.local is not None:
        try:
            with os.scandir(store.local / rel) as it:
                out = []
                for e in it:
                    if e.name.startswith("."):
                        continue
                    is_dir = e.is_dir()
                    size = None
                    if sizes and not is_dir:
                        try:
                            size = e.stat().st_size
                        except FileNotFoundError:
                            continue  # deleted since the listing (compaction, gc)
                    out.append((e.name, is_dir, size))
                return out
        except (FileNotFoundError, NotADirectoryError):
            return []
    from pyarrow.fs import FileSelector, FileType

    try:
        infos = store.fs.get_file_info(FileSelector(str(store.path(rel)), allow_not_found=True))
    except FileNotFoundError:
        return []
    return [
        (i.base_name, i.type == FileType.Directory, i.size if i.type == FileType.File else None)
        for i in infos
        if not i.base_name.startswith(".")
    ]


def read_ref(store: Store, path: Path | str) -> UnitRef | None:
    try:
        if store.local is not None:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
        else:
            with store.fs.open_input_stream(str(path)) as fh:
                data = json.loads(fh.read().decode("utf-8"))
        return UnitRef(
            str(data["run_id"]),
            str(data["benchmark"]),
            str(data["model"]),
            int(data["shard"]),
            str(data["from_run"]),
            int(data["rows"]),
        )
    except (OSError, ValueError, KeyError, TypeError) as exc:
        logger.warning("ignoring unreadable unit reference %s (%s)", path, exc)
        return None


def _join(base: Path | str, name: str) -> Path | str:
    return base / name if isinstance(base, Path) else f"{base}/{name}"


def list_partitions(store: Store, runs: set[str] | None = None) -> dict[tuple[str, str, str], Partition]:
    """Every (benchmark, model, run) partition (only those of ``runs`` when given) and its files."""
    out: dict[tuple[str, str, str], Partition] = {}
    for bdir, is_dir in _entries(store, RECORDS_DIR):
        benchmark = _value(bdir, "benchmark=")
        if not is_dir or benchmark is None:
            continue
        for mdir, is_dir in _entries(store, f"{RECORDS_DIR}/{bdir}"):
            model = _value(mdir, "model=")
            if not is_dir or model is None:
                continue
            for rdir, is_dir in _entries(store, f"{RECORDS_DIR}/{bdir}/{mdir}"):
                run_id = _value(rdir, "run=")
                if not is_dir or run_id is None or (runs is not None and run_id not in runs):
                    continue
                rel = f"{RECORDS_DIR}/{bdir}/{mdir}/{rdir}"
                base = store.path(rel)
                listed = {n: size for n, d, size in _sized_entries(store, rel) if not d}
                names = sorted(listed)
                parts = [n for n in names if n.startswith(PART_PREFIX) and n.endswith(".parquet")]
                shards = [n for n in names if n.startswith(SHARD_PREFIX) and n.endswith(".parquet")]
                refs = [n for n in names if n.startswith(SHARD_PREFIX) and n.endswith(REF_SUFFIX)]
                p = Partition(benchmark, model, run_id, base)
                p.sizes = {n: s for n, s in listed.items() if s is not None}
                p.files = [_join(base, n) for n in (parts or shards)]
                p.superseded = [_join(base, n) for n in shards] if parts else []
                p.ref_files = [_join(base, n) for n in refs]
                out[(benchmark, model, run_id)] = p
    return out


def _partition_rel(benchmark: str, model: str, run_id: str | None = None) -> str:
    from orchestrator.results.records import encode_part

    rel = f"{RECORDS_DIR}/benchmark={encode_part(benchmark)}/model={encode_part(model)}"
    return rel if run_id is None else f"{rel}/run={encode_part(run_id)}"


def list_run_dirs(store: Store, benchmark: str, model: str) -> list[str]:
    """The runs with a partition for (benchmark, model), newest first."""
    runs = [_value(n, "run=") for n, d in _entries(store, _partition_rel(benchmark, model)) if d]
    return sorted((r for r in runs if r is not None), reverse=True)


def partition_files(
    store: Store, benchmark: str, model: str, run_id: str
) -> tuple[list[Path | str], dict[int, Path | str]]:
    """The record files a reader takes in one partition, and its unit references by shard."""
    rel = _partition_rel(benchmark, model, run_id)
    names = sorted(n for n, d in _entries(store, rel) if not d)
    parts = [n for n in names if n.startswith(PART_PREFIX) and n.endswith(".parquet")]
    shards = [n for n in names if n.startswith(SHARD_PREFIX) and n.endswith(".parquet")]
    refs = {}
    for n in names:
        if n.startswith(SHARD_PREFIX) and n.endswith(REF_SUFFIX):
            try:
                refs[int(n[len(SHARD_PREFIX) : -len(REF_SUFFIX)])] = store.path(f"{rel}/{n}")
            except ValueError:
                continue
    return [store.path(f"{rel}/{n}") for n in (parts or shards)], refs


def read_catalog(results: str | Path | Store) -> Catalog:
    """List the store (partitions, then unit references), then read its manifests."""
    store = open_store(results)
    partitions = list_partitions(store)
    refs = {}
    for p in partitions.values():
        for path in p.ref_files:
            ref = read_ref(store, path)
            if ref is not None:
                refs[(ref.run_id, ref.benchmark, ref.model, ref.shard)] = ref
    manifests = read_manifests(store)
    for m in manifests:
        for r in m.get("reused_shards") or []:
            try:
                ref = UnitRef(
                    str(m["run_id"]),
                    str(r["benchmark"]),
                    str(r["model"]),
                    int(r["shard"]),
                    str(r["from_run"]),
                    int(r["rows"]),
                )
            except (KeyError, TypeError, ValueError):
                logger.warning("run %s: ignoring a malformed reused_shards entry %r", m.get("run_id"), r)
                continue
            refs.setdefault((ref.run_id, ref.benchmark, ref.model, ref.shard), ref)
    return Catalog(store, partitions, list(refs.values()), manifests)


__all__ = [
    "Catalog",
    "Partition",
    "UnitRef",
    "read_catalog",
    "list_partitions",
    "list_run_dirs",
    "partition_files",
    "read_ref",
]
