"""PPE (Preference Proxy Evaluations; Frick et al., arXiv 2410.14872, lmarena/PPE): what its two loaders share.

The published files are the hub datasets' Parquet shards (``data/<split>-*.parquet``); a local copy may be those
shards, or the same rows as ``.json`` / ``.jsonl``. A local path is a file, or a directory read recursively.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from orchestrator.benchmarks._sources import read_rows, sha256_files
from orchestrator.errors import DataError

DATA_SUFFIXES = (".parquet", ".json", ".jsonl")


def data_files(path: Path, what: str) -> list[Path]:
    """``path`` itself, or every data file below the directory ``path`` (name order)."""
    if not path.exists():
        raise DataError(f"{path}: {what} data not found")
    if path.is_file():
        return [path]
    files = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix in DATA_SUFFIXES)
    if not files:
        raise DataError(f"{path}: no {what} data files ({', '.join(DATA_SUFFIXES)})")
    return files


def file_rows(path: Path) -> list[dict[str, Any]]:
    """One data file's rows as published (Parquet, JSON or JSON lines)."""
    if path.suffix == ".parquet":
        import pyarrow.parquet as pq

        try:
            return pq.read_table(path).to_pylist()
        except Exception as exc:  # pyarrow raises several types for a damaged file
            raise DataError(f"{path}: cannot read Parquet: {exc}") from None
    return read_rows(path)


def local_rows(files: list[Path]) -> tuple[list[tuple[Path, int, dict[str, Any]]], str]:
    """Every row of ``files`` with its file and row number, and the files' fingerprint."""
    out = []
    for f in files:
        out += [(f, i, r) for i, r in enumerate(file_rows(f))]
    return out, sha256_files(files)


def text(row: dict[str, Any], key: str, at: str) -> str:
    value = row.get(key)
    if not isinstance(value, str):
        raise DataError(f"{at}: {key!r} must be text, found {type(value).__name__}")
    return value


def metadata(row: dict[str, Any], skip: frozenset[str]) -> dict[str, str]:
    """A row's metadata as text keys and values: every field not in ``skip`` (the texts and what the example
    itself holds), a nested object flattened to dotted keys (``category_tag.math_v0.1.math``); booleans as
    ``true`` / ``false``, numbers and lists as JSON, text as it is; null fields left out."""
    out: dict[str, str] = {}

    def put(key: str, value: Any) -> None:
        if value is None:
            return
        if isinstance(value, dict):
            for k, v in value.items():
                put(f"{key}.{k}", v)
        elif isinstance(value, str):
            out[key] = value
        else:
            out[key] = json.dumps(value, ensure_ascii=False, sort_keys=True)

    for key, value in row.items():
        if key not in skip:
            put(key, value)
    return out
