"""kind: pairwise against the reference (RLHFlow pair-preference's SlicPairPMPipeline) and end to end in a job.

Fixture from ``perf/reference/run_reference_pairwise.sh``: a tiny causal Llama replica saved as
``RLHFlow/pair-preference-model-LLaMA3-8B`` run through rewardbench 0.1.4's pipeline over the first 2 rows of every
v1 subset, with the last position's A/B logits of both orders recorded by a forward hook.
"""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pyarrow.parquet as pq
import yaml

from tests.conftest import FIXTURES, REPO

ADAPTERS = FIXTURES / "reference" / "adapters"
REPLICA = ADAPTERS / "replicas" / "RLHFlow" / "pair-preference-model-LLaMA3-8B"


def test_rlhflow_pair_matches_reference_per_example(filtered_path):
    from orchestrator.config import model_spec
    from orchestrator.scoring import make_scorer

    ref = pq.read_table(ADAPTERS / "rlhflow-pair.rewardbench-0.1.4.parquet").to_pydict()
    assert len(ref["row_index"]) == 46 and len(set(ref["subset"])) == 23
    data = pq.read_table(filtered_path).to_pylist()
    rows = [data[i] for i in ref["row_index"]]
    scorer = make_scorer(model_spec(name="pair", path=str(REPLICA), kind="pairwise", batch_tokens=4096))
    assert scorer.adapter.name == "rlhflow-pair"
    cols = scorer.pair_columns(
        [r["prompt"] for r in rows], [r["chosen"] for r in rows], [r["rejected"] for r in rows]
    )
    raw = np.asarray(
        [[o["parsed"] for o in outs] for outs in cols["judge_outputs"]]
    )  # A,B (AB) then A,B (BA)
    expected = np.stack([ref["logit_a_ab"], ref["logit_b_ab"], ref["logit_a_ba"], ref["logit_b_ba"]], axis=1)
    np.testing.assert_allclose(raw, expected, atol=1e-4, rtol=0)
    np.testing.assert_array_equal(cols["correct"], np.asarray(ref["result"]) == 1)
    # the combination: P(chosen) per order from the softmax over A/B, averaged; score_rejected = 1 - it
    p_ab = 1 / (1 + np.exp(expected[:, 1] - expected[:, 0]))
    p_ba = 1 / (1 + np.exp(expected[:, 2] - expected[:, 3]))
    np.testing.assert_allclose(cols["score_chosen"], (p_ab + p_ba) / 2, atol=1e-5)
    np.testing.assert_allclose(cols["score_chosen"] + cols["score_rejected"], 1.0)
    assert [o["order"] for o in cols["judge_outputs"][0]] == ["AB", "AB", "BA", "BA"]


def test_pairwise_job_end_to_end_with_leaderboard(tmp_path, filtered_path):
    from orchestrator.query.db import connect

    job = {
        "name": "pairwise",
        "benchmarks": [{"name": "reward-bench", "source": str(filtered_path), "limit": 2}],
        "models": [{"name": "pair-rm", "path": str(REPLICA), "kind": "pairwise", "adapter": "rlhflow-pair"}],
        "resources": {"gpus_per_actor": 0},
        "results": str(tmp_path / "results"),
    }
    file = tmp_path / "job.yaml"
    file.write_text(yaml.safe_dump(job))
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "COLUMNS": "200"}
    run = subprocess.run(
        [sys.executable, "-m", "orchestrator.cli", "run", str(file)],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    con = connect(tmp_path / "results")
    recs = con.execute(
        "SELECT subset, example_id, correct, score_chosen, len(judge_outputs) FROM latest_records ORDER BY row_index"
    ).fetchall()
    ref = pq.read_table(ADAPTERS / "rlhflow-pair.rewardbench-0.1.4.parquet").to_pydict()
    assert [(r[0], r[1]) for r in recs] == list(zip(ref["subset"], ref["id"]))
    assert [r[2] for r in recs] == [bool(x) for x in ref["result"]]
    assert all(r[4] == 4 for r in recs)  # both orders' A and B logits kept
    board = subprocess.run(
        [
            sys.executable,
            "-m",
            "orchestrator.cli",
            "leaderboard",
            "--results",
            str(tmp_path / "results"),
            "--by",
            "subset",
            "--format",
            "json",
        ],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert board.returncode == 0, board.stderr
    import json

    rows = json.loads(board.stdout)
    assert [r["model"] for r in rows] == ["pair-rm"]
    for subset in set(ref["subset"]):
        acc = np.mean([x for x, s in zip(ref["result"], ref["subset"]) if s == subset])
        assert abs(rows[0][subset] - acc) < 1e-9, subset
