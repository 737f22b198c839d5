"""Default-path exactness beyond Llama: tiny Gemma-2 and Qwen2 classifiers against the reference, per example.

The fixtures are rewardbench 0.1.4's ``scripts/run_rm.py`` (transformers 4.51, float32) on the same replicas over
the first 8 rows of every v1 subset (``perf/reference/run_reference_replicas.sh``).
"""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pyarrow.parquet as pq
import pytest

from orchestrator.config import model_spec
from orchestrator.scoring.classifier import ClassifierScorer, load_tokenizer
from orchestrator.scoring.tokenizer_file import pipeline_differences
from orchestrator.tiny_replicas import build_tiny_replica
from tests.conftest import FIXTURES


@pytest.fixture(scope="module")
def replicas(tmp_path_factory):
    root = tmp_path_factory.mktemp("replicas")
    return {arch: build_tiny_replica(root / f"replica-{arch}", arch) for arch in ("gemma2", "qwen2")}


@pytest.mark.parametrize("arch", ["gemma2", "qwen2"])
def test_replica_matches_reference_per_example(replicas, filtered_path, arch):
    name = f"replica-{arch}"
    summary = json.loads((FIXTURES / "reference" / f"{name}.rewardbench-0.1.4.summary.json").read_text())
    weights = (replicas[arch] / "model.safetensors").read_bytes()
    assert hashlib.sha256(weights).hexdigest() == summary["weights_sha256"], (
        "replica build is not the reference's"
    )
    ref = pq.read_table(FIXTURES / "reference" / f"{name}.rewardbench-0.1.4.parquet").to_pydict()
    assert len(ref["row_index"]) == summary["rows"] == 184
    src = pq.read_table(filtered_path).take(ref["row_index"]).to_pydict()
    assert src["id"] == ref["id"] and src["subset"] == ref["subset"]
    scorer = ClassifierScorer(model_spec(name=name, path=str(replicas[arch])))
    got = scorer.score_pairs(src["prompt"], src["chosen"], src["rejected"])
    assert got.correct.astype(int).tolist() == ref["result"]
    np.testing.assert_allclose(got.score_chosen, ref["score_chosen"], atol=1e-4, rtol=0)
    np.testing.assert_allclose(got.score_rejected, ref["score_rejected"], atol=1e-4, rtol=0)


def test_tokenizer_runs_the_checkpoint_file(replicas):
    """transformers 5 picks Qwen2Tokenizer from model_type and rebuilds its pipeline; Rayward runs the file."""
    from transformers import AutoTokenizer

    path = replicas["qwen2"]
    auto = AutoTokenizer.from_pretrained(str(path))
    assert {"normalizer", "pre_tokenizer"} <= set(pipeline_differences(auto, path / "tokenizer.json"))
    ours = load_tokenizer(model_spec(name="q", path=str(path)))
    assert pipeline_differences(ours, path / "tokenizer.json") == []
    assert ours.truncation_side == "left"
    # a tokenizer that already runs its file is kept as loaded
    gemma = load_tokenizer(model_spec(name="g", path=str(replicas["gemma2"])))
    assert type(gemma) is type(AutoTokenizer.from_pretrained(str(replicas["gemma2"])))
