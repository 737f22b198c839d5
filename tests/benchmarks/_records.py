"""Write records of the new benchmarks into a real store (Parquet shards + a run manifest), as the runner does."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyarrow as pa

from orchestrator.results.records import METADATA, SCHEMA_VERSION, make_table, write_manifest, write_shard


def write_records(
    root: Path, run_id: str, benchmark: str, model: str, rows: list[dict[str, Any]], kind: str = "classifier"
) -> None:
    """rows: record fields (subset, and scores / judge outputs), and an example's ``metadata`` (a dict, written to
    the examples table as the loaders' metadata is); the rest is filled in."""
    n = len(rows)
    fields = sorted({k for r in rows for k in r} - {"metadata"})
    cols: dict[str, list[Any]] = {k: [r.get(k) for r in rows] for k in fields}
    if "correct" not in cols:
        cols["correct"] = [False] * n
    table = make_table(
        {
            "schema_version": [SCHEMA_VERSION] * n,
            "run_id": [run_id] * n,
            "benchmark": [benchmark] * n,
            "model": [model] * n,
            "kind": [kind] * n,
            "example_id": list(range(n)),
            "row_index": list(range(n)),
            "shard": [0] * n,
            **cols,
        }
    )
    if any("metadata" in r for r in rows):
        meta = [None if r.get("metadata") is None else list(r["metadata"].items()) for r in rows]
        table = table.append_column("metadata", pa.array(meta, METADATA))
    write_shard(root, table, benchmark=benchmark, model=model, run_id=run_id, shard=0)
    write_manifest(
        root,
        {
            "run_id": run_id,
            "job": "fixture",
            "started_at": "2026-01-01T00:00:00+00:00",
            "models": [
                {"model": model, "benchmark": benchmark, "kind": kind, "status": "ok", "n_records": n}
            ],
        },
    )
