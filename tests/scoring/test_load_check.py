"""No silent random weights: real tiny checkpoints with edited safetensors fail with the loader's report.

Each case copies a real tiny model, edits its ``model.safetensors`` (or ``config.json``) and loads it through the
scorer of a kind; the error must name the tensors and the fix. A job with one such model fails that model only.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file

from orchestrator.config import JobConfig, model_spec
from orchestrator.errors import ModelError
from orchestrator.scoring.classifier import ClassifierScorer
from orchestrator.scoring.dpo import DPOScorer
from orchestrator.scoring.load_check import check_loading_info


def _variant(src: Path, dest: Path, edit=None, config=None) -> Path:
    shutil.copytree(src, dest)
    if edit is not None:
        tensors = edit(load_file(dest / "model.safetensors"))
        save_file(tensors, dest / "model.safetensors", metadata={"format": "pt"})
    if config is not None:
        cfg = json.loads((dest / "config.json").read_text())
        config(cfg)
        (dest / "config.json").write_text(json.dumps(cfg))
    return dest


def _classifier_error(path: Path, name: str = "m") -> str:
    with pytest.raises(ModelError) as err:
        ClassifierScorer(model_spec(name=name, path=str(path)))
    return str(err.value)


def test_head_tensor_removed(tiny_models, tmp_path):
    path = _variant(
        tiny_models["tiny-rm"],
        tmp_path / "no-head",
        edit=lambda t: {k: v for k, v in t.items() if k != "score.weight"},
    )
    msg = _classifier_error(path, "no-head")
    assert msg.startswith("model 'no-head': AutoModelForSequenceClassification cannot use the weights at")
    assert "score.weight missing from the checkpoint (would be randomly initialised)" in msg
    assert "not a sequence-classification head (the checkpoint has no head tensors); set adapter:" in msg


def test_head_tensor_renamed(tiny_models, tmp_path):
    path = _variant(
        tiny_models["tiny-rm"],
        tmp_path / "v-head",
        edit=lambda t: {("v_head.weight" if k == "score.weight" else k): v for k, v in t.items()},
    )
    msg = _classifier_error(path)
    assert "score.weight missing from the checkpoint" in msg
    assert "v_head.weight in the checkpoint but not used by the model" in msg
    assert "not a sequence-classification head (it has v_head instead); set adapter:" in msg


def test_missing_transformer_layer(tiny_models, tmp_path):
    path = _variant(
        tiny_models["tiny-rm"],
        tmp_path / "short",
        edit=lambda t: {k: v for k, v in t.items() if not k.startswith("model.layers.1.")},
    )
    msg = _classifier_error(path)
    assert "model.layers.1.* (9 tensors) missing from the checkpoint" in msg
    assert "lacks part of the network" in msg and "score.weight" not in msg


def test_head_of_wrong_shape(tiny_models, tmp_path):
    path = _variant(
        tiny_models["tiny-rm"],
        tmp_path / "wide",
        edit=lambda t: {**t, "score.weight": torch.zeros(3, t["score.weight"].shape[1])},
    )
    msg = _classifier_error(path)
    assert "score.weight has shape [3, 64] in the checkpoint but [1, 64] in the model" in msg
    assert "num_labels=1 but the checkpoint's head has 3 output row(s)" in msg


def test_two_labels_over_a_one_row_head(tiny_models, tmp_path):
    path = _variant(
        tiny_models["tiny-rm"],
        tmp_path / "labels2",
        config=lambda c: c.update(id2label={"0": "A", "1": "B"}, label2id={"A": 0, "B": 1}),
    )
    msg = _classifier_error(path)
    assert "score.weight has shape [1, 64] in the checkpoint but [2, 64] in the model" in msg
    assert "config.json says num_labels=2 but the checkpoint's head has 1 output row(s)" in msg
    assert "look at the above report" not in msg


def test_causal_lm_as_classifier(tiny_models):
    msg = _classifier_error(tiny_models["tiny-lm"])
    assert "score.weight missing from the checkpoint" in msg
    assert "lm_head.weight in the checkpoint but not used by the model" in msg
    assert "is a causal language model (lm_head), not a sequence classifier: use kind: dpo" in msg


def test_classifier_as_reference_free_dpo(tiny_models):
    spec = model_spec(name="cls-as-dpo", path=str(tiny_models["tiny-rm"]), kind="dpo", ref_free_norm="sum")
    with pytest.raises(ModelError) as err:
        DPOScorer(spec)
    msg = str(err.value)
    assert msg.startswith("model 'cls-as-dpo': AutoModelForCausalLM cannot use the weights at")
    assert "lm_head.weight missing from the checkpoint" in msg
    assert "score.weight in the checkpoint but not used by the model" in msg
    assert "is a sequence-classification reward model (score head), not a causal language model" in msg
    assert "use kind: classifier" in msg


def test_tied_embeddings_are_not_missing(tiny_models, tmp_path):
    """A causal LM whose output layer is tied to its embeddings stores no ``lm_head.weight``: not an error."""
    path = _variant(
        tiny_models["tiny-lm"],
        tmp_path / "tied",
        edit=lambda t: {k: v for k, v in t.items() if k != "lm_head.weight"},
        config=lambda c: c.update(tie_word_embeddings=True),
    )
    scorer = DPOScorer(model_spec(name="tied", path=str(path), kind="dpo", ref_free_norm="avg"))
    model = scorer.model
    assert model.get_output_embeddings().weight.data_ptr() == model.get_input_embeddings().weight.data_ptr()
    # the untouched checkpoints load as before
    assert ClassifierScorer(model_spec(name="ok", path=str(tiny_models["tiny-rm"]))).info.num_parameters > 0


def test_report_of_a_clean_load_passes():
    check_loading_info(
        {"missing_keys": set(), "unexpected_keys": set(), "mismatched_keys": set(), "error_msgs": []},
        model_name="m",
        path="p",
        auto_class="AutoModelForSequenceClassification",
    )
    with pytest.raises(ModelError, match="load errors: boom"):
        check_loading_info(
            {"error_msgs": ["boom"]}, model_name="m", path="p", auto_class="AutoModelForCausalLM"
        )


def test_job_fails_only_the_random_head_model(ray_cluster, filtered_path, tiny_models, tmp_path):
    from orchestrator.results.records import read_manifests
    from orchestrator.runtime.driver import run_job

    headless = _variant(
        tiny_models["tiny-rm"],
        tmp_path / "headless",
        edit=lambda t: {("v_head.weight" if k == "score.weight" else k): v for k, v in t.items()},
    )
    results = tmp_path / "results"
    job = JobConfig.from_dict(
        {
            "name": "random-head",
            "benchmarks": [{"name": "reward-bench", "source": str(filtered_path), "limit": 2}],
            "models": [
                {"name": "good", "path": str(tiny_models["tiny-rm"])},
                {"name": "headless", "path": str(headless)},
            ],
            "resources": {"gpus_per_actor": 0},
            "results": str(results),
        }
    )
    res = run_job(job)
    by = {o.model: o for o in res.outcomes}
    assert by["good"].status == "ok" and by["good"].n_records == 23 * 2
    assert by["headless"].status == "failed" and by["headless"].n_records == 0
    assert "score.weight missing from the checkpoint" in by["headless"].error
    assert "v_head.weight in the checkpoint but not used by the model" in by["headless"].error
    (manifest,) = read_manifests(results)
    entry = next(m for m in manifest["models"] if m["model"] == "headless")
    assert entry["status"] == "failed" and "set adapter:" in entry["error"]
