"""Adapter selection, head checks, the multi-label rule and the reference loading profile (CPU)."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from tests.conftest import FIXTURES

REPLICAS = FIXTURES / "reference" / "adapters" / "replicas"


def _copy(hub_id: str, dest):
    """A replica copied to a path that names no hub id (so `auto` must look inside)."""
    out = dest / "some-local-model"
    shutil.copytree(REPLICAS / hub_id, out)
    return out


def _rewrite_tensors(path, rename: dict[str, str | None]):
    from safetensors.torch import load_file, save_file

    file = path / "model.safetensors"
    state = load_file(str(file))
    out = {}
    for k, v in state.items():
        new = rename.get(k, k)
        if new is not None:
            out[new] = v
    save_file(out, str(file), metadata={"format": "pt"})


def test_auto_picks_by_hub_id_in_path():
    from orchestrator.scoring.adapters import hub_id_in_path, select_adapter

    assert select_adapter("auto", "openbmb/UltraRM-13b").name == "ultrarm"
    assert hub_id_in_path(str(REPLICAS / "Nexusflow" / "Starling-RM-34B")) == "Nexusflow/Starling-RM-34B"
    assert select_adapter("auto", "PKU-Alignment/beaver-7b-v2.0-cost").name == "beaver-cost"
    assert select_adapter("openbmb/UltraRM-13b", "anything").name == "ultrarm"  # a covered hub id as the name
    assert select_adapter("auto", "Skywork/Skywork-Reward-Llama-3.1-8B-v0.2").name == "classifier"


def test_auto_picks_by_config_then_by_head_tensors(tmp_path):
    from orchestrator.scoring.adapters import select_adapter

    grm = _copy("Ray2333/GRM-llama3.2-3B-sftreg", tmp_path / "a")
    assert json.loads((grm / "config.json").read_text())["architectures"] == ["GRewardModel"]
    assert select_adapter("auto", str(grm)).name == "grm-sftreg"
    # beaver reward and cost share LlamaForScore: told apart by config.json score_type
    cost = _copy("PKU-Alignment/beaver-7b-v1.0-cost", tmp_path / "b")
    assert select_adapter("auto", str(cost)).name == "beaver-cost"
    # Starling's class is called LlamaForSequenceClassification: only its head tensors (v_head.weight) tell
    starling = _copy("Nexusflow/Starling-RM-34B", tmp_path / "c")
    assert select_adapter("auto", str(starling)).name == "starling"
    oasst = _copy("OpenAssistant/oasst-rm-2.1-pythia-1.4b-epoch-2.5", tmp_path / "d")
    assert select_adapter("auto", str(oasst)).name == "oasst-pythia"


def test_unknown_custom_head_is_an_error_naming_it(tmp_path):
    from orchestrator.errors import ModelError
    from orchestrator.scoring.adapters import select_adapter

    model = _copy("openbmb/UltraRM-13b", tmp_path)
    cfg = json.loads((model / "config.json").read_text())
    cfg["architectures"] = ["SomethingForReward"]
    (model / "config.json").write_text(json.dumps(cfg))
    _rewrite_tensors(model, {"regression_head.weight": "reward_proj.weight"})
    with pytest.raises(ModelError, match="unknown custom head reward_proj.weight"):
        select_adapter("auto", str(model))


def test_missing_or_extra_head_tensors_fail_the_model(tmp_path):
    from orchestrator.config import model_spec
    from orchestrator.errors import ModelError
    from orchestrator.scoring import make_scorer

    gone = _copy("openbmb/UltraRM-13b", tmp_path / "a")
    _rewrite_tensors(gone, {"regression_head.weight": None})
    with pytest.raises(ModelError, match=r"regression_head\.\* missing"):
        make_scorer(model_spec(name="m", path=str(gone), adapter="ultrarm"))
    extra = _copy("openbmb/UltraRM-13b", tmp_path / "b")
    _rewrite_tensors(extra, {"model.norm.weight": "model.final_norm.weight"})
    with pytest.raises(ModelError, match=r"model\.norm\.weight missing"):
        make_scorer(model_spec(name="m", path=str(extra), adapter="ultrarm"))
    # a base tensor renamed outside the base prefix is an unexpected tensor, named
    odd = _copy("openbmb/UltraRM-13b", tmp_path / "c")
    _rewrite_tensors(odd, {"model.norm.weight": "norm.weight"})
    with pytest.raises(ModelError, match=r"unexpected tensors norm\.weight"):
        make_scorer(model_spec(name="m", path=str(odd), adapter="ultrarm"))


def test_config_validates_adapter_names():
    from orchestrator.config import JobConfig
    from orchestrator.errors import ConfigError

    base = {"name": "j", "benchmarks": [{"name": "reward-bench"}]}
    ok = JobConfig.from_dict(
        {**base, "models": [{"name": "m", "path": "p", "adapter": "openbmb/UltraRM-13b"}]}
    )
    assert ok.models[0].adapter == "openbmb/UltraRM-13b"
    with pytest.raises(ConfigError, match=r"models\[0\]\.adapter: unknown adapter 'nope'"):
        JobConfig.from_dict({**base, "models": [{"name": "m", "path": "p", "adapter": "nope"}]})
    with pytest.raises(ConfigError, match=r"models\[0\]\.adapter: only for kind .*classifier"):
        JobConfig.from_dict(
            {
                **base,
                "models": [
                    {"name": "m", "path": "p", "kind": "dpo", "ref_free_norm": "sum", "adapter": "ultrarm"}
                ],
            }
        )


def test_multi_label_head_compares_logit_lists(tmp_path, filtered_path):
    """The reference compares multi-output logits as Python lists (lexicographically); so does adapter multi-label."""
    import pyarrow.parquet as pq
    import torch
    import transformers

    from orchestrator.config import model_spec
    from orchestrator.errors import ModelError
    from orchestrator.scoring import make_scorer
    from orchestrator.scoring.formatting import format_conversations
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
    _fill_weights(model, "multi-label")
    with torch.no_grad():  # make the first logit coarse (many ties broken by the second) to exercise the rule
        model.score.weight[0] = 0.0
    model.save_pretrained(str(out))
    rows = pq.read_table(filtered_path).slice(0, 12).to_pylist()
    with pytest.raises(ModelError, match="3 output labels; .*set `adapter: multi-label`"):
        make_scorer(model_spec(name="m", path=str(out)))
    scorer = make_scorer(model_spec(name="m", path=str(out), adapter="multi-label"))
    cols = scorer.pair_columns(
        [r["prompt"] for r in rows], [r["chosen"] for r in rows], [r["rejected"] for r in rows]
    )
    # an independent forward: one text at a time with the doubled BOS masked, as RewardBenchPipeline does
    expected = []
    model.eval()
    for r in rows:
        logits = []
        for completion in (r["chosen"], r["rejected"]):
            text = format_conversations(scorer.tokenizer, [r["prompt"]], [completion])[0]
            enc = scorer.tokenizer(text, return_tensors="pt", truncation=True, max_length=2048)
            if enc["input_ids"][0, 0] == enc["input_ids"][0, 1] == tok.bos_token_id:
                enc["attention_mask"][0, 0] = 0
            with torch.no_grad():
                logits.append(model(**enc).logits[0].tolist())
        expected.append(logits[0] > logits[1])
    assert cols["correct"].tolist() == expected
    assert np.all(cols["score_chosen"] == 0.0)  # the first logit: all ties, so the lists decide every row


def test_reference_profile_rules():
    from orchestrator.scoring.adapters.profile import reference_loading

    # run_rm.py: default entry quantized; Llama-3 names exempt; bfloat16 turns it off; fixed-dtype families
    assert reference_loading("classifier", "weqweasdas/RM-Gemma-2B").quantized
    assert reference_loading("classifier", "weqweasdas/RM-Gemma-2B").dtype == "float16"
    for name in (
        "sfairXC/FsfairX-LLaMA3-RM-v0.1",
        "x/Llama-3-rm",
        "x/llama3-rm",
        "x/Llama3-rm",
        "x/llama-3-rm",
    ):
        assert not reference_loading("classifier", name).quantized, name
    assert not reference_loading("classifier", "weqweasdas/RM-Gemma-2B", requested_dtype="bfloat16").quantized
    inf = reference_loading(
        "classifier", "infly/INF-ORM-Llama3.1-70B", family_quantized=False, family_dtype="bfloat16"
    )
    assert (inf.quantized, inf.dtype) == (False, "bfloat16")
    grm = reference_loading("classifier", "Ray2333/GRM-Gemma-2B-sftreg", family_quantized=False)
    assert (grm.quantized, grm.dtype) == (False, "float16")
    # run_dpo.py: every model 8-bit except four Llama-3 spellings (not "llama3")
    assert reference_loading("dpo", "HuggingFaceH4/zephyr-7b-beta").quantized
    assert not reference_loading("dpo", "princeton-nlp/Llama-3-Instruct-8B-DPO").quantized
    assert reference_loading("dpo", "x/llama3-dpo").quantized
    assert reference_loading("dpo", "x/zephyr", requested_dtype="bfloat16").dtype == "bfloat16"


def test_reference_profile_on_cpu(tmp_path):
    """On a CPU an 8-bit model is a clear error; an exempt one loads in the reference's dtype."""
    from orchestrator.config import model_spec
    from orchestrator.errors import ModelError
    from orchestrator.scoring import make_scorer

    ultrarm = REPLICAS / "openbmb" / "UltraRM-13b"
    with pytest.raises(ModelError, match="profile reference loads it in 8-bit .*needs a CUDA GPU"):
        make_scorer(model_spec(name="u", path=str(ultrarm), profile="reference"))
    grm = REPLICAS / "Ray2333" / "GRM-llama3.2-3B-sftreg"
    scorer = make_scorer(model_spec(name="g", path=str(grm), profile="reference"))
    assert scorer.info.dtype == "float16"
    assert "not quantized" in scorer.info.extra["reference_loading"]


def test_shipped_classifier_job_is_valid_and_names_its_adapters():
    from orchestrator.config import from_yaml
    from orchestrator.scoring.adapters import select_adapter, select_pairwise_adapter
    from tests.conftest import REPO

    job = from_yaml(REPO / "jobs" / "rewardbench-classifiers.yaml")
    assert len(job.models) >= 8
    for model in job.models:
        assert model.name == model.path  # by hub id
        pick = select_pairwise_adapter if model.kind == "pairwise" else select_adapter
        assert pick(model.adapter, model.path).name == pick("auto", model.path).name, model.name
    assert {m.adapter for m in job.models} >= {"classifier", "grm-sftreg", "starling", "rlhflow-pair"}
