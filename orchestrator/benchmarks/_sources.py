"""Helpers the benchmark loaders share: reading JSON / JSON-lines files as published, hashing them, hub rows.

A loader (``orchestrator/benchmarks/<name>.py``) turns a benchmark's own files into the example table every
scorer takes: ``prompt`` (text, or a list of ``{role, content}`` messages), ``chosen`` and ``rejected`` (lists of
text, in the source's order), ``subset``, ``id`` and, where the source shows the completions in an order,
``chosen_position`` (0 = shown first / response A, 1 = second / B), and where the loader keeps some, ``metadata``
(text keys to text values, e.g. PPE's battle models and category flags; written to the examples table).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pyarrow as pa

from orchestrator.errors import DataError

#: The example table a benchmark loader returns (``chosen_position`` only where the source has an order).
MESSAGE = pa.struct([pa.field("role", pa.string()), pa.field("content", pa.string())])


def looks_local(source: str) -> bool:
    """A path (existing, or written like one) rather than a hub dataset id."""
    return (
        source.startswith((".", "/", "~"))
        or source.endswith((".json", ".jsonl", ".parquet"))
        or (Path(source).expanduser().exists())
    )


def read_rows(path: Path) -> list[dict[str, Any]]:
    """A JSON file holding a list of objects, or JSON lines (one object per line), as published."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"{path}: cannot read: {exc}") from None
    stripped = text.lstrip()
    if stripped.startswith("["):
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise DataError(f"{path}: invalid JSON at line {exc.lineno}: {exc.msg}") from None
        rows = data
    else:
        rows = []
        for lineno, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError as exc:
                raise DataError(f"{path}:{lineno}: invalid JSON line: {exc.msg}") from None
    for i, row in enumerate(rows):
        if not isinstance(row, dict):
            raise DataError(f"{path}: row {i}: expected a JSON object, found {type(row).__name__}")
    return rows


def sha256_files(files: list[Path]) -> str:
    digest = hashlib.sha256()
    for file in files:
        digest.update(file.as_posix().encode() + b"\0")
        with file.open("rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                digest.update(block)
    return "sha256:" + digest.hexdigest()


def hub_rows(
    source: str, split: str, revision: str | None, name: str | None = None
) -> tuple[list[dict], str]:
    """A hub dataset split as Python rows, with its fingerprint (needs ``datasets`` and the hub)."""
    from orchestrator._lazy import require

    datasets = require("datasets")
    config = "" if name is None else f"config {name!r}, "
    try:
        ds = datasets.load_dataset(source, name, split=split, revision=revision)
    except Exception as exc:  # hub/network/offline errors come in many types
        raise DataError(
            f"{source}: cannot load hub dataset ({config}split {split!r}): {exc}. "
            "Offline? Point `source` at a local copy of the benchmark's files."
        ) from None
    return ds.to_list(), f"hub:{source}@{revision or 'main'}:{ds._fingerprint}"


def text_list(value: Any, where: str, column: str, n: int | None = None) -> list[str]:
    """A list of strings (exactly ``n`` of them when given), else a DataError naming the row."""
    if not isinstance(value, list) or not all(isinstance(x, str) for x in value):
        raise DataError(f"{where}: {column!r} must be a list of text, found {type(value).__name__}")
    if n is not None and len(value) != n:
        raise DataError(f"{where}: {column!r} must hold {n} completions, found {len(value)}")
    return value


def messages(value: Any, where: str, column: str) -> list[dict[str, str]]:
    """A conversation as ``{role, content}`` messages (extra keys such as RMB's ``language`` dropped)."""
    if isinstance(value, str):
        return [{"role": "user", "content": value}]
    if not isinstance(value, list) or not value:
        raise DataError(f"{where}: {column!r} must be a non-empty list of messages")
    out = []
    for i, m in enumerate(value):
        if (
            not isinstance(m, dict)
            or not isinstance(m.get("role"), str)
            or not isinstance(m.get("content"), str)
        ):
            raise DataError(f"{where}: {column}[{i}] must be a message with text 'role' and 'content'")
        out.append({"role": m["role"], "content": m["content"]})
    return out


def example_table(rows: list[dict[str, Any]], where: str) -> pa.Table:
    """The loader's rows as the example table: prompt text or messages; completions as text where every row is a
    pair of texts (pairwise judges take those), else as lists of text."""
    if not rows:
        raise DataError(f"{where}: no examples")
    prompts = [r["prompt"] for r in rows]
    if any(isinstance(p, list) for p in prompts):
        prompt = pa.array(
            [p if isinstance(p, list) else [{"role": "user", "content": p}] for p in prompts],
            pa.list_(MESSAGE),
        )
    else:
        prompt = pa.array(prompts, pa.string())
    pairs = all(isinstance(r["chosen"], str) and isinstance(r["rejected"], str) for r in rows)
    completions = pa.string() if pairs else pa.list_(pa.string())
    cols: dict[str, pa.Array] = {
        "prompt": prompt,
        "chosen": pa.array([r["chosen"] for r in rows], completions),
        "rejected": pa.array([r["rejected"] for r in rows], completions),
        "subset": pa.array([r["subset"] for r in rows], pa.string()),
        "id": pa.array([str(r["id"]) for r in rows], pa.string()),
    }
    if "chosen_position" in rows[0]:
        cols["chosen_position"] = pa.array([r["chosen_position"] for r in rows], pa.int8())
    if "metadata" in rows[0]:
        cols["metadata"] = pa.array(
            [None if r["metadata"] is None else list(r["metadata"].items()) for r in rows],
            pa.map_(pa.string(), pa.string()),
        )
    return pa.table(cols)
