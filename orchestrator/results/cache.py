"""Content-addressed score cache: never score the same (model, settings, input) twice.

A score is a pure function of

* the model's identity (:func:`model_identity`: a content fingerprint of a local model directory,
  or a hub id at a commit sha),
* the scorer settings that can change a score: every :class:`~orchestrator.config.ModelSpec` field
  except the pure-speed knobs listed in :data:`SPEED_ONLY_FIELDS` (so a field added later is part
  of the key unless it is listed there), with path-like values (a separate tokenizer, a chat
  template file, a reference model) replaced by a fingerprint of what they point to,
* the device class and resolved dtype (bf16 on a GPU is not fp32 on a CPU), the record schema
  version, and the versions of the packages that compute scores (a library upgrade rescores),
* the example's exact input: prompt, chosen and rejected (texts or lists of texts).

Formatting is not a separate key part: it is a deterministic function of the tokenizer and its chat
template (both covered by the model fingerprint, or by the ``tokenizer``/``chat_template`` settings),
``max_length`` and ``truncation_side`` (settings) and the input.

Layout under the results store::

    cache/<settings-key>/settings.json          # what the key was made of (human-readable)
    cache/<settings-key>/model.json             # the loaded model's info (parameters, revision...)
    cache/<settings-key>/<run>-<bench>-<shard>-<random>.parquet

A cache file holds ``example_key`` (sha256 of the input), ``origin_run`` (the run that scored it) and
every scorer-produced record column (all record fields except the run/data context in
:data:`CONTEXT_COLUMNS`), so DPO and judge columns are reused too. Files are append-only, written
atomically (temp file + rename) with unique names, so two concurrent runs never clash and a reader
only ever sees whole files; a file that cannot be read is skipped with a warning. Rows with a
row-level ``error`` are never cached.

The driver uses it as: :meth:`ScoreCache.cached_units` before a model's actors are created (units
whose every row is cached are written straight from the cache, with ``cached_from`` = the scoring
run), :meth:`ScoreCache.add` after each scored unit is written. A unit with any row missing is
scored whole (at most ``shard_size`` rows) and its new rows are added.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import os
import re
import secrets
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from orchestrator.config import ModelSpec
from orchestrator.results.records import (
    METADATA_COLUMN,
    RECORD_SCHEMA,
    SCHEMA_VERSION,
    SCORES_VERSION,
    encode_part,
)
from orchestrator.results.store import Store, open_store

logger = logging.getLogger(__name__)

CACHE_DIR = "cache"
FORMAT = "rayward-score-cache-v1"
"""Bump when what a cached score means changes (a scorer's semantics): every old entry misses."""

SPEED_ONLY_FIELDS = frozenset({"name", "batch_tokens", "prefetch_batches", "token_cache", "api"})
"""ModelSpec fields that cannot change a score (names and pure-speed knobs); every other field is part
of the key. A new ModelSpec field is therefore a key part by default; list it here only when it is a
pure-speed or naming knob."""

CONTEXT_COLUMNS = frozenset(
    {
        "schema_version",
        "run_id",
        "benchmark",
        "model",
        "subset",
        "example_id",
        "row_index",
        "shard",
        "source_id",
        "cached_from",
        "error",
        "texts",
        "chosen_position",
    }
)
"""Record fields that come from the run and the data, not from the scorer; all other fields are cached."""

CACHED_COLUMNS = tuple(f.name for f in RECORD_SCHEMA if f.name not in CONTEXT_COLUMNS)
"""The record fields a cache file stores (every scorer-produced column)."""

_SCORE_PACKAGES = ("torch", "transformers", "tokenizers")
_SHA = re.compile(r"^[0-9a-f]{40}$")
_HUB_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*(/[A-Za-z0-9][A-Za-z0-9._-]*)?$")


# ------------------------------------------------------------------------ keys


def _hub_cache() -> Path:
    if os.environ.get("HF_HUB_CACHE"):
        return Path(os.environ["HF_HUB_CACHE"]).expanduser()
    home = os.environ.get("HF_HOME")
    return (Path(home).expanduser() if home else Path.home() / ".cache" / "huggingface") / "hub"


def _hub_sha(repo: str, revision: str | None) -> str | None:
    """The commit a hub id + revision stands for: a pinned sha, or the local HF cache's ref (no network)."""
    if revision and _SHA.match(revision):
        return revision
    if not _HUB_ID.match(repo):
        return None
    ref = _hub_cache() / f"models--{repo.replace('/', '--')}" / "refs" / (revision or "main")
    try:
        sha = ref.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError):
        return None
    return sha if _SHA.match(sha) else None


def model_identity(path: str, revision: str | None = None, loaded_revision: str | None = None) -> str | None:
    """What the weights are: a local directory's fingerprint, or ``hub:<id>@<sha>``; ``None`` when unknown
    (a hub id whose branch cannot be resolved to a commit without the network is not cacheable).

    ``loaded_revision`` is the commit a worker actually loaded (``ModelInfo.revision``), preferred over
    the local ref for hub ids, so a branch that moved during the run is never cached under the old sha.
    """
    from orchestrator.scoring._hf import model_fingerprint

    try:
        if Path(path).expanduser().is_dir():
            return model_fingerprint(path, revision)
    except OSError:
        return None
    sha: str | None
    if revision and _SHA.match(revision):
        sha = revision
    elif loaded_revision and _SHA.match(loaded_revision):
        sha = loaded_revision
    else:
        sha = _hub_sha(path, revision)
    return f"hub:{path}@{sha}" if sha else None


def _resolve_value(value: Any) -> Any:
    """A setting as a key part: a local directory or file becomes its content fingerprint, a hub id the
    commit it resolves to in the local HF cache (when it does); other values are used as they are."""
    if not isinstance(value, str) or not value or "\n" in value or len(value) > 1024:
        return value
    try:
        local = Path(value).expanduser()
        if local.is_dir():
            from orchestrator.scoring._hf import model_fingerprint

            return {"value": value, "fingerprint": model_fingerprint(value)}
        if local.is_file():
            return {"value": value, "sha256": hashlib.sha256(local.read_bytes()).hexdigest()}
    except OSError:
        return value
    sha = _hub_sha(value, None) if "/" in value else None
    return {"value": value, "hub_sha": sha} if sha else value


def _versions(backend: str) -> dict[str, str | None]:
    """The versions of the packages that compute scores (looked up once per process)."""
    return dict(_package_versions(backend))


@functools.cache
def _package_versions(backend: str) -> dict[str, str | None]:
    from importlib import metadata

    from orchestrator import __version__

    out: dict[str, str | None] = {"rayward": __version__}
    for pkg in (*_SCORE_PACKAGES, *(("vllm",) if backend == "vllm" else ())):
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            out[pkg] = None
    return out


def resolved_dtype(spec: ModelSpec, device: str) -> str:
    """The dtype a scorer resolves ``auto`` to on a device (bf16 on GPUs, fp32 on CPUs)."""
    if spec.dtype != "auto":
        return spec.dtype
    return "bfloat16" if device.startswith("cuda") else "float32"


def settings_document(spec: ModelSpec, identity: str, device: str, dtype: str) -> dict[str, Any]:
    """Everything a score depends on besides its input, as one JSON-able document."""
    fields = spec.model_dump(mode="json")
    fallback = fields.get("fallback_parser")
    if isinstance(fallback, dict):  # a judge's fallback parser: its template by content, its `api` speed only
        fields["fallback_parser"] = {
            k: _resolve_value(v) if k == "template" else v for k, v in fallback.items() if k != "api"
        }
    settings = {k: _resolve_value(v) for k, v in sorted(fields.items()) if k not in SPEED_ONLY_FIELDS}
    return {
        "format": FORMAT,
        "schema_version": SCORES_VERSION,
        "model": identity,
        "settings": settings,
        "device": device.split(":")[0],
        "dtype": dtype,
        "versions": _versions(spec.backend),
    }


def _digest(document: Any) -> str:
    data = json.dumps(document, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)
    return hashlib.sha256(data.encode("utf-8", "surrogatepass")).hexdigest()


def example_keys(table: pa.Table) -> list[str]:
    """One key per example: sha256 of its exact prompt, chosen and rejected (texts, messages or lists)."""
    prompts = table.column("prompt").to_pylist()
    chosen = table.column("chosen").to_pylist()
    rejected = table.column("rejected").to_pylist()
    return [_digest([p, c, r]) for p, c, r in zip(prompts, chosen, rejected)]


# ------------------------------------------------------------------------ storage


def _cache_schema() -> pa.Schema:
    fields = [pa.field("example_key", pa.string()), pa.field("origin_run", pa.string())]
    fields += [RECORD_SCHEMA.field(name).with_nullable(True) for name in CACHED_COLUMNS]
    return pa.schema(fields)


CACHE_SCHEMA = _cache_schema()


@dataclass(frozen=True)
class ServedUnit:
    """A unit whose every row is in the score cache."""

    unit: Any
    source: str
    """Where its records come from (:meth:`ScoreCache._source`): equal sources mean equal records."""
    build: Callable[[], pa.Table]
    """Builds the unit's records for the run."""

    def records(self) -> pa.Table:
        return self.build()


class _Entries:
    """The cached rows under one settings key: example key -> row of ``table``. File ``names[i]`` holds the rows
    from ``starts[i]`` on (:meth:`provenance`)."""

    def __init__(self, directory: Path):
        self.directory = directory
        self.key = directory.name
        tables = []
        names: list[str] = []
        # run ids sort by time, so on duplicate keys the newest file wins (a --no-cache refresh)
        for file in sorted(directory.glob("*.parquet")):
            try:
                table = pq.read_table(file, schema=CACHE_SCHEMA)
                if table.column("example_key").null_count or table.column("origin_run").null_count:
                    raise ValueError("null example_key or origin_run")
            except Exception as exc:  # damaged, truncated or foreign: ignore it, rescore those rows
                logger.warning(
                    "score cache: ignoring unreadable file %s (%s)",
                    file,
                    str(exc).splitlines()[0] if str(exc) else type(exc).__name__,
                )
                continue
            tables.append(table)
            names.append(file.name)
        self.table = pa.concat_tables(tables) if tables else CACHE_SCHEMA.empty_table()
        self.rows = {key: i for i, key in enumerate(self.table.column("example_key").to_pylist())}
        self.names = names
        self.starts = np.cumsum([0] + [t.num_rows for t in tables], dtype=np.int64)
        self.unit_rows: dict[tuple[str, int, int], list[int] | None] = {}
        """(benchmark, start, stop) -> the rows of a unit (None: not all cached), computed once."""

    def provenance(self, rows: list[int]) -> list[tuple[str, np.ndarray]]:
        """Where ``rows`` come from: (file name, rows in that file) for each run of consecutive rows of one file."""
        at = np.asarray(rows, dtype=np.int64)
        files = np.searchsorted(self.starts, at, side="right") - 1
        cuts = np.flatnonzero(np.diff(files)) + 1
        out = []
        for chunk_rows, chunk_files in zip(np.split(at, cuts), np.split(files, cuts)):
            f = int(chunk_files[0])
            out.append((self.names[f], chunk_rows - self.starts[f]))
        return out


class ScoreCache:
    """The driver's view of the score cache for one run.

    ``read=False`` (``--no-cache`` or ``cache: false``) never serves cached scores but still adds every
    newly scored row, refreshing the cache.
    """

    def __init__(
        self, root: str | Path | Store, examples: dict[str, Any], *, want_gpu: bool, read: bool = True
    ):
        store = open_store(root)
        self.store = store
        self.enabled = store.local is not None  # the cache lives on a local (or mounted) filesystem only
        self.base = (store.local if store.local is not None else Path()) / CACHE_DIR
        self.examples = examples  # benchmark -> Examples (its .table)
        self.want_gpu = want_gpu
        self.read = read
        if not self.enabled:
            logger.info("score cache: off for the non-local results store %s", root)
        self._keys: dict[str, list[str]] = {}
        self._entries: dict[str, _Entries] = {}
        self._settings: dict[tuple, tuple[str, dict[str, Any]] | None] = {}
        self.lookup_keys: dict[str, str | None] = {}  # model name -> settings key used for lookups

    # -- keys

    def _example_keys(self, benchmark: str) -> list[str]:
        if benchmark not in self._keys:
            self._keys[benchmark] = example_keys(self.examples[benchmark].table)
        return self._keys[benchmark]

    def settings_key(
        self, spec: ModelSpec, device: str, dtype: str | None = None, loaded_revision: str | None = None
    ) -> tuple[str, dict[str, Any]] | None:
        """The settings key and its document for ``spec`` on ``device`` (computed once per run)."""
        memo = (
            spec.model_dump_json(),
            device.split(":")[0],
            dtype or resolved_dtype(spec, device),
            loaded_revision,
        )
        if memo not in self._settings:
            # API judges have no weights to fingerprint (their requests are cached one by one instead, by the
            # judge output cache); an ensemble's scores depend on its members' settings, not its own
            api_or_ensemble = spec.backend in ("openai", "ensemble")
            identity = None if api_or_ensemble else model_identity(spec.path, spec.revision, loaded_revision)
            document = None if identity is None else settings_document(spec, identity, memo[1], memo[2])
            self._settings[memo] = None if document is None else (_digest(document), document)
        return self._settings[memo]

    def _load(self, key: str) -> _Entries:
        if key not in self._entries:
            self._entries[key] = _Entries(self.base / key)
        return self._entries[key]

    # -- reading

    def _lookup(self, spec: ModelSpec) -> _Entries | None:
        """The cached rows for ``spec`` as this run would compute it (None: reading off, or no identity)."""
        if spec.name not in self.lookup_keys:
            found = self.settings_key(spec, "cuda" if self.want_gpu else "cpu")
            self.lookup_keys[spec.name] = found[0] if found else None
            if found is None:
                logger.info(
                    "score cache: model %r has no stable identity (an unpinned hub revision "
                    "not in the local HF cache?); its scores are not cached",
                    spec.name,
                )
        key = self.lookup_keys[spec.name]
        return self._load(key) if self.read and self.enabled and key is not None else None

    def _rows(self, entries: _Entries | None, unit: Any) -> list[int] | None:
        if entries is None or not entries.rows:
            return None
        memo = (unit.benchmark, unit.start, unit.stop)
        if memo not in entries.unit_rows:
            rows: list[int] | None = []
            for k in self._example_keys(unit.benchmark)[unit.start : unit.stop]:
                row = entries.rows.get(k)
                if row is None:
                    rows = None
                    break
                rows.append(row)  # type: ignore[union-attr]
            entries.unit_rows[memo] = rows
        return entries.unit_rows[memo]

    def covers(self, specs: Iterable[ModelSpec], units: Iterable[Any]) -> bool:
        """True when every row of every unit is cached: the run needs no Ray, no actor, no model."""
        by_name = {s.name: s for s in specs}
        return all(self._rows(self._lookup(by_name[u.model]), u) is not None for u in units)

    def served_units(self, spec: ModelSpec, units: Iterable[Any], *, run_id: str) -> Iterator[ServedUnit]:
        """Every unit of ``spec`` whose rows are all cached, with the digest of where its records come from and
        a builder of those records for ``run_id``; nothing when reading is off or the model's identity is
        unknown."""
        entries = self._lookup(spec)
        if entries is None:
            return
        for unit in list(units):
            rows = self._rows(entries, unit)
            if rows is not None:
                build = functools.partial(self._records_of, spec, unit, entries, rows, run_id)
                yield ServedUnit(unit, self._source(entries, spec, unit, rows), build)

    def cached_units(
        self, spec: ModelSpec, units: Iterable[Any], *, run_id: str
    ) -> Iterator[tuple[Any, pa.Table]]:
        """``(unit, records)`` for every unit of ``spec`` whose rows are all cached, ``records`` ready to
        write for ``run_id`` (:meth:`served_units`, built)."""
        for served in self.served_units(spec, units, run_id=run_id):
            yield served.unit, served.records()

    def _source(self, entries: _Entries, spec: ModelSpec, unit: Any, rows: list[int]) -> str:
        """A digest of everything a cache-served unit's records are made of besides the run: the record schema,
        the cache key, the data (benchmark, dataset fingerprint, row range, shard), the model's name and, for
        every row, the cache file and the row in it that its scores come from (cache files are immutable).
        Two units with the same digest have the same records but for ``run_id``."""
        h = hashlib.sha256()
        head = [
            FORMAT,
            SCHEMA_VERSION,
            entries.key,
            unit.benchmark,
            self.examples[unit.benchmark].fingerprint,
            spec.name,
            unit.shard,
            unit.start,
            unit.stop,
        ]
        h.update(json.dumps(head).encode())
        for name, local in entries.provenance(rows):
            h.update(b"\0" + name.encode() + b"\0" + local.astype("<i8").tobytes())
        return h.hexdigest()[:32]

    def _records_of(
        self, spec: ModelSpec, unit: Any, entries: _Entries, rows: list[int], run_id: str
    ) -> pa.Table:
        return self._records(spec, unit, entries.table.take(pa.array(rows, pa.int64())), run_id)

    def _records(self, spec: ModelSpec, unit: Any, cached: pa.Table, run_id: str) -> pa.Table:
        part = self.examples[unit.benchmark].table.slice(unit.start, unit.size)
        n = part.num_rows
        context = {
            "schema_version": pa.array([SCHEMA_VERSION] * n, pa.int16()),
            "run_id": pa.array([run_id] * n, pa.string()),
            "benchmark": pa.array([unit.benchmark] * n, pa.string()),
            "model": pa.array([spec.name] * n, pa.string()),
            "subset": part.column("subset"),
            "example_id": part.column("id"),
            "row_index": part.column("row_index"),
            "shard": pa.array([unit.shard] * n, pa.int32()),
            "source_id": part.column("source_id"),
            "cached_from": cached.column("origin_run"),
            "error": pa.nulls(n, pa.string()),
            "texts": pa.nulls(n, pa.string()),
            "chosen_position": _chosen_position(part),
        }
        arrays = []
        for f in RECORD_SCHEMA:
            column = context[f.name] if f.name in context else cached.column(f.name)
            if isinstance(column, pa.ChunkedArray):
                column = column.combine_chunks()
            arrays.append(column.cast(f.type))
        table = pa.Table.from_arrays(arrays, schema=RECORD_SCHEMA)
        if METADATA_COLUMN in part.column_names:  # the examples' metadata, for the examples table
            table = table.append_column(METADATA_COLUMN, part.column(METADATA_COLUMN))
        return table

    def model_info(self, spec: ModelSpec) -> dict[str, Any] | None:
        """What a worker reported when it loaded this model (``model.json``), for a run that loads none."""
        key = self.lookup_keys.get(spec.name)
        if key is None:
            return None
        try:
            return json.loads((self.base / key / "model.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None

    # -- writing

    def add(self, spec: ModelSpec, unit: Any, records: pa.Table, info: dict[str, Any]) -> int:
        """Add a freshly scored unit's rows (those without an error, not already cached); returns how many.

        ``info`` is what the worker reported on load (``device``, ``dtype``, ``revision``, ...): the key is
        made from the device and dtype the scores were really computed with. Never raises: a cache that
        cannot be written costs speed next time, not this run.
        """
        try:
            return self._add(spec, unit, records, info)
        except Exception as exc:
            logger.warning(
                "score cache: could not add %s shard %d of %s (%s)",
                unit.benchmark,
                unit.shard,
                spec.name,
                exc,
            )
            return 0

    def _add(self, spec: ModelSpec, unit: Any, records: pa.Table, info: dict[str, Any]) -> int:
        if not self.enabled:
            return 0
        device = info.get("device") or ("cuda" if self.want_gpu else "cpu")
        found = self.settings_key(spec, device, info.get("dtype"), info.get("revision"))
        if found is None:
            return 0
        key, document = found
        directory = self.base / key
        keys = self._example_keys(unit.benchmark)[unit.start : unit.stop]
        if len(keys) != records.num_rows:
            raise ValueError(f"{records.num_rows} records for {len(keys)} examples")
        fresh = records.column("cached_from").is_null()
        keep = pc.and_(fresh, records.column("error").is_null())
        if self.read:  # a --no-cache run refreshes every row; otherwise only what is new
            known = self._load(key).rows
            keep = pc.and_(keep, pa.array([k not in known for k in keys]))
        table = (
            pa.table(
                {
                    "example_key": pa.array(keys, pa.string()),
                    "origin_run": records.column("run_id"),
                    **{name: records.column(name) for name in CACHED_COLUMNS},
                }
            )
            .filter(keep)
            .cast(CACHE_SCHEMA)
        )
        if table.num_rows == 0:
            return 0
        rel = f"{CACHE_DIR}/{key}"
        if not (directory / "settings.json").is_file():
            data = _json_bytes(document)
            self.store.write_atomic(f"{rel}/settings.json", lambda tmp: Path(tmp).write_bytes(data))
        model_doc = {k: info.get(k) for k in ("fingerprint", "revision", "dtype", "device", "num_parameters")}
        if info.get("num_parameters") is not None and not (directory / "model.json").is_file():
            data = _json_bytes(model_doc)
            self.store.write_atomic(f"{rel}/model.json", lambda tmp: Path(tmp).write_bytes(data))
        run_id = table.column("origin_run")[0].as_py()
        name = f"{encode_part(run_id)}-{encode_part(unit.benchmark)}-{unit.shard:05d}-{secrets.token_hex(4)}.parquet"
        self.store.write_atomic(f"{rel}/{name}", lambda tmp: pq.write_table(table, tmp, compression="zstd"))
        return table.num_rows


def _json_bytes(document: Any) -> bytes:
    return json.dumps(document, indent=2, sort_keys=True, default=str).encode()


__all__ = [
    "ScoreCache",
    "ServedUnit",
    "model_identity",
    "example_keys",
    "settings_document",
    "SPEED_ONLY_FIELDS",
    "CONTEXT_COLUMNS",
    "CACHED_COLUMNS",
    "CACHE_DIR",
]


def _chosen_position(part: pa.Table) -> pa.Array:
    """The examples' ``chosen_position`` (JudgeBench's A/B order), or nulls where the source has none."""
    if "chosen_position" in part.column_names:
        return part.column("chosen_position").combine_chunks().cast(pa.int8())
    return pa.nulls(part.num_rows, pa.int8())
