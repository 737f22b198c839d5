"""Loading and validating benchmark data into an Arrow table of examples.

Examples are keyed by ``row_index`` (position in the source): RewardBench's ``id``
is not unique in the real data.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from orchestrator.benchmarks import Benchmark, get_benchmark
from orchestrator.config import BenchmarkSpec, ColumnMap
from orchestrator.errors import DataError

logger = logging.getLogger(__name__)

_LOCAL_SUFFIXES = (".parquet", ".json", ".jsonl")


@dataclass(frozen=True)
class Examples:
    """A validated benchmark: its rows plus where they came from."""

    benchmark: str
    source: str
    split: str
    fingerprint: str
    table: pa.Table  # row_index, subset, id, prompt, chosen, rejected

    def __len__(self) -> int:
        return self.table.num_rows


def _looks_local(source: str) -> bool:
    return (
        source.startswith((".", "/", "~"))
        or source.endswith(_LOCAL_SUFFIXES)
        or Path(source).expanduser().exists()
    )


def _read_json_file(path: Path) -> pa.Table:
    from orchestrator._text import read_utf8

    text = read_utf8(path, DataError, "benchmark data")
    stripped = text.lstrip()
    try:
        if path.suffix == ".json" and stripped.startswith(("[", "{")):
            try:
                data = json.loads(text)
            except json.JSONDecodeError:
                data = None  # maybe JSON lines with a .json suffix
            if isinstance(data, list):
                return pa.Table.from_pylist(_mixed_to_lists(data, where=str(path)))
            if isinstance(data, dict):
                return pa.Table.from_pydict(data)
        rows = []
        for lineno, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise DataError(f"{path}:{lineno}: invalid JSON line: {exc.msg}") from None
            if not isinstance(row, dict):
                raise DataError(
                    f"{path}:{lineno}: a JSON line must be an object of columns, got a {type(row).__name__}"
                )
            rows.append(row)
        return pa.Table.from_pylist(_mixed_to_lists(rows, where=str(path)))
    except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
        raise DataError(f"{path}: cannot read as a table: {exc}") from None


def _mixed_to_lists(rows: list, where: str) -> list:
    """JSON rows whose column mixes text and lists (single- and multi-turn prompts; one completion and best-of-N
    lists): text becomes a one-element list: ``{"role": "user", "content": text}`` where the lists hold messages,
    ``[text]`` where they hold text."""
    if not rows or not all(isinstance(r, dict) for r in rows):
        return rows
    keys = {k for r in rows for k in r}
    for key in keys:
        values = [r.get(key) for r in rows]
        lists = [v for v in values if isinstance(v, list)]
        if not lists or not any(isinstance(v, str) for v in values):
            continue
        messages = any(isinstance(x, dict) for v in lists for x in v)
        for r in rows:
            if isinstance(r.get(key), str):
                r[key] = [{"role": "user", "content": r[key]}] if messages else [r[key]]
    return rows


def _read_file(path: Path) -> pa.Table:
    if path.suffix == ".parquet":
        try:
            return pq.read_table(path)
        except (pa.ArrowInvalid, OSError) as exc:
            raise DataError(f"{path}: cannot read Parquet: {exc}") from None
    return _read_json_file(path)


def _files_in_dir(directory: Path, split: str) -> list[Path]:
    files = sorted(p for p in directory.rglob("*") if p.is_file() and p.suffix in _LOCAL_SUFFIXES)
    matching = [p for p in files if p.name.startswith(split)]
    chosen = matching or files
    if not chosen:
        raise DataError(f"{directory}: no .parquet/.json/.jsonl files found")
    return chosen


def _sha256_files(files: list[Path]) -> str:
    digest = hashlib.sha256()
    for file in files:
        with file.open("rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                digest.update(block)
    return "sha256:" + digest.hexdigest()


def _load_local(source: str, split: str) -> tuple[pa.Table, str, list[Path]]:
    path = Path(source).expanduser()
    if not path.exists():
        raise DataError(f"{source}: benchmark data not found")
    files = _files_in_dir(path, split) if path.is_dir() else [path]
    tables = [_read_file(f) for f in files]
    try:
        table = pa.concat_tables(tables, promote_options="default") if len(tables) > 1 else tables[0]
    except pa.ArrowInvalid as exc:
        raise DataError(f"{source}: files have incompatible schemas: {exc}") from None
    return table, _sha256_files(files), files


def _load_hub(source: str, split: str, revision: str | None) -> tuple[pa.Table, str]:
    from orchestrator._lazy import require

    datasets = require("datasets")
    try:
        ds = datasets.load_dataset(source, split=split, revision=revision)
    except Exception as exc:  # hub/network/offline errors come in many types
        raise DataError(
            f"{source}: cannot load hub dataset (split {split!r}): {exc}. "
            "Offline? Point `source` at a local .parquet/.json/.jsonl file or directory."
        ) from None
    return ds.data.table, f"hub:{source}@{revision or 'main'}:{ds._fingerprint}"


def _is_text(t: pa.DataType) -> bool:
    return pa.types.is_string(t) or pa.types.is_large_string(t)


def _is_list(t: pa.DataType) -> bool:
    return pa.types.is_list(t) or pa.types.is_large_list(t)


def _check_schema(
    table: pa.Table, required: tuple[str, ...], text_columns: tuple[str, ...], where: str, lists: str = "no"
) -> None:
    """Required columns present and non-null; prompt text or messages; completions text, or lists when ``lists``
    is ``"yes"`` (best-of-N) or ``"maybe"`` (custom)."""
    missing = [c for c in required if c not in table.column_names]
    if missing:
        raise DataError(
            f"{where}: missing column(s) {', '.join(repr(c) for c in missing)}; "
            f"found {', '.join(table.column_names)}"
        )
    for column in required:
        col = table.column(column)
        if col.null_count:
            row = pc.index(pc.is_null(col), True).as_py()
            raise DataError(f"{where}: column {column!r} is null at row {row}")
    for column in text_columns:
        t = table.column(column).type
        if column == "prompt":
            # multi-turn prompts (lists of messages) are allowed for the prompt
            if _is_text(t) or _is_list(t):
                continue
            raise DataError(f"{where}: column 'prompt' must hold text or a list of messages, found type {t}")
        if lists == "yes":
            ok = _is_list(t) and _is_text(t.value_type)
            want = "lists of text"
        elif lists == "maybe":
            ok = _is_text(t) or (_is_list(t) and (_is_text(t.value_type) or pa.types.is_null(t.value_type)))
            want = "text or lists of text"
        else:
            ok = _is_text(t)
            want = "text"
        if not ok:
            raise DataError(f"{where}: column {column!r} must hold {want}, found type {t}")


_SHARD_SUFFIX = re.compile(r"-\d{5}-of-\d{5}$")


def _split_name(path: Path) -> str:
    """``data/shp-00000-of-00001.parquet`` -> ``shp`` (the hub's file naming), ``shp.jsonl`` -> ``shp``."""
    return _SHARD_SUFFIX.sub("", path.stem)


def _with_subset(table: pa.Table, subset: str) -> pa.Table:
    if "subset" in table.column_names:  # pref-test-sets keep their own column as subsubset
        table = table.rename_columns(["subsubset" if c == "subset" else c for c in table.column_names])
    return table.append_column("subset", pa.array([subset] * table.num_rows, pa.string()))


def _load_by_split(source: str, revision: str | None, known: set[str]) -> tuple[pa.Table, str]:
    """One subset per split (hub) or per file (local directory); unknown splits are skipped."""
    parts: list[pa.Table] = []
    if _looks_local(source):
        path = Path(source).expanduser()
        if not path.exists():
            raise DataError(f"{source}: benchmark data not found")
        files = _files_in_dir(path, "") if path.is_dir() else [path]
        for f in files:
            name = _split_name(f)
            if name not in known:
                logger.warning("%s: split %r is not a subset of this benchmark; skipped", f, name)
                continue
            parts.append(_with_subset(_read_file(f), name))
        fingerprint = _sha256_files(files)
    else:
        from orchestrator._lazy import require

        datasets = require("datasets")
        try:
            dd = datasets.load_dataset(source, revision=revision)
        except Exception as exc:  # hub/network/offline errors come in many types
            raise DataError(
                f"{source}: cannot load hub dataset: {exc}. Offline? Point `source` at a local directory "
                "with one file per split."
            ) from None
        for name, ds in dd.items():
            if name in known:
                parts.append(_with_subset(ds.data.table, name))
        fingerprint = f"hub:{source}@{revision or 'main'}:" + ",".join(
            sorted(f"{k}={v._fingerprint}" for k, v in dd.items())
        )
    if not parts:
        raise DataError(f"{source}: no split named after a subset of this benchmark")
    parts = _unify_prompts(parts)
    try:
        return pa.concat_tables(parts, promote_options="permissive"), fingerprint
    except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
        raise DataError(f"{source}: splits have incompatible schemas: {exc}") from None


def _unify_prompts(parts: list[pa.Table]) -> list[pa.Table]:
    """Splits mixing text prompts and message-list prompts: a text prompt becomes one user message (the same
    conversation the scorer builds from text)."""
    kinds = {_is_list(t.column("prompt").type) for t in parts if "prompt" in t.column_names}
    if kinds != {True, False}:
        return parts
    out = []
    for t in parts:
        col = t.column("prompt")
        if not _is_list(col.type):
            messages = [None if v is None else [{"role": "user", "content": v}] for v in col.to_pylist()]
            t = t.set_column(t.column_names.index("prompt"), "prompt", pa.array(messages))
        out.append(t)
    return out


def _apply_columns(table: pa.Table, spec: BenchmarkSpec, where: str) -> pa.Table:
    """Custom data: rename the mapped columns; default subset ``default`` and id = row position."""
    mapping = spec.columns or ColumnMap()
    wanted = {"prompt": mapping.prompt, "chosen": mapping.chosen, "rejected": mapping.rejected}
    if mapping.subset:
        wanted["subset"] = mapping.subset
    if mapping.id:
        wanted["id"] = mapping.id
    missing = [f"{k} -> {v!r}" for k, v in wanted.items() if v not in table.column_names]
    if missing:
        raise DataError(
            f"{where}: column(s) named in `columns` not found: {', '.join(missing)}; "
            f"found {', '.join(table.column_names)}"
        )
    cols = {k: table.column(v) for k, v in wanted.items()}
    n = table.num_rows
    if "subset" not in cols:
        cols["subset"] = pa.array(["default"] * n, pa.string())
    else:
        cols["subset"] = pc.cast(cols["subset"], pa.string())
    if "id" not in cols:
        cols["id"] = pa.array(range(n), pa.int64())
    return pa.table(cols)


def _as_lists(col: pa.ChunkedArray) -> pa.ChunkedArray:
    if _is_list(col.type):
        return pc.cast(col, pa.list_(pa.string()))
    return pa.chunked_array([pa.array([[v] for v in col.to_pylist()], pa.list_(pa.string()))])


def _check_best_of_n(table: pa.Table, bench, where: str) -> None:
    chosen = table.column("chosen").to_pylist()
    rejected = table.column("rejected").to_pylist()
    has_counts = "num_correct" in table.column_names
    counts = (
        (
            table.column("num_correct").to_pylist(),
            table.column("num_incorrect").to_pylist(),
            table.column("total_completions").to_pylist(),
        )
        if has_counts
        else None
    )
    subsets = table.column("subset").to_pylist()
    ids = table.column("id").to_pylist()
    for row, (c, r) in enumerate(zip(chosen, rejected)):
        if not c:
            raise DataError(
                f"{where}: row {row}: 'chosen' is an empty list (at least one chosen completion is needed)"
            )
        if any(x is None for x in c) or any(x is None for x in r):
            raise DataError(f"{where}: row {row}: a completion in 'chosen' or 'rejected' is null")
        if counts is not None:
            nc, ni, nt = counts[0][row], counts[1][row], counts[2][row]
            if (nc, ni, nt) != (len(c), len(r), len(c) + len(r)):
                raise DataError(
                    f"{where}: row {row}: num_correct/num_incorrect/total_completions = {nc}/{ni}/{nt} "
                    f"but chosen has {len(c)} and rejected {len(r)} completions"
                )
        if bench.rules.get(subsets[row]) == "ties" and not re.fullmatch(r"(ref|tied):\d+", str(ids[row])):
            raise DataError(f"{where}: row {row}: Ties id {ids[row]!r} must be 'ref:<n>' or 'tied:<n>'")


def _ids(col: pa.ChunkedArray) -> tuple[list[int | None], list[str]]:
    """Example ids as integers where they are integers (else None: the row position is used), and as text."""
    values = col.to_pylist()
    text = [str(v) for v in values]
    ints: list[int | None] = []
    for v in values:
        if isinstance(v, bool):
            ints.append(None)
        elif isinstance(v, int):
            ints.append(v)
        else:
            try:
                ints.append(int(str(v)))
            except ValueError:
                ints.append(None)
    return ints, text


Loader = Callable[[pa.Table, BenchmarkSpec, Benchmark, str], pa.Table]
"""Shapes and checks a benchmark's raw table: returns it with ``prompt, chosen, rejected, subset, id`` columns
(text pairs, or lists of text for best-of-N); errors name ``where`` (the source) and the row."""

_LOADERS: dict[str, Loader] = {}


def register_loader(name: str) -> Callable[[Loader], Loader]:
    """Register the loader that benchmarks with ``loader = name`` in ``benchmarks.csv`` use (a decorator)."""

    def add(fn: Loader) -> Loader:
        _LOADERS[name] = fn
        return fn

    return add


def loader(name: str) -> Loader:
    """The loader registered under ``name``."""
    try:
        return _LOADERS[name]
    except KeyError:
        raise DataError(
            f"no data loader {name!r} is registered (known: {', '.join(sorted(_LOADERS))})"
        ) from None


@register_loader("pairs")
def _pairs(table: pa.Table, spec: BenchmarkSpec, bench: Benchmark, where: str) -> pa.Table:
    _check_schema(table, bench.required_columns, bench.text_columns, where, lists="no")
    return table


@register_loader("best-of-n")
def _best_of_n(table: pa.Table, spec: BenchmarkSpec, bench: Benchmark, where: str) -> pa.Table:
    _check_schema(table, bench.required_columns, bench.text_columns, where, lists="yes")
    _check_best_of_n(table, bench, where)
    return table


@register_loader("custom")
def _custom(table: pa.Table, spec: BenchmarkSpec, bench: Benchmark, where: str) -> pa.Table:
    table = _apply_columns(table, spec, where)
    _check_schema(table, bench.required_columns + ("subset", "id"), bench.text_columns, where, lists="maybe")
    if _is_list(table.column("chosen").type) or _is_list(table.column("rejected").type):
        table = table.set_column(1, "chosen", _as_lists(table.column("chosen")))
        table = table.set_column(2, "rejected", _as_lists(table.column("rejected")))
        _check_best_of_n(table, bench, where)
    return table


def check_own_table(table: pa.Table, spec: BenchmarkSpec, bench: Benchmark, where: str) -> pa.Table:
    """The loader of a benchmark that reads its own files (``orchestrator.benchmarks.<module>.load``): the table
    it built holds text pairs or best-of-N lists; both are checked as the built-in loaders check them."""
    lists = "yes" if _is_list(table.column("chosen").type) else "no"
    _check_schema(table, bench.required_columns, bench.text_columns, where, lists=lists)
    if lists == "yes":
        _check_best_of_n(table, bench, where)
    return table


def load_examples(spec: BenchmarkSpec) -> Examples:
    """Load, validate and (optionally) filter a benchmark's examples.

    The table holds ``prompt, chosen, rejected, subset, id, row_index, source_id``: ``chosen``/``rejected`` are text
    for pairs and lists of text for best-of-N data; ``id`` is the integer id (the row position where the source id is
    not an integer, as RewardBench 2's Ties ``ref:3``); ``source_id`` is the source's id as text. Where the loader
    gives them, ``chosen_position`` and ``metadata`` (text keys to text values, kept in the examples table) follow.
    """
    bench = get_benchmark(spec.name)
    split = spec.split or bench.default_split
    source = spec.source or bench.default_source
    where = source
    known = set(bench.subsets)
    module = bench.loader_module
    if module is not None:
        if spec.subset_from_split:
            raise DataError(f"benchmarks[{bench.name}].subset_from_split: {bench.name} has its own loader")
        options = {key: getattr(spec, key) for key in getattr(module, "OPTIONS", ())}
        table, fingerprint = module.load(source, split, spec.revision, **options)
    elif spec.subset_from_split:
        table, fingerprint = _load_by_split(source, spec.revision, known)
    elif _looks_local(source):
        table, fingerprint, _ = _load_local(source, split)
    else:
        table, fingerprint = _load_hub(source, split, spec.revision)

    table = loader(bench.loader)(table, spec, bench, where)
    columns = ["prompt", "chosen", "rejected", "subset", "id"]

    subsets = table.column("subset").to_pylist()
    if not bench.open_subsets:
        for row, subset in enumerate(subsets):
            if subset not in known:
                raise DataError(f"{where}: row {row}: unknown subset {subset!r} for benchmark {bench.name!r}")
        if spec.subsets:
            unknown = [s for s in spec.subsets if s not in known]
            if unknown:
                raise DataError(f"benchmarks[{bench.name}].subsets: unknown subset(s) {unknown}")

    ints, text = _ids(table.column("id"))
    n = table.num_rows
    example_ids = [i if i is not None else row for row, i in enumerate(ints)]
    example_ids = _unique_keys(subsets, example_ids, spec, where)
    position = table.column("chosen_position") if "chosen_position" in table.column_names else None
    metadata = table.column("metadata") if "metadata" in table.column_names else None
    table = table.select(columns)
    table = table.set_column(4, "id", pa.array(example_ids, pa.int64()))
    table = table.append_column("row_index", pa.array(range(n), pa.int64()))
    table = table.append_column("source_id", pa.array(text, pa.string()))
    if position is not None:  # where the source showed the chosen completion (JudgeBench's A/B)
        table = table.append_column("chosen_position", position)
    # what the loader keeps of each example besides its texts (PPE's battle metadata)
    if metadata is not None:
        table = table.append_column("metadata", metadata)
    keep = _selected_rows(subsets, spec.subsets, spec.limit)
    if keep is not None:
        table = table.take(pa.array(keep, pa.int64()))
    _check_not_empty(table, spec, source, split, n)
    logger.info("loaded %d examples of %s from %s", table.num_rows, spec.record_name, source)
    return Examples(spec.record_name, source, split, fingerprint, table)


def _filters(spec: BenchmarkSpec) -> str:
    parts = []
    if spec.subsets:
        parts.append(f"subsets {spec.subsets}")
    if spec.limit is not None:
        parts.append(f"limit {spec.limit}")
    return ", ".join(parts) or "no filters"


def _check_not_empty(table: pa.Table, spec: BenchmarkSpec, source: str, split: str, n_source: int) -> None:
    """A benchmark that yields no rows (or a requested subset with none) is an error: an ``ok`` run with 0
    records would become the model's latest run."""
    where = f"benchmark {spec.record_name!r} (source {source}, split {split!r}, {_filters(spec)})"
    if table.num_rows == 0:
        raise DataError(f"{where}: no rows to evaluate ({n_source} rows in the source before the filters)")
    if spec.subsets:
        present = set(table.column("subset").to_pylist())
        empty = [s for s in spec.subsets if s not in present]
        if empty:
            raise DataError(f"{where}: no rows for subset(s) {empty}")


def _unique_keys(subsets: list[str], ids: list[int], spec: BenchmarkSpec, where: str) -> list[int]:
    """Examples are paired across runs (compare, diff, the score cache's reuse) by (subset, example id): a
    key used twice is an error, or with ``duplicate_ids: row_position`` every example is keyed by its row
    position, with a warning saying so."""
    first: dict[tuple[str, int], int] = {}
    dups: list[tuple[str, int, int, int]] = []
    for row, key in enumerate(zip(subsets, ids)):
        if key in first:
            dups.append((key[0], key[1], first[key], row))
        else:
            first[key] = row
    if not dups:
        return ids
    s, i, a, b = dups[0]
    text = (
        f"{where}: {len(dups)} duplicate example key(s) (subset, id); first: subset {s!r} id {i} at rows {a} "
        f"and {b}"
    )
    if getattr(spec, "duplicate_ids", "error") != "row_position":
        raise DataError(
            text
            + ". Give each example its own id, or set `duplicate_ids: row_position` on the benchmark to key "
            "examples by their row position"
        )
    logger.warning(
        "%s; `duplicate_ids: row_position`: every example of this benchmark is keyed by its row position "
        "instead of its id, so runs over a reordered or edited file no longer pair up in compare and diff",
        text,
    )
    return list(range(len(ids)))


def _selected_rows(subsets: list[str], wanted: list[str] | None, limit: int | None) -> list[int] | None:
    if not wanted and limit is None:
        return None
    wanted_set = set(wanted) if wanted else None
    seen: dict[str, int] = {}
    keep = []
    for row, subset in enumerate(subsets):
        if wanted_set is not None and subset not in wanted_set:
            continue
        if limit is not None and seen.get(subset, 0) >= limit:
            continue
        seen[subset] = seen.get(subset, 0) + 1
        keep.append(row)
    return keep
