"""Damaged and orphaned files in a results store: found, named, skipped by readers, quarantined on request.

Readers (:func:`orchestrator.query.db.connect`, :func:`orchestrator.results.records.read_manifests`) skip a
damaged file with a warning naming it and the run it belongs to; ``rayward store check`` lists every
damaged or orphaned file and, with ``--quarantine``, moves them under ``<store>/quarantine/<stamp>/`` (same
relative paths). Nothing is ever deleted.

* **damaged record file**: a ``shard-*.parquet`` whose footer cannot be read (truncated, not Parquet), whose
  columns do not fit the record schema, or (full check) whose data cannot be decoded;
* **damaged manifest**: ``runs/<id>.json`` that is not UTF-8 JSON, not an object, has no ``run_id`` matching
  its file name, or has fields of the wrong type (``models`` not a list of objects, a model's ``model`` or
  ``benchmark`` not text, ``n_records`` not a whole number, ...);
* **orphaned record file**: a shard of a run without a (valid) manifest, or of a (model, benchmark) or shard
  number the run's finished manifest does not list (left by a killed writer or copied in by hand); shards of
  a run still marked ``running`` are never orphans;
* **stale temp file**: a ``.*.tmp`` left by a killed writer, reported when no driver holds its run's lock.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from orchestrator.results.store import Store, open_store

logger = logging.getLogger(__name__)

_PART = re.compile(r"^records/benchmark=([^/]+)/model=([^/]+)/run=([^/]+)/shard-(\d+)\.parquet$")
QUARANTINE_DIR = "quarantine"


@dataclass(frozen=True)
class Problem:
    """One damaged or orphaned file."""

    path: str
    """The file, relative to the store's root."""

    kind: str
    """``damaged-records``, ``damaged-manifest``, ``orphaned-records`` or ``stale-temp``."""

    run_id: str | None
    """The run it belongs to, when known."""

    detail: str
    """What is wrong with it."""

    affects: str = ""
    """What readers lose by skipping it, in words."""


@dataclass
class StoreReport:
    """Everything :func:`check_store` found."""

    store: str
    record_files: int = 0
    manifests: int = 0
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def _rel(store: Store, path: Path | str) -> str:
    if store.local is not None:
        return Path(path).relative_to(store.local).as_posix()
    return str(path)[len(store.base) :].lstrip("/")


def _decode(part: str) -> str:
    import urllib.parse

    return urllib.parse.unquote(part)


def parse_record_path(rel: str) -> tuple[str, str, str, int] | None:
    """``records/benchmark=b/model=m/run=r/shard-00003.parquet`` -> (b, m, r, 3); None for other paths."""
    match = _PART.match(rel)
    if not match:
        return None
    b, m, r, s = match.groups()
    return _decode(b), _decode(m), _decode(r), int(s)


# ---------------------------------------------------------------- record files


def record_file_problem(store: Store, path: Path | str, *, full: bool = False) -> str | None:
    """Why a committed record file cannot be read (None when it can): footer, schema, and with ``full`` the
    data itself."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from orchestrator.results.records import RECORD_SCHEMA

    try:
        if store.local is not None:
            handle: Any = str(path)
            fh = None
        else:
            fh = store.fs.open_input_file(str(path))
            handle = fh
        try:
            pf = pq.ParquetFile(handle)
            schema = pf.schema_arrow
            for name in ("run_id", "benchmark", "model", "subset", "example_id", "row_index"):
                if name not in schema.names:
                    return f"not a record file: column {name!r} missing"
            for f in schema:
                if f.name in RECORD_SCHEMA.names:
                    want = RECORD_SCHEMA.field(f.name).type
                    if f.type != want and not _castable(f.type, want):
                        return f"column {f.name!r} has type {f.type}, the record schema says {want}"
            if full:
                for i in range(pf.num_row_groups):
                    pf.read_row_group(i)
        finally:
            if fh is not None:
                fh.close()
    except (pa.ArrowException, OSError, ValueError) as exc:
        text = str(exc).strip().splitlines()
        return text[0] if text else type(exc).__name__
    return None


def _castable(have: Any, want: Any) -> bool:
    import pyarrow as pa

    if pa.types.is_integer(have) and pa.types.is_integer(want):
        return True
    if pa.types.is_floating(have) and pa.types.is_floating(want):
        return True
    if pa.types.is_null(have):
        return True
    if (pa.types.is_string(have) or pa.types.is_large_string(have)) and pa.types.is_string(want):
        return True
    if pa.types.is_list(have) and pa.types.is_list(want):
        return have.value_type == want.value_type or _castable(have.value_type, want.value_type)
    if pa.types.is_struct(have) and pa.types.is_struct(want):
        # an older record schema's struct: every field it has is one of the current struct's, of a castable type;
        # the fields added since read as null (as a missing top-level field does)
        wanted = {want.field(i).name: want.field(i).type for i in range(want.num_fields)}
        return all(
            f.name in wanted and (f.type == wanted[f.name] or _castable(f.type, wanted[f.name]))
            for f in (have.field(i) for i in range(have.num_fields))
        )
    return False


def _affects_records(rel: str) -> tuple[str | None, str]:
    parsed = parse_record_path(rel)
    if parsed is None:
        return None, ""
    bench, model, run, shard = parsed
    return run, (
        f"run {run}: model {model!r} on {bench!r} loses shard {shard}'s records (its subsets then show as "
        "incomplete, or fall back to an older run)"
    )


def readable_record_files(store: Store | str | Path) -> list[Path | str]:
    """The committed record files whose footer and schema read; each damaged one is skipped with a warning
    naming it and its run."""
    from orchestrator.results.records import record_files

    store = open_store(store)
    good = []
    for path in record_files(store):
        problem = record_file_problem(store, path)
        if problem is None:
            good.append(path)
            continue
        warn_damaged(store, path, problem)
    return good


def warn_damaged(store: Store, path: Path | str, problem: str) -> None:
    """The warning for a damaged record file that a reader skips: the file, why, and what its run loses."""
    rel = _rel(store, path)
    _run, affects = _affects_records(rel)
    logger.warning(
        "skipping damaged record file %s/%s: %s; %s. `rayward store check --quarantine` moves it aside",
        store.uri.rstrip("/"),
        rel,
        problem,
        affects,
    )


# ---------------------------------------------------------------- manifests


def manifest_problem(data: Any, file_stem: str | None = None) -> str | None:
    """Why a parsed manifest cannot be used (None when it can): shape and the types readers rely on."""
    if not isinstance(data, dict):
        return f"not a JSON object (a {type(data).__name__})"
    run_id = data.get("run_id")
    if not isinstance(run_id, str) or not run_id:
        return "no `run_id` text"
    if file_stem is not None:
        from orchestrator.results.records import encode_part

        if encode_part(run_id) != file_stem:
            return f"`run_id` {run_id!r} does not match the file name"
    for key in ("job", "status", "started_at", "finished_at"):
        if key in data and data[key] is not None and not isinstance(data[key], str):
            return f"`{key}` is a {type(data[key]).__name__}, not text"
    models = data.get("models", [])
    if not isinstance(models, list):
        return f"`models` is a {type(models).__name__}, not a list"
    for i, entry in enumerate(models):
        if not isinstance(entry, dict):
            return f"models[{i}] is a {type(entry).__name__}, not an object"
        for key in ("model", "benchmark"):
            if not isinstance(entry.get(key), str):
                return f"models[{i}].{key} is {entry.get(key)!r}, not text"
        for key in ("kind", "status", "error", "fingerprint"):
            value = entry.get(key)
            if value is not None and not isinstance(value, str):
                return f"models[{i}].{key} is a {type(value).__name__}, not text"
        for key in ("n_records", "num_parameters"):
            value = entry.get(key)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
                return f"models[{i}].{key} is {value!r}, not a whole number"
        for key in ("load_seconds", "score_seconds"):
            value = entry.get(key)
            if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))):
                return f"models[{i}].{key} is {value!r}, not a number"
        shards = entry.get("shards")
        if shards is not None and (
            not isinstance(shards, list)
            or not all(isinstance(s, int) and not isinstance(s, bool) for s in shards)
        ):
            return f"models[{i}].shards is not a list of shard numbers"
    return None


def _run_partitions(store: Store, run_id: str) -> list[str]:
    """``model on benchmark`` for each record partition of ``run_id``."""
    from orchestrator.results.records import record_files

    out = []
    for path in record_files(store):
        parsed = parse_record_path(_rel(store, path))
        if parsed and parsed[2] == run_id:
            label = f"{parsed[1]!r} on {parsed[0]!r}"
            if label not in out:
                out.append(label)
    return out


def load_manifest(
    store: Store, path: Path | str, *, warn: bool = True
) -> tuple[dict[str, Any] | None, str | None]:
    """(manifest, None) or (None, why it is damaged); a damaged one is logged with the runs it affects."""
    rel = _rel(store, path)
    stem = rel.rsplit("/", 1)[-1].removesuffix(".json")
    problem: str | None
    try:
        data = json.loads(store.read_bytes(rel).decode("utf-8"))
    except UnicodeDecodeError as exc:
        problem = f"not UTF-8 (byte {exc.start})"
    except json.JSONDecodeError as exc:
        problem = f"invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}"
    except OSError as exc:
        problem = f"unreadable: {exc}"
    else:
        problem = manifest_problem(data, stem)
        if problem is None:
            return data, None
    if warn:
        parts = _run_partitions(store, _decode(stem))
        lost = (
            f"run {_decode(stem)} is left out of every view, so its records for "
            + ", ".join(parts)
            + " are not counted (those rows fall back to an older run, if any)"
            if parts
            else "no records belong to it"
        )
        logger.warning(
            "skipping damaged run manifest %s/%s: %s; %s. `rayward store check` lists it",
            store.uri.rstrip("/"),
            rel,
            problem,
            lost,
        )
    return None, problem


# ---------------------------------------------------------------- store check


def check_store(results: Store | str | Path, *, full: bool = True) -> StoreReport:
    """Every damaged or orphaned file of the store (``full``: decode every record file's data too)."""
    from orchestrator.results.records import RECORDS_DIR, RUNS_DIR, record_files, run_lock_name

    store = open_store(results)
    _require_store(store)
    report = StoreReport(store.uri)
    manifests: dict[str, dict[str, Any]] = {}
    for path in store.glob(RUNS_DIR, "*.json"):
        report.manifests += 1
        data, problem = load_manifest(store, path, warn=False)
        rel = _rel(store, path)
        if data is None:
            stem = _decode(rel.rsplit("/", 1)[-1].removesuffix(".json"))
            parts = _run_partitions(store, stem)
            report.problems.append(
                Problem(
                    rel,
                    "damaged-manifest",
                    stem,
                    problem or "",
                    ("its run's records are not counted: " + ", ".join(parts)) if parts else "",
                )
            )
        else:
            manifests[data["run_id"]] = data
    for path in record_files(store):
        report.record_files += 1
        rel = _rel(store, path)
        problem = record_file_problem(store, path, full=full)
        run, affects = _affects_records(rel)
        if problem is not None:
            report.problems.append(Problem(rel, "damaged-records", run, problem, affects))
            continue
        parsed = parse_record_path(rel)
        if parsed is None:
            continue
        bench, model, run_id, shard = parsed
        manifest = manifests.get(run_id)
        if manifest is None:
            report.problems.append(
                Problem(rel, "orphaned-records", run_id, f"run {run_id} has no valid manifest", "never read")
            )
            continue
        if manifest.get("status") in (None, "running"):
            continue
        entry = next(
            (
                e
                for e in manifest.get("models", [])
                if e.get("model") == model and e.get("benchmark") == bench
            ),
            None,
        )
        if entry is None:
            report.problems.append(
                Problem(
                    rel, "orphaned-records", run_id, f"run {run_id} has no model {model!r} on {bench!r}", ""
                )
            )
        elif entry.get("shards") is not None and shard not in entry["shards"]:
            report.problems.append(
                Problem(
                    rel,
                    "orphaned-records",
                    run_id,
                    f"shard {shard} is not among the run's committed shards of {model!r} on {bench!r}",
                    "its rows are read as records of the run (extra or duplicate records)",
                )
            )
    for rel, temp_run in _temp_files(store, RECORDS_DIR, RUNS_DIR):
        if temp_run is not None and _lock_held(store, run_lock_name(temp_run)):
            continue  # a live driver is writing it
        report.problems.append(Problem(rel, "stale-temp", temp_run, "temp file left by a killed writer", ""))
    return report


def _lock_held(store: Store, rel: str) -> bool:
    """Whether a driver holds the lock file ``rel`` (probed read-only: checking writes nothing)."""
    import fcntl
    import os

    if store.local is None or not (store.local / rel).is_file():
        return False
    fd = os.open(store.local / rel, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return True
    finally:
        os.close(fd)  # releases a lock we just took
    return False


def _temp_files(store: Store, records_dir: str, runs_dir: str) -> list[tuple[str, str | None]]:
    if store.local is None:
        return []
    out: list[tuple[str, str | None]] = []
    for top in (records_dir, runs_dir):
        base = store.local / top
        if not base.is_dir():
            continue
        for p in sorted(base.rglob(".*.tmp")):
            rel = p.relative_to(store.local).as_posix()
            run = re.search(r"/run=([^/]+)/", rel)
            if run:
                out.append((rel, _decode(run.group(1))))
            else:
                stem = re.match(r"^\.(.+)\.json\.", p.name)
                out.append((rel, _decode(stem.group(1)) if stem else None))
    return out


def quarantine(results: Store | str | Path, problems: list[Problem]) -> list[tuple[str, str]]:
    """Move each problem file to ``quarantine/<UTC stamp>/<its relative path>``; returns (from, to) pairs.

    Nothing is deleted: moving a file back restores it."""
    store = open_store(results)
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    moved = []
    for problem in problems:
        target = f"{QUARANTINE_DIR}/{stamp}/{problem.path}"
        if store.local is not None:
            dst = store.local / target
            dst.parent.mkdir(parents=True, exist_ok=True)
            (store.local / problem.path).rename(dst)
        else:
            dst_path = store.path(target)
            store.fs.create_dir(str(dst_path).rsplit("/", 1)[0], recursive=True)
            store.fs.move(str(store.path(problem.path)), str(dst_path))
        moved.append((problem.path, target))
        logger.info("quarantined %s -> %s", problem.path, target)
    return moved


# ---------------------------------------------------------------- the store's root


def _require_store(store: Store) -> None:
    from orchestrator.errors import ConfigError

    if store.local is not None:
        if not store.local.exists():
            raise ConfigError(f"results store {store.uri}: no such directory")
        if not store.local.is_dir():
            raise ConfigError(f"results store {store.uri}: is a file, not a directory")


def require_readable_store(results: Store | str | Path) -> Store:
    """The store, or a :class:`~orchestrator.errors.ConfigError` when a local path does not exist or is a file
    (readers: ``leaderboard``, ``sql``, ``compare`` ... exit non-zero instead of printing "no results")."""
    store = open_store(results)
    _require_store(store)
    return store


def require_writable_store(results: Store | str | Path) -> Store:
    """The store, ready for a run: a local path must be (or be creatable as) a writable directory with some
    free space; errors name the path and what is wrong."""
    import os
    import shutil
    import tempfile

    from orchestrator.errors import ConfigError

    store = open_store(results)
    if store.local is None:
        return store
    path = store.local
    existing = path
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if existing.exists() and not existing.is_dir():
        what = "is a file" if existing == path else f"cannot be created: {existing} is a file"
        raise ConfigError(f"results store {store.uri}: {what}, not a directory")
    try:  # a real write: permission bits say nothing for root or a read-only mount
        fd, probe = tempfile.mkstemp(prefix=".rayward-probe.", suffix=".tmp", dir=existing)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise ConfigError(
            f"results store {store.uri}: {existing} is not writable ({exc.strerror or exc})"
        ) from None
    free = shutil.disk_usage(existing).free
    if free < MIN_FREE_BYTES:
        raise ConfigError(
            f"results store {store.uri}: only {free} bytes free on its filesystem (at least {MIN_FREE_BYTES} needed)"
        )
    return store


MIN_FREE_BYTES = 1 << 20
"""A run refuses to start on a local store with less free space than this (1 MiB)."""
