"""A Ray job with a tiny judge in both modes beside a classifier: garbage verdicts are recorded as parse failures,
the run succeeds, the leaderboard shows the families side by side, and a rerun gives the same records."""

from __future__ import annotations

from orchestrator.config import JobConfig
from orchestrator.query.db import connect, leaderboard, run_query
from orchestrator.runtime.driver import run_job


def _job(filtered_path, tiny_models, results, shard_size=3):
    judge = {"path": str(tiny_models["tiny-judge"]), "kind": "judge", "max_new_tokens": 4}
    return JobConfig.from_dict(
        {
            "name": "judge-test",
            "benchmarks": [
                {
                    "name": "reward-bench",
                    "source": str(filtered_path),
                    "limit": 1,
                    "subsets": ["alpacaeval-easy", "mt-bench-hard", "donotanswer", "hep-go", "math-prm"],
                }
            ],
            "models": [
                {"name": "tiny-rm", "path": str(tiny_models["tiny-rm"])},
                {
                    "name": "judge-rubric",
                    "mode": "rubric",
                    "samples": 2,
                    "temperature": 0.8,
                    "seed": 1,
                    **judge,
                },
                {"name": "judge-pair", "mode": "pairwise", "order": "both", **judge},
            ],
            "resources": {"gpus_per_actor": 0, "shard_size": shard_size},
            "results": str(results),
        }
    )


_COLS = "model, subset, example_id, score_chosen, score_rejected, correct, judge_outputs, parse_failures, position_consistent"


def test_judges_in_both_modes_on_ray(ray_cluster, filtered_path, tiny_models, tmp_path):
    first = run_job(_job(filtered_path, tiny_models, tmp_path / "a"))
    assert first.ok, [(o.model, o.error) for o in first.outcomes]
    con = connect(tmp_path / "a")
    rows = run_query(
        con, f"SELECT {_COLS}, scorer, kind FROM records WHERE kind = 'judge' ORDER BY model, subset"
    ).to_pylist()
    assert len(rows) == 10 and {r["scorer"] for r in rows} == {"transformers"}
    rubric = [r for r in rows if r["model"] == "judge-rubric"]
    pair = [r for r in rows if r["model"] == "judge-pair"]
    # every raw output stored with target/order/sample; the garbage is a parse failure, never a crash
    assert all(len(r["judge_outputs"]) == 4 and r["parse_failures"] == 4 for r in rubric)
    assert [(o["target"], o["sample"]) for o in rubric[0]["judge_outputs"]] == [
        ("chosen", 0),
        ("chosen", 1),
        ("rejected", 0),
        ("rejected", 1),
    ]
    assert all(r["score_chosen"] is None and r["correct"] is False for r in rubric)
    assert all([o["order"] for o in r["judge_outputs"]] == ["AB", "BA"] for r in pair)
    assert all(r["score_chosen"] == 0.5 and r["parse_failures"] == 2 for r in pair)
    # the leaderboard: families side by side, judges with their health columns
    board = {r["model"]: r for r in leaderboard(tmp_path / "a")}
    assert {board[m]["kind"] for m in board} == {"classifier", "judge"}
    assert board["judge-pair"]["score"] == 0.5 and board["judge-pair"]["parse_failure_rate"] == 1.0
    assert board["judge-rubric"]["score"] == 0.0 and board["judge-rubric"]["parse_failure_rate"] == 1.0
    assert board["judge-pair"]["position_consistency"] is None  # no order pair parsed both times
    assert board["tiny-rm"]["parse_failure_rate"] is None
    families = {r["kind"]: r for r in run_query(con, "SELECT * FROM family_leaderboard").to_pylist()}
    assert families["judge"]["n_models"] == 2 and families["classifier"]["n_models"] == 1
    # seeded: a rerun (another results store, other shards) repeats every output
    second = run_job(_job(filtered_path, tiny_models, tmp_path / "b", shard_size=2))
    assert second.ok
    again = run_query(
        connect(tmp_path / "b"), f"SELECT {_COLS} FROM records WHERE kind = 'judge' ORDER BY model, subset"
    ).to_pylist()
    assert again == [{k: r[k] for k in again[0]} for r in rows]
