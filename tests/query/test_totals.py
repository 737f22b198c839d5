"""Subset totals kept at compaction (docs/store.md, "Subset totals"): the leaderboard reads them instead of the
records, with exactly the numbers the records give; totals of other scoring SQL or data, of damaged files or of
a run compacted by the previous release are not used."""

from __future__ import annotations

import json

import pytest

from orchestrator.query.db import connect, scoring_key
from orchestrator.results.compact import compact_store
from orchestrator.results.records import (
    SCHEMA_VERSION,
    make_table,
    read_manifests,
    write_manifest,
    write_shard,
)
from tests._synth import assert_totals_exact, bools, write_run


def _v2(root, run_id, model, seed):
    """RewardBench 2 records: best-of-N with ties at the top (points 1/k) and a Ties subset."""
    import numpy as np

    rng = np.random.default_rng(seed)
    rows = []
    for subset in ("Factuality", "Focus", "Math"):
        for _ in range(12):
            top = float(rng.integers(0, 3))
            rows.append(
                {
                    "subset": subset,
                    "scores_chosen": [top, 0.0, 1.0],
                    "scores_rejected": [float(rng.integers(0, 3)), top, 0.5],
                    "source_id": None,
                }
            )
    for i in range(6):
        for kind in ("ref", "tied"):
            rows.append(
                {
                    "subset": "Ties",
                    "scores_chosen": [float(x) for x in rng.normal(1.0, 0.5, 3)],
                    "scores_rejected": [float(x) for x in rng.normal(0.0, 0.5, 2)],
                    "source_id": f"{kind}:{i}",
                }
            )
    n = len(rows)
    table = make_table(
        {
            "schema_version": [SCHEMA_VERSION] * n,
            "run_id": [run_id] * n,
            "benchmark": ["reward-bench-2"] * n,
            "model": [model] * n,
            "kind": ["classifier"] * n,
            "example_id": list(range(n)),
            "row_index": list(range(n)),
            "shard": [0] * n,
            "prompt": ["p"] * n,
            "chosen": ["c"] * n,
            "rejected": ["r"] * n,
            "correct": [False] * n,
            **{k: [r[k] for r in rows] for k in rows[0]},
        }
    )
    write_shard(root, table, benchmark="reward-bench-2", model=model, run_id=run_id, shard=0)
    return {
        "model": model,
        "benchmark": "reward-bench-2",
        "kind": "classifier",
        "status": "ok",
        "n_records": n,
    }


def _store(root):
    write_run(
        root,
        "20260101T000000Z-a",
        {"m1": {"alpacaeval-easy": bools(40, 100)}, "m2": {"hep-go": bools(3, 164)}},
    )
    # a later run over one other subset adds to m1's row; a failed model entry never counts
    write_run(
        root,
        "20260102T000000Z-b",
        {"m1": {"xstest-should-respond": bools(200, 250)}, "m2": {"hep-go": bools(100, 164)}},
        statuses={"m2": "failed"},
    )
    entries = [_v2(root, "20260103T000000Z-c", m, seed) for seed, m in enumerate(("m1", "m2", "m3"))]
    write_manifest(root, {"run_id": "20260103T000000Z-c", "job": "t", "status": "ok", "models": entries})
    return root


def test_totals_give_exactly_the_record_numbers(tmp_path):
    counts = assert_totals_exact(_store(tmp_path))
    assert counts["subset_accuracy"] == 3 + 3 * 4 and counts["leaderboard"] == 5


def test_totals_of_other_scoring_sql_or_a_damaged_file_are_not_used(tmp_path):
    root = _store(tmp_path)
    assert_totals_exact(root)
    board = connect(root).execute("SELECT * FROM subset_accuracy ORDER BY ALL").fetchall()
    manifests = {m["run_id"]: m for m in read_manifests(root)}
    assert all(m["totals_key"] == scoring_key() for m in manifests.values())
    # totals that do not match the records (as if computed by other SQL) are ignored unless the key is current
    doc = manifests["20260101T000000Z-a"]
    doc["models"][0]["subset_scores"]["alpacaeval-easy"]["accuracy"] = 0.99
    doc["totals_key"] = "computed-by-another-release"
    write_manifest(root, doc)
    con = connect(root)
    assert con.execute("SELECT * FROM subset_accuracy ORDER BY ALL").fetchall() == board
    (uncovered,) = con.execute("SELECT count(DISTINCT run_id) FROM _latest_uncovered").fetchone()
    assert uncovered == 1
    # `rayward compact` redoes the totals of runs compacted under another key
    assert [r.run_id for r in compact_store(root)] == ["20260101T000000Z-a"]
    assert connect(root).execute("SELECT * FROM subset_accuracy ORDER BY ALL").fetchall() == board
    # a record file cut short: its partition is read from what is left (never from the totals)
    part = next((root / "records/benchmark=reward-bench/model=m1/run=20260101T000000Z-a").glob("*.parquet"))
    part.write_bytes(part.read_bytes()[:200])
    con = connect(root)
    rows = con.execute(
        "SELECT model, subset FROM subset_accuracy WHERE benchmark = 'reward-bench'"
    ).fetchall()
    assert ("m1", "alpacaeval-easy") not in rows and ("m1", "xstest-should-respond") in rows


def test_a_store_compacted_by_the_previous_release_reads_and_gains_totals(tmp_path):
    root = _store(tmp_path)
    assert_totals_exact(root)
    board = connect(root).execute("SELECT * FROM leaderboard ORDER BY ALL").fetchall()
    for m in read_manifests(root):  # what the previous release's compaction wrote: no totals
        m.pop("totals_key")
        for e in m["models"]:
            for k in ("subset_scores", "judge_records", "part_files"):
                e.pop(k, None)
        write_manifest(root, m)
    con = connect(root)
    assert con.execute("SELECT count(*) FROM _subset_totals_latest").fetchone() == (0,)
    assert con.execute("SELECT * FROM leaderboard ORDER BY ALL").fetchall() == board
    assert len(compact_store(root)) == 3
    con = connect(root)
    assert con.execute("SELECT count(*) FROM _latest_uncovered").fetchone() == (0,)
    assert con.execute("SELECT * FROM leaderboard ORDER BY ALL").fetchall() == board


@pytest.mark.parametrize("field", ["subset_scores", "part_files"])
def test_manifest_totals_are_json(tmp_path, field):
    root = _store(tmp_path)
    assert_totals_exact(root)
    doc = json.loads((root / "runs/20260103T000000Z-c.json").read_text())
    assert all(field in e for e in doc["models"])
