"""Loading and validating benchmark data into an Arrow table of examples.

Examples are keyed by ``row_index`` (position in the source): RewardBench's ``id``
is not unique in the real data.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from orchestrator.benchmarks import get_benchmark
from orchestrator.config import BenchmarkSpec
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
    text = path.read_text(encoding="utf-8")
    stripped = text.lstrip()
    try:
        if path.suffix == ".json" and stripped.startswith(("[", "{")):
            try:
                data = json.loads(text)
            except json.JSONDecodeError:
                data = None  # maybe JSON lines with a .json suffix
            if isinstance(data, list):
                return pa.Table.from_pylist(data)
            if isinstance(data, dict):
                return pa.Table.from_pydict(data)
        rows = []
        for lineno, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError as exc:
                raise DataError(f"{path}:{lineno}: invalid JSON line: {exc.msg}") from None
        return pa.Table.from_pylist(rows)
    except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
        raise DataError(f"{path}: cannot read as a table: {exc}") from None


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


def _check_schema(table: pa.Table, required: tuple[str, ...], text_columns: tuple[str, ...], where: str) -> None:
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
        col = table.column(column)
        if column == "prompt" and not pa.types.is_string(col.type) and not pa.types.is_large_string(col.type):
            # multi-turn prompts (lists of messages) are allowed for the prompt only
            if pa.types.is_list(col.type) or pa.types.is_large_list(col.type):
                continue
        if not (pa.types.is_string(col.type) or pa.types.is_large_string(col.type)):
            raise DataError(f"{where}: column {column!r} must hold text, found type {col.type}")


def load_examples(spec: BenchmarkSpec) -> Examples:
    """Load, validate and (optionally) filter a benchmark's examples."""
    bench = get_benchmark(spec.name)
    split = spec.split or bench.default_split
    if _looks_local(spec.source):
        table, fingerprint, _ = _load_local(spec.source, split)
    else:
        table, fingerprint = _load_hub(spec.source, split, spec.revision)
    where = spec.source
    _check_schema(table, bench.required_columns, bench.text_columns, where)

    subsets = table.column("subset").to_pylist()
    known = set(bench.subsets)
    for row, subset in enumerate(subsets):
        if subset not in known:
            raise DataError(f"{where}: row {row}: unknown subset {subset!r} for benchmark {bench.name!r}")
    if spec.subsets:
        unknown = [s for s in spec.subsets if s not in known]
        if unknown:
            raise DataError(f"benchmarks[{bench.name}].subsets: unknown subset(s) {unknown}")

    table = table.select(list(bench.required_columns)).append_column(
        "row_index", pa.array(range(table.num_rows), pa.int64())
    )
    table = table.set_column(table.schema.get_field_index("id"), "id", pc.cast(table.column("id"), pa.int64()))
    keep = _selected_rows(subsets, spec.subsets, spec.limit)
    if keep is not None:
        table = table.take(pa.array(keep, pa.int64()))
    logger.info("loaded %d examples of %s from %s", table.num_rows, bench.name, spec.source)
    return Examples(bench.name, spec.source, split, fingerprint, table)


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
