"""The one record schema, its Parquet layout, atomic writes, and run manifests.

Layout under the results root (``docs/store.md``)::

    records/benchmark=<b>/model=<m>/run=<run_id>/shard-00000.parquet   # as scored, one file per work unit
    records/benchmark=<b>/model=<m>/run=<run_id>/part-<id>.parquet     # after compaction: every shard in one file
    records/benchmark=<b>/model=<m>/run=<run_id>/shard-00000.ref.json  # a cache-served unit reusing earlier records
    examples/<texts>.parquet                 # the texts of one shard's examples, written once (texts once)
    runs/<run_id>.json                       # the run manifest

One row per (run, model, example). Scores are raw (logits), never probabilities. Records written since schema
version 4 hold no texts: ``texts`` names the examples file holding their prompt and completions (joined back by
the ``records`` view). Fields are append-only: a new field gets added at the end and ``SCHEMA_VERSION`` bumps.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import time
import urllib.parse
from collections.abc import Iterable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from orchestrator.results.store import Store, open_store

SCHEMA_VERSION = 7
SCORES_VERSION = 3
"""The version of what the scorer-produced fields mean (a score cache key part); schema version 4 only moved the
texts out of the records and version 5 only added the source's order, so cached scores stay valid (version 6's
judge fields are new outputs of the judge scorers, whose settings key changed with them)."""
# Version 2 appended ``scores_chosen``, ``scores_rejected`` (every completion's raw score, in the source's order,
# for best-of-N data; null for pairs), ``source_id`` (the source's id as text, e.g. RewardBench 2's ``ref:3``) and
# ``texts_chosen``, ``texts_rejected`` (every completion's raw text for best-of-N data; null for pairs).
# Version 3 appended the implicit-reward fields (``beta``, the four log-prob sums policy/reference x
# chosen/rejected over completion tokens, the completion token counts, ``reference``, ``iteration``),
# the judge fields (``judge_outputs``: every raw judge output with its target, order, sample index and
# parsed value; ``parse_failures``; ``position_consistent``) and ``cached_from`` (the run whose score
# was reused by the score cache; null when scored in this run).
# Version 4 appended ``texts``: the key of the examples file (``examples/<texts>.parquet``) holding the row's
# ``prompt``, ``chosen``, ``rejected``, ``texts_chosen`` and ``texts_rejected``, which the record leaves null (null:
# the texts are in the record itself, as in versions 1-3).
# Version 5 appended ``chosen_position``: where the source showed the chosen completion (0 = first / response A,
# 1 = second / response B; JudgeBench), null when the source has no order.
# Version 6 appended to each judge output ``member`` (the ensemble member that wrote it; null for a single
# judge), ``cached`` (the output came from the judge output cache, no request sent) and ``label`` (the verdict
# label as parsed: ``A``..``D``; null for rubric scores and unparseable outputs), and the record field
# ``judge_credit`` (a judge example's benchmark points when they are not ``correct``: pairwise 1/0.5/0, four-way
# 1/0.25/0, the reference's credit of 1-10 ratings; also a kind pairwise SteamSHP record's mean over its two orders).
# Version 7 appended to each judge output ``fallback``: the fallback parser's raw answer when the judge's own output
# did not parse and a fallback parser was configured (``parsed``/``label`` are then the fallback's verdict, null
# when it could not be parsed either); null when no fallback call was made.

JUDGE_OUTPUT = pa.struct(
    [
        pa.field("target", pa.string()),  # chosen | rejected (rubric) or pair (pairwise)
        pa.field(
            "order", pa.string()
        ),  # pairwise: AB = chosen shown first, BA = rejected first; null for rubric
        pa.field("sample", pa.int32()),  # sample index (0-based)
        pa.field("text", pa.string()),  # the judge's raw output
        pa.field(
            "parsed", pa.float64()
        ),  # rubric: the score; pairwise: 1 chosen wins, 0 rejected wins; four-way: the credit; null: unparseable
        pa.field("member", pa.string()),  # v6: the ensemble member that wrote it (null: a single judge)
        pa.field("cached", pa.bool_()),  # v6: answered by the judge output cache (no request sent)
        pa.field("label", pa.string()),  # v6: the parsed verdict label (A..D), null for scores and failures
        pa.field("fallback", pa.string()),  # v7: the fallback parser's raw answer (null: no fallback call)
    ]
)

RECORD_SCHEMA = pa.schema(
    [
        pa.field("schema_version", pa.int16(), nullable=False),
        pa.field("run_id", pa.string(), nullable=False),
        pa.field("benchmark", pa.string(), nullable=False),
        pa.field("model", pa.string(), nullable=False),
        pa.field("kind", pa.string(), nullable=False),
        pa.field("subset", pa.string(), nullable=False),
        pa.field("example_id", pa.int64(), nullable=False),
        pa.field("row_index", pa.int64(), nullable=False),
        pa.field("prompt", pa.string()),
        pa.field("chosen", pa.string()),
        pa.field("rejected", pa.string()),
        pa.field("score_chosen", pa.float64()),
        pa.field("score_rejected", pa.float64()),
        pa.field("correct", pa.bool_()),
        pa.field("tokens_chosen", pa.int32()),
        pa.field("tokens_rejected", pa.int32()),
        pa.field("shard", pa.int32(), nullable=False),
        pa.field("scorer", pa.string()),
        pa.field("error", pa.string()),
        pa.field("scores_chosen", pa.list_(pa.float64())),
        pa.field("scores_rejected", pa.list_(pa.float64())),
        pa.field("source_id", pa.string()),
        pa.field("texts_chosen", pa.list_(pa.string())),
        pa.field("texts_rejected", pa.list_(pa.string())),
        # v3: implicit (DPO / SPIN) rewards
        pa.field("beta", pa.float64()),
        pa.field("logp_chosen", pa.float64()),
        pa.field("logp_rejected", pa.float64()),
        pa.field("ref_logp_chosen", pa.float64()),
        pa.field("ref_logp_rejected", pa.float64()),
        pa.field("completion_tokens_chosen", pa.int32()),
        pa.field("completion_tokens_rejected", pa.int32()),
        pa.field("reference", pa.string()),
        pa.field("iteration", pa.int32()),
        # v3: LLM-as-a-judge
        pa.field("judge_outputs", pa.list_(JUDGE_OUTPUT)),
        pa.field("parse_failures", pa.int32()),
        pa.field("position_consistent", pa.bool_()),
        # v3: score cache
        pa.field("cached_from", pa.string()),
        # v4: texts once
        pa.field("texts", pa.string()),
        # v5: where the source showed the chosen completion (0 first / A, 1 second / B); null: no order
        pa.field("chosen_position", pa.int8()),
        # v6: a judge's benchmark credit when it is not simply ``correct`` (pairwise and four-way verdicts,
        # the reference's 1-10 ratings): what the example earns towards its subset's accuracy
        pa.field("judge_credit", pa.float64()),
    ],
    metadata={b"rayward.schema_version": str(SCHEMA_VERSION).encode()},
)

RECORDS_DIR = "records"
RUNS_DIR = "runs"
EXAMPLES_DIR = "examples"
TEXT_COLUMNS = ("prompt", "chosen", "rejected", "texts_chosen", "texts_rejected")
"""The record fields that hold example texts: written once per shard of a dataset into ``examples/``."""
METADATA = pa.map_(pa.string(), pa.string())
"""An example's metadata as its loader keeps it (PPE: the battle's ``model_a``, ``model_b``, ``language`` and
category flags): text keys to text values, in the examples table only (never a record field)."""
EXAMPLES_SCHEMA = pa.schema(
    [pa.field("texts", pa.string(), nullable=False), pa.field("row_index", pa.int64(), nullable=False)]
    + [RECORD_SCHEMA.field(name) for name in TEXT_COLUMNS]
    + [pa.field("metadata", METADATA)]
)
"""An examples file: the texts of one shard's rows, and their ``metadata`` (added after schema version 7
without a record schema bump: an older examples file has no such column and reads as null)."""
METADATA_COLUMN = "metadata"


def new_run_id() -> str:
    """Sortable by start time, unique across concurrent drivers."""
    return datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S%fZ")[:-4] + "Z-" + secrets.token_hex(3)


def encode_part(value: str) -> str:
    """A name as a single, safe path component (``/`` and ``%`` percent-encoded; a leading ``.`` too, so that no
    name looks like a temp or lock file, which readers skip)."""
    encoded = urllib.parse.quote(value, safe="._-+=@")
    if encoded in ("", ".", ".."):
        raise ValueError(f"invalid name for a path component: {value!r}")
    if encoded.startswith("."):
        encoded = "%2E" + encoded[1:]
    return encoded


def _partition_rel(benchmark: str, model: str, run_id: str) -> str:
    return f"{RECORDS_DIR}/benchmark={encode_part(benchmark)}/model={encode_part(model)}/run={encode_part(run_id)}"


def partition_dir(root: str | Path | Store, benchmark: str, model: str, run_id: str) -> Path | str:
    """The run's partition directory (a :class:`Path` for local stores, the filesystem path for URIs)."""
    store = open_store(root)
    path = store.path(_partition_rel(benchmark, model, run_id))
    # defence in depth against traversal: the partition must stay under the root
    if store.local is not None and store.local.resolve() not in Path(path).resolve().parents:
        raise ValueError(f"partition path escapes the results root: {path}")
    return path


def shard_path(root: str | Path | Store, benchmark: str, model: str, run_id: str, shard: int) -> Path | str:
    return _join(partition_dir(root, benchmark, model, run_id), f"shard-{shard:05d}.parquet")


def _join(base: Path | str, name: str) -> Path | str:
    return base / name if isinstance(base, Path) else f"{base}/{name}"


def _relative(store: Store, path: Path | str) -> str:
    if store.local is not None:
        return Path(path).relative_to(store.local).as_posix()
    return str(path)[len(store.base) :].lstrip("/")


def make_table(columns: dict[str, Any]) -> pa.Table:
    """Build a records table in the canonical schema (missing optional fields become null)."""
    n = len(next(iter(columns.values())))
    arrays = []
    for f in RECORD_SCHEMA:
        if f.name in columns:
            arrays.append(pa.array(columns[f.name], type=f.type))
        elif f.nullable:
            arrays.append(pa.nulls(n, type=f.type))
        else:
            raise ValueError(f"record field {f.name!r} is required")
    return pa.Table.from_arrays(arrays, schema=RECORD_SCHEMA)


_TEXTS_KEYS: dict[bytes, str] = {}
"""texts_key by a digest of the Arrow buffers it was computed from (equal buffers, equal values, equal key):
every model of a nightly run writes the same shards' texts, and hashing the buffers is far cheaper than
encoding the values."""


def _buffers_digest(texts: pa.Table) -> bytes:
    digest = hashlib.sha256()
    for column in texts.columns:
        for chunk in column.chunks:
            digest.update(f"{chunk.type}|{chunk.offset}|{len(chunk)}|".encode())
            for arr in _flatten(chunk):
                for buf in arr.buffers():
                    digest.update(b"-" if buf is None else memoryview(buf))
                digest.update(f"|{arr.offset}|{len(arr)}".encode())
        digest.update(b"\0")
    return digest.digest()


def _flatten(arr: pa.Array) -> list[pa.Array]:
    """``arr`` (its buffers include its children's only at the top level) and its child arrays."""
    out = [arr]
    if pa.types.is_map(arr.type):
        out += _flatten(arr.keys) + _flatten(arr.items)
    elif pa.types.is_list(arr.type) or pa.types.is_large_list(arr.type):
        out += _flatten(arr.values)
    return out


def texts_key(texts: pa.Table) -> str:
    """The content address of a shard's texts (``row_index`` and the text columns, and ``metadata`` where the
    table has that column): equal texts, equal key. Without metadata the key is what it was before metadata
    existed, so the examples files of every benchmark that keeps none stay where they are."""
    memo = _buffers_digest(texts)
    found = _TEXTS_KEYS.get(memo)
    if found is None:
        found = _texts_key(texts)
        if len(_TEXTS_KEYS) >= 1024:
            _TEXTS_KEYS.clear()
        _TEXTS_KEYS[memo] = found
    return found


def _texts_key(texts: pa.Table) -> str:
    digest = hashlib.sha256()
    for name in ("row_index", *TEXT_COLUMNS):
        values = texts.column(name).to_pylist()
        digest.update(
            json.dumps(values, ensure_ascii=False, separators=(",", ":")).encode("utf-8", "surrogatepass")
        )
        digest.update(b"\0")
    if METADATA_COLUMN in texts.column_names:
        values = [None if m is None else sorted(m) for m in texts.column(METADATA_COLUMN).to_pylist()]
        digest.update(b"metadata\0")
        digest.update(
            json.dumps(values, ensure_ascii=False, separators=(",", ":")).encode("utf-8", "surrogatepass")
        )
    return digest.hexdigest()[:32]


def examples_rel(key: str) -> str:
    return f"{EXAMPLES_DIR}/{encode_part(key)}.parquet"


def metadata_of(table: pa.Table) -> pa.ChunkedArray | None:
    """The ``metadata`` column a records table carries beside the record fields (from its examples), or None
    when it has none or every value is null."""
    if METADATA_COLUMN not in table.column_names:
        return None
    column = table.column(METADATA_COLUMN)
    if column.null_count == len(column):
        return None
    return column.cast(METADATA)


def split_texts(store: Store, table: pa.Table, metadata: pa.ChunkedArray | None = None) -> pa.Table:
    """Move a records table's texts (and the examples' ``metadata``, when given) into ``examples/<key>.parquet``
    (written once: content-addressed, so a file that exists already holds exactly these texts) and return the
    records with the texts null and ``texts`` set. Records whose ``texts`` is already set are returned as they
    are."""
    if table.num_rows == 0 or table.column("texts").null_count < table.num_rows:
        return table
    texts = table.select(["row_index", *TEXT_COLUMNS])
    if metadata is not None:
        texts = texts.append_column(pa.field(METADATA_COLUMN, METADATA), metadata)
    key = texts_key(texts)
    rel = examples_rel(key)
    if not store.is_file(rel):
        columns = [pa.array([key] * table.num_rows, pa.string()), *texts.columns]
        if metadata is None:
            columns.append(pa.nulls(table.num_rows, METADATA))
        examples = pa.Table.from_arrays(columns, schema=EXAMPLES_SCHEMA)
        store.write_atomic(rel, lambda target: pq.write_table(examples, target, compression="zstd"))
    out = table
    for name in TEXT_COLUMNS:
        i = out.schema.get_field_index(name)
        out = out.set_column(
            i, RECORD_SCHEMA.field(name), pa.nulls(table.num_rows, RECORD_SCHEMA.field(name).type)
        )
    i = out.schema.get_field_index("texts")
    return out.set_column(i, RECORD_SCHEMA.field("texts"), pa.array([key] * table.num_rows, pa.string()))


def write_shard(
    root: str | Path | Store, table: pa.Table, *, benchmark: str, model: str, run_id: str, shard: int
) -> Path | str:
    """Write one shard's records atomically (see :mod:`orchestrator.results.store`); returns its path.

    The texts go to the examples table once (:func:`split_texts`), with the examples' ``metadata`` where
    ``table`` carries that column beside the record fields; the shard file holds keys and scores."""
    store = open_store(root)
    table = split_texts(store, _with_fields(table).cast(RECORD_SCHEMA), metadata_of(table))
    path = shard_path(store, benchmark, model, run_id, shard)
    store.write_atomic(
        _relative(store, path), lambda target: pq.write_table(table, target, compression="zstd")
    )
    return path


def _with_fields(table: pa.Table) -> pa.Table:
    """A records table of an older schema version with the newer (nullable) fields appended as null."""
    for f in RECORD_SCHEMA:
        if f.name not in table.column_names:
            if not f.nullable:
                raise ValueError(f"record field {f.name!r} is required")
            table = table.append_column(f, pa.nulls(table.num_rows, f.type))
    return table.select(RECORD_SCHEMA.names)


def record_files(root: str | Path | Store) -> list[Path | str]:
    """All committed record files a reader takes (per partition its compacted part files, else its shard files;
    temp files never match). Units recorded as references have no file of their own (``catalog``)."""
    from orchestrator.results.catalog import list_partitions

    return sorted((f for p in list_partitions(open_store(root)).values() for f in p.files), key=str)


def shard_rows(root: str | Path | Store, benchmark: str, model: str, run_id: str, shard: int) -> int | None:
    """Rows of a committed shard file, or None when it is missing or unreadable."""
    store = open_store(root)
    path = shard_path(store, benchmark, model, run_id, shard)
    rel = _relative(store, path)
    if not store.is_file(rel):
        return _ref_rows(store, rel[: -len(".parquet")] + ".ref.json")
    try:
        if store.local is not None:
            return pq.ParquetFile(path).metadata.num_rows
        with store.fs.open_input_file(str(path)) as fh:
            return pq.ParquetFile(fh).metadata.num_rows
    except Exception:  # unreadable: the caller scores it again (the rewrite is atomic)
        return None


def _ref_rows(store: Store, rel: str) -> int | None:
    """Rows of a unit recorded as a reference (``shard-<n>.ref.json``), or None."""
    if not store.is_file(rel):
        return None
    try:
        return int(json.loads(store.read_bytes(rel).decode("utf-8"))["rows"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


# ---------------------------------------------------------------- manifests


def manifest_path(root: str | Path | Store, run_id: str) -> Path | str:
    return open_store(root).path(f"{RUNS_DIR}/{encode_part(run_id)}.json")


def write_manifest(root: str | Path | Store, manifest: dict[str, Any]) -> Path | str:
    """Write (or replace) a run manifest atomically."""
    store = open_store(root)
    data = json.dumps(manifest, indent=2, sort_keys=False, default=str).encode()

    def _write(target: Any) -> None:
        if isinstance(target, str):
            Path(target).write_bytes(data)
        else:
            target.write(data)

    return store.write_atomic(f"{RUNS_DIR}/{encode_part(manifest['run_id'])}.json", _write)


def read_manifests(root: str | Path | Store) -> list[dict[str, Any]]:
    """Every committed run manifest; temp files are never read, and each damaged one (not UTF-8 JSON, not an
    object, fields of the wrong type) is skipped with a warning naming it and the run it drops
    (:mod:`orchestrator.results.integrity`)."""
    from orchestrator.results.integrity import load_manifest

    store = open_store(root)
    out = []
    for path in store.glob(RUNS_DIR, "*.json"):
        data, _problem = load_manifest(store, path)
        if data is not None:
            out.append(data)
    return out


def run_lock_name(run_id: str) -> str:
    """The lock a driver holds while it writes run ``run_id`` (``runs/.<run_id>.lock``, never read as a manifest)."""
    return f"{RUNS_DIR}/.{encode_part(run_id)}.lock"


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


class Stopwatch:
    def __init__(self) -> None:
        self.start = time.perf_counter()

    def __call__(self) -> float:
        return round(time.perf_counter() - self.start, 3)


def model_runs_rows(manifests: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Flatten manifests into one row per (run, benchmark, model) with its status (columns: :data:`MODEL_RUNS_SCHEMA`)."""
    rows = []
    for m in manifests:
        for entry in m.get("models", []):
            rows.append(
                {
                    "run_id": m.get("run_id"),
                    "job": m.get("job"),
                    "started_at": m.get("started_at"),
                    "finished_at": m.get("finished_at"),
                    "benchmark": entry.get("benchmark"),
                    "model": entry.get("model"),
                    "kind": entry.get("kind"),
                    "status": entry.get("status"),
                    "error": entry.get("error"),
                    "n_records": entry.get("n_records"),
                    "fingerprint": entry.get("fingerprint"),
                    "num_parameters": entry.get("num_parameters"),
                    "load_seconds": entry.get("load_seconds"),
                    "score_seconds": entry.get("score_seconds"),
                }
            )
    return rows


MODEL_RUNS_SCHEMA = pa.schema(
    [
        ("run_id", pa.string()),
        ("job", pa.string()),
        ("started_at", pa.string()),
        ("finished_at", pa.string()),
        ("benchmark", pa.string()),
        ("model", pa.string()),
        ("kind", pa.string()),
        ("status", pa.string()),
        ("error", pa.string()),
        ("n_records", pa.int64()),
        ("fingerprint", pa.string()),
        ("num_parameters", pa.int64()),
        ("load_seconds", pa.float64()),
        ("score_seconds", pa.float64()),
    ]
)
"""The columns of ``run_models`` (:func:`model_runs_rows`)."""
