"""The cross-benchmark summary (`rayward leaderboard --all`): overall scores and ranks per benchmark, and
Kendall's tau-b between benchmarks, hand-computed (ties included) on a real store."""

import json
import math

import pytest
from typer.testing import CliRunner

from orchestrator.cli import app
from orchestrator.query.summary import summary
from tests.benchmarks._records import write_records

# model -> right answers out of 10 on each benchmark: the overall score is that fraction on all three
RIGHT = {
    "rmb": {"m1": 9, "m2": 8, "m3": 7, "m4": 6},
    "judgebench": {"m1": 6, "m2": 9, "m3": 7, "m4": 5},
    "rm-bench": {"m1": 5, "m2": 5, "m3": 4, "m4": 3},
}


def _store(root):
    for model in ("m1", "m2", "m3", "m4"):
        k = RIGHT["rmb"][model]
        write_records(
            root,
            f"rmb-{model}",
            "rmb",
            model,
            [
                {
                    "subset": "Pairwise_set/Harmlessness/S1",
                    "scores_chosen": [1.0 if i < k else 0.0],
                    "scores_rejected": [0.5],
                }
                for i in range(10)
            ],
        )
        k = RIGHT["judgebench"][model]
        write_records(
            root,
            f"jb-{model}",
            "judgebench",
            model,
            [
                {
                    "subset": "livecodebench",
                    "score_chosen": 1.0 if i < k else 0.0,
                    "score_rejected": 0.5,
                    "chosen_position": 0,
                }
                for i in range(10)
            ],
        )
        k = RIGHT["rm-bench"][model]
        write_records(
            root,
            f"rmbench-{model}",
            "rm-bench",
            model,
            [
                {"subset": "chat", "scores_chosen": [1.0 if i < k else 0.0] * 3, "scores_rejected": [0.5] * 3}
                for i in range(10)
            ],
        )
    return root


def test_scores_ranks_and_kendall_tau(tmp_path):
    s = summary(_store(tmp_path))
    assert s.benchmarks == ["judgebench", "rm-bench", "rmb"]
    rows = {r["model"]: r for r in s.rows}
    for bench, right in RIGHT.items():
        for model, k in right.items():
            assert rows[model][bench] == pytest.approx(k / 10)
    assert [rows[m]["rank rm-bench"] for m in ("m1", "m2", "m3", "m4")] == [
        1,
        1,
        3,
        4,
    ]  # m1 = m2 share rank 1
    assert [rows[m]["rank judgebench"] for m in ("m1", "m2", "m3", "m4")] == [3, 1, 2, 4]
    assert rows["m1"]["mean_rank"] == pytest.approx((3 + 1 + 1) / 3) and rows["m1"]["complete rmb"] is False
    tau = {(a["benchmark_a"], a["benchmark_b"]): a for a in s.agreement}
    # judgebench vs rmb: model pairs (1,2) -1, (1,3) -1, (1,4) +1, (2,3) +1, (2,4) +1, (3,4) +1 -> 2/6
    assert tau[("judgebench", "rmb")]["kendall_tau"] == pytest.approx(1 / 3)
    # rm-bench ties m1 = m2: that pair counts on neither side; rmb agrees on the other 5 -> 5 / sqrt(6 * 5)
    assert tau[("rm-bench", "rmb")]["kendall_tau"] == pytest.approx(5 / math.sqrt(30))
    # judgebench vs rm-bench: (1,2) 0, (1,3) -1, (1,4) +1, (2,3) +1, (2,4) +1, (3,4) +1 -> 3 / sqrt(6 * 5)
    assert tau[("judgebench", "rm-bench")]["kendall_tau"] == pytest.approx(3 / math.sqrt(30))
    assert all(a["n_models"] == 4 and a["n_incomplete"] == 4 for a in s.agreement)


def test_cli_all(tmp_path):
    _store(tmp_path)
    out = CliRunner().invoke(app, ["leaderboard", "--all", "--results", str(tmp_path), "--format", "json"])
    assert out.exit_code == 0, out.output
    data = json.loads(out.output)
    assert data["benchmarks"] == ["judgebench", "rm-bench", "rmb"] and len(data["models"]) == 4
    assert len(data["kendall_tau"]) == 3
    table = CliRunner().invoke(
        app, ["leaderboard", "--all", "--results", str(tmp_path)], env={"COLUMNS": "200"}
    )
    assert table.exit_code == 0 and "90.00 *" in table.output and "Kendall" in table.output


def test_compacted_subset_totals_give_the_same_rule_scores(tmp_path):
    """RM-Bench (rule sections), JudgeBench and RMB (rule points) from compaction's totals: the same rows."""
    from tests._synth import assert_totals_exact

    counts = assert_totals_exact(_store(tmp_path))
    assert counts["rule_sections"] > 0 and counts["benchmark_summary"] == 12
