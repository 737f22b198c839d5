"""Family templates as defaults, vLLM refusing family adapters, multi-label records, the DPO reference profile and
multi-GPU placement of native-head models (CPU)."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from tests.conftest import FIXTURES

REPLICAS = FIXTURES / "reference" / "adapters" / "replicas"


def _without_template(src, dest):
    """A copy of a model directory whose tokenizer has no chat template."""
    shutil.copytree(src, dest)
    (dest / "chat_template.jinja").unlink(missing_ok=True)
    cfg_file = dest / "tokenizer_config.json"
    cfg = json.loads(cfg_file.read_text())
    cfg.pop("chat_template", None)
    cfg_file.write_text(json.dumps(cfg))
    return dest


def _pairs(filtered_path, n=8):
    import pyarrow.parquet as pq

    rows = pq.read_table(filtered_path).slice(0, n).to_pylist()
    return [r["prompt"] for r in rows], [r["chosen"] for r in rows], [r["rejected"] for r in rows]


# ------------------------------------------------------------------ family templates as defaults


def test_family_template_is_used_when_the_tokenizer_has_none(tmp_path, tiny_models, filtered_path):
    """A DeBERTa OpenAssistant RM (here a tiny classifier laid out under its hub id, its tokenizer without a
    template) is formatted with `raw`, as the reference's eval config runs it: scores equal the plain classifier
    with chat_template: raw, and differ from the `tulu` default."""
    from orchestrator.config import model_spec
    from orchestrator.scoring import make_scorer
    from orchestrator.scoring.named_templates import named_template

    path = _without_template(
        tiny_models["tiny-rm"], tmp_path / "OpenAssistant" / "reward-model-deberta-v3-large-v2"
    )
    pairs = _pairs(filtered_path)
    family = make_scorer(model_spec(name="oa", path=str(path)))
    assert family.adapter.name == "oasst-deberta" and family.tokenizer.chat_template == named_template("raw")
    raw = make_scorer(model_spec(name="raw", path=str(path), adapter="classifier", chat_template="raw"))
    tulu = make_scorer(model_spec(name="tulu", path=str(path), adapter="classifier"))
    assert tulu.tokenizer.chat_template == named_template("tulu")
    a, b, c = (s.pair_columns(*pairs) for s in (family, raw, tulu))
    np.testing.assert_allclose(a["score_chosen"], b["score_chosen"], atol=1e-5, rtol=0)
    np.testing.assert_allclose(a["score_rejected"], b["score_rejected"], atol=1e-5, rtol=0)
    assert not np.allclose(a["score_chosen"], c["score_chosen"], atol=1e-3)


@pytest.mark.parametrize(
    ("hub_id", "template"),
    [("openbmb/UltraRM-13b", "openbmb"), ("PKU-Alignment/beaver-7b-v1.0-reward", "pku-align")],
)
def test_native_families_take_their_template(tmp_path, hub_id, template):
    from orchestrator.config import model_spec
    from orchestrator.scoring import make_scorer
    from orchestrator.scoring.named_templates import named_template

    path = _without_template(REPLICAS / hub_id, tmp_path / hub_id)
    scorer = make_scorer(model_spec(name="m", path=str(path)))
    assert scorer.tokenizer.chat_template == named_template(template)


# ------------------------------------------------------------------ vLLM refuses family adapters


def test_vllm_backend_refuses_family_adapters(tmp_path):
    """backend: vllm serves the plain classifier only: a named family adapter or the reference profile is a
    config error, an `auto` pick of a family is a preflight error naming the adapter."""
    from pydantic import ValidationError

    from orchestrator.config import model_spec

    with pytest.raises(ValidationError, match="adapter 'grm-sftreg' is not the plain sequence classifier"):
        model_spec(name="g", path="Ray2333/GRM-Gemma2-2B-sftreg", backend="vllm", adapter="grm-sftreg")
    with pytest.raises(ValidationError, match="profile: reference .* is for backend transformers"):
        model_spec(name="p", path="x/y", backend="vllm", profile="reference")
    with pytest.raises(ValidationError, match="profile: reference .* is for backend transformers"):
        model_spec(name="d", kind="dpo", path="x/y", ref_free_norm="sum", backend="vllm", profile="reference")
    by_hub = model_spec(name="s", path="Nexusflow/Starling-RM-34B", backend="vllm")
    assert "adapter 'starling' is not the plain sequence classifier" in by_hub.preflight()
    local = tmp_path / "model"
    shutil.copytree(REPLICAS / "openbmb" / "UltraRM-13b", local)  # no hub id: picked from the tensors
    assert "adapter 'ultrarm'" in model_spec(name="u", path=str(local), backend="vllm").preflight()
    assert model_spec(name="c", path="x/plain-rm", backend="vllm").preflight() is None
    assert model_spec(name="t", path=str(local)).preflight() is None  # transformers reads it


def test_vllm_scorer_refuses_family_adapters_before_loading():
    from orchestrator.config import model_spec
    from orchestrator.errors import ModelError
    from orchestrator.scoring.vllm_classifier import VllmClassifierScorer

    spec = model_spec(name="s", path="Nexusflow/Starling-RM-34B", backend="vllm")
    with pytest.raises(ModelError, match="adapter 'starling' is not the plain sequence classifier"):
        VllmClassifierScorer(spec)


# ------------------------------------------------------------------ multi-label records


def test_multi_label_records_keep_every_logit(tmp_path, filtered_path):
    """Records of a multi-label head keep every logit of both completions in judge_outputs (target, label index
    in `sample`, logit in `parsed`), and `correct` is the list comparison of exactly those lists."""
    import transformers

    from orchestrator.config import model_spec
    from orchestrator.results.records import make_table
    from orchestrator.scoring import make_scorer
    from orchestrator.tiny import _fill_weights, build_tokenizer

    out = tmp_path / "ml"
    tok = build_tokenizer(out)
    config = transformers.LlamaConfig(
        vocab_size=len(tok),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=1,
        num_attention_heads=4,
        num_key_value_heads=2,
        head_dim=8,
        bos_token_id=tok.bos_token_id,
        eos_token_id=tok.eos_token_id,
        pad_token_id=tok.eos_token_id,
        num_labels=3,
    )
    model = transformers.LlamaForSequenceClassification(config)
    _fill_weights(model, "multi-label-records")
    model.save_pretrained(str(out))
    scorer = make_scorer(model_spec(name="m", path=str(out), adapter="multi-label"))
    prompts, chosen, rejected = _pairs(filtered_path)
    cols = scorer.pair_columns(prompts, chosen, rejected)
    table = make_table(
        {
            "schema_version": [1] * len(prompts),
            "run_id": ["r"] * len(prompts),
            "benchmark": ["b"] * len(prompts),
            "model": ["m"] * len(prompts),
            "kind": ["classifier"] * len(prompts),
            "subset": ["s"] * len(prompts),
            "example_id": list(range(len(prompts))),
            "row_index": list(range(len(prompts))),
            "shard": [0] * len(prompts),
            **{k: v for k, v in cols.items() if k not in ("chosen", "rejected")},
        }
    )
    for i, outputs in enumerate(table.column("judge_outputs").to_pylist()):
        lists = {t: [o["parsed"] for o in outputs if o["target"] == t] for t in ("chosen", "rejected")}
        assert [o["sample"] for o in outputs] == [0, 1, 2, 0, 1, 2]
        assert (
            lists["chosen"][0] == cols["score_chosen"][i]
            and lists["rejected"][0] == cols["score_rejected"][i]
        )
        assert cols["correct"][i] == (lists["chosen"] > lists["rejected"])


# ------------------------------------------------------------------ DPO: profile reference


def test_dpo_reference_profile_on_cpu(tiny_models):
    """run_dpo.py's rule applies to kind dpo: an 8-bit policy on a CPU is an error naming the rule; an exempt
    (Llama-3 named) policy loads as the reference would on a CPU (float32: it passes no dtype there)."""
    from orchestrator.config import model_spec
    from orchestrator.errors import ModelError
    from orchestrator.scoring import make_scorer
    from orchestrator.scoring.dpo import dpo_reference_loading

    policy, ref = str(tiny_models["tiny-dpo"]), str(tiny_models["tiny-dpo-ref"])
    spec = model_spec(name="d", kind="dpo", path=policy, reference=ref, profile="reference")
    with pytest.raises(ModelError, match=r"8-bit \(run_dpo.py: 8-bit for every policy and reference\)"):
        make_scorer(spec)
    exempt = spec.model_copy(update={"name": "Llama-3-dpo", "path": policy})
    loading = dpo_reference_loading(exempt.model_copy(update={"path": "x/Llama-3-8B-dpo"}), "cpu")
    assert (loading.quantized, loading.dtype) == (False, "float32")
    assert (
        dpo_reference_loading(spec.model_copy(update={"path": "x/Llama-3-8B-dpo"}), "cuda").dtype == "float16"
    )
    assert "name contains 'Llama-3'" in loading.reason


def test_dpo_reference_profile_exempt_policy_scores(tmp_path, tiny_models, filtered_path):
    """An exempt policy (its directory named Llama-3-...) scores under profile reference exactly as under the
    default profile on a CPU (both float32), with the rule recorded."""
    from orchestrator.config import model_spec
    from orchestrator.scoring import make_scorer

    policy = tmp_path / "Llama-3-tiny-dpo"
    shutil.copytree(tiny_models["tiny-dpo"], policy)
    ref = str(tiny_models["tiny-dpo-ref"])
    pairs = _pairs(filtered_path, 4)
    a = make_scorer(model_spec(name="a", kind="dpo", path=str(policy), reference=ref, profile="reference"))
    b = make_scorer(model_spec(name="b", kind="dpo", path=str(policy), reference=ref))
    assert a.info.dtype == "float32" and "name contains 'Llama-3'" in a.info.extra["reference_loading"]
    np.testing.assert_array_equal(
        a.pair_columns(*pairs)["score_chosen"], b.pair_columns(*pairs)["score_chosen"]
    )
