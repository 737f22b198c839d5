"""SteamSHP (kind: pairwise) against the reference, per example, and end to end in a job.

Fixtures from ``perf/reference/run_reference_pair_families.sh``: a tiny random-weight ``T5ForConditionalGeneration``
replica (flan-t5's gated-GELU layout; a tiny SentencePiece ``T5TokenizerFast``; its output rows of ``A`` and ``B``
set so that the first generated token is usually one of them) saved as ``stanfordnlp/SteamSHP-flan-t5-large``, run
by the reference's run_rm.py (``--not_quantized --torch_dtype float32``) over the first 2 rows of every v1 subset.
The reference's SHPPipeline shows each pair in one order drawn by Python's unseeded ``random.shuffle``; the recipe
runs it seeded (``random.seed(0)``: the drawn orders are in the fixture) and with the order fixed to AB and to BA,
recording the first decoding step's logits, the generated token and its decoded text.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys

import numpy as np
import pyarrow.parquet as pq
import pytest
import yaml

from tests.conftest import FIXTURES, REPO

ADAPTERS = FIXTURES / "reference" / "adapters"
REPLICA = ADAPTERS / "replicas" / "stanfordnlp" / "SteamSHP-flan-t5-large"


def _ref(order: str) -> dict:
    return pq.read_table(ADAPTERS / f"steamshp.{order}.rewardbench-0.1.4.parquet").to_pydict()


@pytest.fixture(scope="module")
def scored(filtered_path):
    from orchestrator.config import model_spec
    from orchestrator.scoring import make_scorer

    ref = _ref("seed0")
    data = pq.read_table(filtered_path).to_pylist()
    rows = [data[i] for i in ref["row_index"]]
    scorer = make_scorer(model_spec(name="shp", path=str(REPLICA), kind="pairwise"))
    cols = scorer.pair_columns(
        [r["prompt"] for r in rows], [r["chosen"] for r in rows], [r["rejected"] for r in rows]
    )
    return scorer, rows, cols


@pytest.mark.parametrize("order", ["AB", "BA"])
def test_steamshp_each_order_matches_reference(order, scored):
    from orchestrator.scoring.steamshp import shp_text

    scorer, rows, cols = scored
    assert scorer.adapter.name == "steamshp"
    ref = _ref(order)
    assert len(ref["row_index"]) == 46 and len(set(ref["subset"])) == 23 and set(ref["order"]) == {order}
    pairs = [(r["chosen"], r["rejected"]) if order == "AB" else (r["rejected"], r["chosen"]) for r in rows]
    seqs = scorer.encode([shp_text(r["prompt"], a, b, "row") for r, (a, b) in zip(rows, pairs)])
    assert [hashlib.sha1(json.dumps(s).encode()).hexdigest()[:16] for s in seqs] == ref["input_sha1"]
    k = 0 if order == "AB" else 2
    outs = [o[k : k + 2] for o in cols["judge_outputs"]]
    assert {o["order"] for pair in outs for o in pair} == {order}
    np.testing.assert_allclose([p[0]["parsed"] for p in outs], ref["logit_a"], atol=1e-4, rtol=0)
    np.testing.assert_allclose([p[1]["parsed"] for p in outs], ref["logit_b"], atol=1e-4, rtol=0)
    assert [p[0]["text"] for p in outs] == ref["decoded"]
    # the reference's verdict in this order: A said -> response A wins; anything else -> B wins
    wins = [(p[0]["text"] == "A") == (order == "AB") for p in outs]
    assert wins == [bool(x) for x in ref["result"]]
    # the replica exercises all three outputs: A, B and something else (which the reference counts for B)
    assert {"A", "B"} <= set(ref["decoded"]) and set(ref["decoded"]) - {"A", "B"}


def test_steamshp_matches_the_seeded_reference_run(scored):
    """The reference as it runs (one random order per pair, here seeded): its verdict is Rayward's verdict in the
    order it drew, for every example; Rayward's credit is the mean over both orders."""
    _, _, cols = scored
    ref = _ref("seed0")
    assert {"AB", "BA"} == set(ref["order"])
    verdict = {
        "AB": [o[0]["text"] == "A" for o in cols["judge_outputs"]],
        "BA": [o[2]["text"] != "A" for o in cols["judge_outputs"]],
    }
    assert [verdict[d][i] for i, d in enumerate(ref["order"])] == [bool(x) for x in ref["result"]]
    credit = (np.asarray(verdict["AB"], float) + np.asarray(verdict["BA"], float)) / 2
    np.testing.assert_array_equal(cols["score_chosen"], credit)
    np.testing.assert_array_equal(cols["judge_credit"], credit)
    np.testing.assert_array_equal(cols["correct"], credit == 1.0)
    assert cols["position_consistent"] == [bool(a == b) for a, b in zip(verdict["AB"], verdict["BA"])]
    assert list(cols["parse_failures"]) == [
        sum(o[k]["text"] not in ("A", "B") for k in (0, 2)) for o in cols["judge_outputs"]
    ]
    # the expected accuracy of the unseeded reference: the mean of the fixed-order runs' results
    expected = (np.asarray(_ref("AB")["result"]) + np.asarray(_ref("BA")["result"])) / 2
    np.testing.assert_array_equal(credit, expected)


def test_steamshp_job_end_to_end_credits_both_orders(tmp_path, filtered_path):
    from orchestrator.query.db import connect

    job = {
        "name": "shp",
        "benchmarks": [{"name": "reward-bench", "source": str(filtered_path), "limit": 2}],
        "models": [{"name": "shp", "path": str(REPLICA), "kind": "pairwise"}],
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
        "SELECT subset, judge_credit, points, len(judge_outputs) FROM record_points ORDER BY row_index"
    ).fetchall()
    ab, ba = _ref("AB"), _ref("BA")
    assert [r[0] for r in recs] == ab["subset"]
    expected = [(a + b) / 2 for a, b in zip(ab["result"], ba["result"])]
    assert [r[1] for r in recs] == expected and [r[2] for r in recs] == expected
    assert all(r[3] == 4 for r in recs)
    acc = dict(con.execute("SELECT subset, accuracy FROM subset_accuracy WHERE model = 'shp'").fetchall())
    for subset in set(ab["subset"]):
        want = np.mean([x for x, s in zip(expected, ab["subset"]) if s == subset])
        assert abs(acc[subset] - want) < 1e-9, subset


def test_generation_config_that_changes_the_greedy_step_is_an_error(tmp_path):
    import shutil

    from orchestrator.config import model_spec
    from orchestrator.errors import ModelError
    from orchestrator.scoring import make_scorer

    local = tmp_path / "stanfordnlp" / "SteamSHP-flan-t5-large"
    shutil.copytree(REPLICA, local)
    gen = json.loads((local / "generation_config.json").read_text())
    (local / "generation_config.json").write_text(json.dumps({**gen, "do_sample": True}))
    with pytest.raises(ModelError, match="do_sample/num_beams"):
        make_scorer(model_spec(name="s", path=str(local), kind="pairwise"))
