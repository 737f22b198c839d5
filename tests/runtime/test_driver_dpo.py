"""kind dpo through the Ray driver: a policy/reference pair and a SPIN chain, records, and the iteration view."""

import numpy as np
import pytest

from orchestrator.config import JobConfig
from orchestrator.query.db import connect, run_query
from orchestrator.runtime.driver import run_job

SUBSETS = ["llmbar-adver-neighbor", "llmbar-adver-GPTOut"]


def test_dpo_and_spin_chain_run(ray_cluster, filtered_path, tiny_models, tmp_path):
    spin = [str(tiny_models[f"tiny-spin-{t}"]) for t in range(4)]
    job = JobConfig.from_dict(
        {
            "name": "dpo-test",
            "benchmarks": [
                {"name": "reward-bench", "source": str(filtered_path), "subsets": SUBSETS, "limit": 2}
            ],
            "models": [
                {
                    "name": "tiny-dpo",
                    "path": str(tiny_models["tiny-dpo"]),
                    "kind": "dpo",
                    "reference": str(tiny_models["tiny-dpo-ref"]),
                },
                {"name": "spin", "kind": "dpo", "iterations": spin, "beta": 0.5},
            ],
            "resources": {"gpus_per_actor": 0, "shard_size": 3},
            "results": str(tmp_path / "results"),
        }
    )
    res = run_job(job)
    assert res.ok, [(o.model, o.error) for o in res.outcomes]
    assert sorted(o.model for o in res.outcomes) == ["spin@1", "spin@2", "spin@3", "tiny-dpo"]
    con = connect(tmp_path / "results")
    rows = run_query(
        con,
        """
        SELECT model, kind, scorer, iteration, reference, beta, row_index, score_chosen, score_rejected, correct,
               logp_chosen, logp_rejected, ref_logp_chosen, ref_logp_rejected,
               completion_tokens_chosen, completion_tokens_rejected, tokens_chosen
        FROM latest_records ORDER BY model, row_index""",
    ).to_pylist()
    assert len(rows) == 4 * 4
    for r in rows:
        assert r["kind"] == "dpo" and r["scorer"] == "transformers"
        assert r["score_chosen"] == pytest.approx(r["beta"] * (r["logp_chosen"] - r["ref_logp_chosen"]))
        assert r["score_rejected"] == pytest.approx(r["beta"] * (r["logp_rejected"] - r["ref_logp_rejected"]))
        assert r["correct"] == (r["score_chosen"] > r["score_rejected"])
        assert 0 < r["completion_tokens_chosen"] < r["tokens_chosen"]
    by = {(r["model"], r["row_index"]): r for r in rows}
    for t in (1, 2, 3):
        mine = [r for r in rows if r["model"] == f"spin@{t}"]
        assert {(r["iteration"], r["reference"], r["beta"]) for r in mine} == {(t, spin[t - 1], 0.5)}
    for (model, row), r in by.items():
        if model in ("spin@2", "spin@3"):
            # the reference of iteration t is the policy of iteration t-1: same model, same token ids
            prev = by[(f"spin@{int(model[-1]) - 1}", row)]
            assert r["ref_logp_chosen"] == pytest.approx(prev["logp_chosen"], rel=1e-6)
    dpo = [r for r in rows if r["model"] == "tiny-dpo"]
    assert {(r["iteration"], r["beta"], r["reference"]) for r in dpo} == {
        (None, 1.0, str(tiny_models["tiny-dpo-ref"]))
    }

    # the four sums recompute any normalisation in SQL, e.g. the per-token average log-ratio
    avg = run_query(
        con,
        """
        SELECT avg(((logp_chosen - ref_logp_chosen) / completion_tokens_chosen
                    > (logp_rejected - ref_logp_rejected) / completion_tokens_rejected)::INT) AS acc
        FROM latest_records WHERE model = 'tiny-dpo'""",
    ).to_pylist()[0]["acc"]
    assert 0.0 <= avg <= 1.0

    progress = run_query(con, "SELECT * FROM iteration_progress ORDER BY iteration").to_pylist()
    assert [(p["chain"], p["iteration"], p["model"], p["previous_model"]) for p in progress] == [
        ("spin", 1, "spin@1", None),
        ("spin", 2, "spin@2", "spin@1"),
        ("spin", 3, "spin@3", "spin@2"),
    ]
    for p in progress:
        mine = [r for r in rows if r["model"] == p["model"]]
        assert p["n"] == 4 and p["accuracy"] == pytest.approx(np.mean([r["correct"] for r in mine]))
        assert p["reference"] == spin[p["iteration"] - 1] and p["beta"] == 0.5
        assert p["mean_margin"] == pytest.approx(
            np.mean([r["score_chosen"] - r["score_rejected"] for r in mine])
        )
    assert progress[0]["delta_accuracy"] is None
    assert progress[2]["delta_accuracy"] == pytest.approx(progress[2]["accuracy"] - progress[1]["accuracy"])
    assert progress[1]["delta_score"] == pytest.approx(progress[1]["score"] - progress[0]["score"])
    from orchestrator.query.analyses import analyze

    shown = analyze(con, "iterations")  # rayward analyze iterations
    assert [(r["model"], r["accuracy"]) for r in shown] == [(p["model"], p["accuracy"]) for p in progress]
    board = {r["model"] for r in run_query(con, "SELECT model FROM leaderboard").to_pylist()}
    assert board == {"tiny-dpo", "spin@1", "spin@2", "spin@3"}
