"""perf/gpu_scoring.py: the ~100M configuration scored by Rayward equals a direct transformers
forward pass, and the script runs end to end (tiny, 8 pairs) printing its table."""

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.scoring.reference_forward import direct_text_scores

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "perf" / "gpu_scoring.py"


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("gpu_scoring", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_100m_config_matches_direct_forward(bench, filtered_path, tmp_path):
    import pyarrow.parquet as pq
    import torch

    from orchestrator.config import model_spec
    from orchestrator.scoring.classifier import ClassifierScorer

    torch.manual_seed(0)
    path = bench.build_model("100m", tmp_path / "100m", "float32")
    assert 90e6 < bench.non_embedding_params(path) + 32000 * 768 < 110e6  # ~100M parameters in all
    t = pq.read_table(filtered_path, columns=["prompt", "chosen", "rejected"]).to_pylist()
    by_len = sorted(range(len(t)), key=lambda i: len(t[i]["prompt"]) + len(t[i]["chosen"]))
    rows = [t[i] for i in (by_len[0], by_len[1], by_len[-1])]  # two short (doubled BOS kept), one truncated
    scorer = ClassifierScorer(model_spec(name="m100", path=str(path), max_length=96, batch_tokens=256))
    assert scorer.causal and scorer.info.num_parameters > 90e6
    got = scorer.score_pairs(
        [r["prompt"] for r in rows], [r["chosen"] for r in rows], [r["rejected"] for r in rows]
    )
    from orchestrator.scoring.formatting import format_conversations

    prompts = [r["prompt"] for r in rows] * 2
    rendered = format_conversations(
        scorer.tokenizer, prompts, [r["chosen"] for r in rows] + [r["rejected"] for r in rows]
    )
    want = direct_text_scores(path, rendered, 96)
    n = len(rows)
    np.testing.assert_allclose(got.score_chosen, want[:n], atol=1e-5, rtol=1e-4)
    np.testing.assert_allclose(got.score_rejected, want[n:], atol=1e-5, rtol=1e-4)
    assert got.tokens_chosen.max() == 96 and got.tokens_chosen.min() < 96  # truncated and untruncated


def test_gemma2_architecture_both_paths_agree(bench, filtered_path, tmp_path, monkeypatch):
    """The Gemma-2-2B configuration's code path, shrunk: both benchmark paths give the same scores."""
    import transformers

    small = dict(
        bench.CONFIGS["gemma2-2b"][1],
        vocab_size=2000,
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        head_dim=16,
        query_pre_attn_scalar=16,
    )
    monkeypatch.setitem(bench.CONFIGS, "gemma2-small", ("gemma2", small))
    path = bench.build_model("gemma2-small", tmp_path / "g2", "float32")
    tok = transformers.AutoTokenizer.from_pretrained(str(path))
    chosen, rejected = bench.load_texts(filtered_path, tok, 4)
    ours = bench.run_rayward(path, chosen + rejected, "cpu", 256, None, warm=True)
    ref = bench.run_reference(path, chosen + rejected, "cpu", 256)
    assert ours["tokens"] == ref["tokens"] and max(ours["tokens"]) == 256
    np.testing.assert_allclose(ours["scores"], ref["scores"], atol=1e-5, rtol=1e-4)
    assert ours["warm_seconds"] is not None


def test_script_smoke_prints_table(tmp_path):
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"}
    out = subprocess.run(
        [
            sys.executable,
            str(SCRIPT),
            "--device",
            "cpu",
            "--configs",
            "tiny",
            "--limit",
            "8",
            "--threads",
            "1",
            "--max-length",
            "512",
        ],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    lines = out.stdout.splitlines()
    assert any(line.startswith("| config | path | dtype | pairs/s | tokens/s") for line in lines)
    assert sum(line.startswith("| tiny |") for line in lines) == 2
    check = next(line for line in lines if line.startswith("- **tiny**"))
    assert "-> OK" in check and "same `correct` on 8/8 pairs" in check
