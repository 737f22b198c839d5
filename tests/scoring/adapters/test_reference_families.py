"""Each adapter family against the reference implementation, per example.

Fixtures from ``perf/reference/run_reference_adapters.sh``: a tiny random-weight replica of each family
built with rewardbench 0.1.4's own model class (saved under the hub id the reference keys it by), scored by the
reference's ``run_rm.py --not_quantized --torch_dtype float32`` over the first 2 rows of every v1 subset. Rayward
scores the same directory with ``adapter: auto`` (picked from the hub id in the path) and must agree on every
``correct`` with scores within 1e-4.
"""

from __future__ import annotations

import json

import numpy as np
import pyarrow.parquet as pq
import pytest

from tests.conftest import FIXTURES

ADAPTERS = FIXTURES / "reference" / "adapters"

# fixture stem -> (adapter auto must pick, dtype for Rayward, score tolerance)
CASES = {
    "grm-sftreg": ("grm-sftreg", "auto", 1e-4),
    "starling": ("starling", "auto", 1e-4),
    "ultrarm": ("ultrarm", "auto", 1e-4),
    "beaver-reward": ("beaver-reward", "auto", 1e-4),
    "beaver-cost": ("beaver-cost", "auto", 1e-4),
    # INF-ORM: the reference fixes bfloat16 for it whatever --torch_dtype says; the float32 run overrides that
    # one config entry in-process (the recipe), and `auto` runs the family's bfloat16 as the reference does
    "inf-orm.float32": ("inf-orm", "float32", 1e-4),
    "inf-orm": ("inf-orm", "auto", 2e-2),
    "oasst-pythia": ("oasst-pythia", "auto", 1e-4),
}


def _rows(filtered_path, fixture):
    data = pq.read_table(filtered_path).to_pylist()
    return [data[i] for i in fixture["row_index"]]


@pytest.mark.parametrize("stem", sorted(CASES))
def test_family_matches_reference_per_example(stem, filtered_path):
    from orchestrator.config import model_spec
    from orchestrator.scoring import make_scorer

    adapter, dtype, tol = CASES[stem]
    summary = json.loads((ADAPTERS / f"{stem}.rewardbench-0.1.4.summary.json").read_text())
    ref = pq.read_table(ADAPTERS / f"{stem}.rewardbench-0.1.4.parquet").to_pydict()
    assert len(ref["row_index"]) == 46 and len(set(ref["subset"])) == 23  # 2 rows x every v1 subset
    rows = _rows(filtered_path, ref)
    path = ADAPTERS / "replicas" / summary["hub_id"]
    spec = model_spec(name=stem.replace(".", "-"), path=str(path), dtype=dtype, batch_tokens=1024)
    scorer = make_scorer(spec)
    assert scorer.adapter.name == adapter
    cols = scorer.pair_columns(
        [r["prompt"] for r in rows], [r["chosen"] for r in rows], [r["rejected"] for r in rows]
    )
    np.testing.assert_array_equal(cols["correct"], np.asarray(ref["result"]) == 1)
    np.testing.assert_allclose(cols["score_chosen"], ref["score_chosen"], atol=tol, rtol=0)
    np.testing.assert_allclose(cols["score_rejected"], ref["score_rejected"], atol=tol, rtol=0)
    # the replica really has the family's head (not a one-label classifier the reference also could read)
    assert scorer.info.extra["adapter"] == adapter


def test_cost_model_is_negated(filtered_path):
    """beaver cost: the reference negates the end score; without the sign the same replica ranks the other way."""
    from orchestrator.config import model_spec
    from orchestrator.scoring.adapters import get_adapter
    from orchestrator.scoring.adapters.scorer import AdapterScorer

    ref = pq.read_table(ADAPTERS / "beaver-cost.rewardbench-0.1.4.parquet").to_pydict()
    rows = _rows(filtered_path, ref)[:6]
    path = ADAPTERS / "replicas" / "PKU-Alignment" / "beaver-7b-v1.0-cost"
    spec = model_spec(name="cost", path=str(path))
    cost = AdapterScorer(spec, adapter=get_adapter("beaver-cost"))
    reward = AdapterScorer(spec, adapter=get_adapter("beaver-reward"))
    args = ([r["prompt"] for r in rows], [r["chosen"] for r in rows])
    np.testing.assert_allclose(
        cost.score_completions(*args)[0], -reward.score_completions(*args)[0], rtol=1e-6
    )
    np.testing.assert_allclose(cost.score_completions(*args)[0], ref["score_chosen"][:6], atol=1e-4)
