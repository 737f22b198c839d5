"""Synthetic results stores with known answers (records + manifests, as the runner writes them)."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

from orchestrator.benchmarks import SUBSETS_CSV
from orchestrator.results.records import SCHEMA_VERSION, make_table, write_manifest, write_shard

SUBSET_ORDER = [r["subset"] for r in csv.DictReader(open(SUBSETS_CSV, encoding="utf-8"))]


def _row(subset: str, i: int, value: Any) -> dict[str, Any]:
    row = value if isinstance(value, dict) else {"correct": bool(value)}
    correct = row["correct"]
    return {
        "subset": subset,
        "example_id": row["example_id"] if "example_id" in row else SUBSET_ORDER.index(subset) * 10_000 + i,
        "prompt": row.get("prompt", f"{subset} prompt {i}"),
        "chosen": row.get("chosen", "good answer"),
        "rejected": row.get("rejected", "bad answer"),
        "score_chosen": row.get("score_chosen", 1.0 if correct else 0.0),
        "score_rejected": row.get("score_rejected", 0.5),
        "correct": correct,
        "tokens_chosen": row.get("tokens_chosen"),
        "tokens_rejected": row.get("tokens_rejected"),
    }


def write_run(
    root: str | Path,
    run_id: str,
    models: dict[str, dict[str, list[Any]]],
    *,
    kinds: dict[str, str] | None = None,
    params: dict[str, int] | None = None,
    statuses: dict[str, str] | None = None,
    benchmark: str = "reward-bench",
) -> None:
    """models: {model: {subset: [bool | row dict, ...]}}; a bool is whether the model got that example right."""
    kinds, params, statuses = kinds or {}, params or {}, statuses or {}
    entries = []
    for model, data in models.items():
        rows = [_row(subset, i, v) for subset, values in data.items() for i, v in enumerate(values)]
        n = len(rows)
        cols = {k: [r[k] for r in rows] for k in rows[0]}
        table = make_table(
            {
                "schema_version": [SCHEMA_VERSION] * n,
                "run_id": [run_id] * n,
                "benchmark": [benchmark] * n,
                "model": [model] * n,
                "kind": [kinds.get(model, "classifier")] * n,
                "row_index": list(range(n)),
                "shard": [0] * n,
                **cols,
            }
        )
        write_shard(root, table, benchmark=benchmark, model=model, run_id=run_id, shard=0)
        entries.append(
            {
                "model": model,
                "benchmark": benchmark,
                "kind": kinds.get(model, "classifier"),
                "status": statuses.get(model, "ok"),
                "n_records": n,
                "num_parameters": params.get(model),
            }
        )
    write_manifest(
        root,
        {"run_id": run_id, "job": "synthetic", "started_at": "2026-01-01T00:00:00+00:00", "models": entries},
    )


def bools(n_correct: int, n: int) -> list[bool]:
    """n examples, the first n_correct right."""
    return [True] * n_correct + [False] * (n - n_correct)


TOTALS_VIEWS = (
    "subset_accuracy",
    "section_scores",
    "subset_coverage",
    "overall_scores",
    "leaderboard",
    "judge_stats",
    "judge_reliability",
    "rule_sections",
    "benchmark_summary",
)
"""The views subset totals feed (directly or through the materialised tables)."""


def assert_totals_exact(root: str | Path) -> dict[str, int]:
    """Compact every run of ``root`` (manifests without a status are marked ``ok`` first, as a finished run's are),
    then check every view the subset totals feed has exactly the rows computed from the records alone (a
    connection that ignores the totals); returns the row counts per view. Fails unless the totals were used for
    every latest subset (no latest partition read from its records)."""
    import json

    from orchestrator.query.db import connect, connect_catalog
    from orchestrator.results.catalog import read_catalog
    from orchestrator.results.compact import compact_store

    for path in Path(root, "runs").glob("*.json"):
        doc = json.loads(path.read_text())
        if "status" not in doc:
            doc["status"] = "ok"
            write_manifest(root, doc)
    assert all(r.status == "compacted" for r in compact_store(root))
    with_totals, from_records = connect(root), connect_catalog(read_catalog(root), totals=False)
    # from the manifests alone where no latest partition needs records
    scores_only = connect(root, records=False)
    counts = {}
    try:
        (uncovered,) = with_totals.execute("SELECT count(*) FROM _latest_uncovered").fetchone()
        (totals,) = with_totals.execute("SELECT count(*) FROM _subset_totals_latest").fetchone()
        assert uncovered == 0 and totals > 0, (uncovered, totals)
        (none,) = from_records.execute("SELECT count(*) FROM _subset_totals_latest").fetchone()
        assert none == 0
        for view in TOTALS_VIEWS:
            query = f'SELECT * FROM "{view}" ORDER BY ALL'
            got = with_totals.execute(query).fetchall()
            want = from_records.execute(query).fetchall()
            assert got == want, (view, got, want)
            assert scores_only.execute(query).fetchall() == got, view
            describe = f'DESCRIBE "{view}"'
            assert scores_only.execute(describe).fetchall() == with_totals.execute(describe).fetchall(), view
            counts[view] = len(got)
    finally:
        with_totals.close()
        from_records.close()
        scores_only.close()
    return counts
