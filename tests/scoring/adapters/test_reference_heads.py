"""QRM, LDL-Reward and InternLM2 reward against the reference implementation, per example.

Fixtures from ``perf/reference/run_reference_heads.sh``: tiny replicas built with rewardbench 0.1.4's own classes
(InternLM2: its published modeling code), scored by the reference's ``run_rm.py --not_quantized --torch_dtype
float32`` over the first 2 rows of every v1 subset. Rayward scores the same tensors with ``adapter: auto`` (picked
from the hub id in the path) and must agree on every ``correct`` with scores within 1e-4. QRM's replica needs a
128,010-id vocabulary: its tokenizer and embedding are rebuilt here from small parts, and the rebuilt tensors are
checked against the digest of the ones the reference scored.
"""

from __future__ import annotations

import json
import shutil

import numpy as np
import pyarrow.parquet as pq
import pytest

from tests.conftest import FIXTURES
from tests.scoring.adapters.replica_parts import expand_embedding, llama3_tokenizer, tensor_digest

ADAPTERS = FIXTURES / "reference" / "adapters"

# fixture stem -> (adapter auto must pick, dtype for Rayward, score tolerance)
CASES = {
    "qrm": ("qrm", "auto", 1e-4),
    # LDL-Reward: the reference forces bfloat16 (and then fails on a CPU); the float32 run overrides its config
    # entry in-process (the recipe)
    "ldl-reward.float32": ("ldl-reward", "float32", 1e-4),
    "internlm2-reward": ("internlm2-reward", "auto", 1e-4),
}


def _summary(stem):
    return json.loads((ADAPTERS / f"{stem}.rewardbench-0.1.4.summary.json").read_text())


@pytest.fixture(scope="module")
def replicas(tmp_path_factory):
    """hub id -> a directory laid out as ``.../<hub id>`` holding the replica the reference scored."""
    import torch
    from safetensors.torch import load_file, save_file

    root = tmp_path_factory.mktemp("head-replicas")
    out = {}

    def get(hub_id):
        if hub_id in out:
            return out[hub_id]
        src = ADAPTERS / "replicas" / hub_id
        if not (src / "model.compact.safetensors").is_file():
            out[hub_id] = src
            return src
        dst = root / hub_id
        shutil.copytree(src, dst)
        llama3_tokenizer(src / "tokenizer.small.json", dst)
        save_file(
            expand_embedding(load_file(str(src / "model.compact.safetensors"))),
            str(dst / "model.safetensors"),
        )
        (dst / "model.compact.safetensors").unlink()
        out[hub_id] = dst
        return dst

    yield get
    torch.set_num_threads(torch.get_num_threads())


def _state(directory):
    import torch
    from safetensors.torch import load_file

    state = {}
    for file in sorted(directory.glob("*.safetensors")):
        state.update(load_file(str(file)))
    for file in sorted(directory.glob("*.pt")):
        for k, v in torch.load(str(file), map_location="cpu", weights_only=True).items():
            state[f"{file.stem}/{k}"] = v
    return state


@pytest.mark.parametrize("stem", sorted(CASES))
def test_family_matches_reference_per_example(stem, filtered_path, replicas):
    from orchestrator.config import model_spec
    from orchestrator.scoring import make_scorer

    adapter, dtype, tol = CASES[stem]
    summary = _summary(stem)
    ref = pq.read_table(ADAPTERS / f"{stem}.rewardbench-0.1.4.parquet").to_pydict()
    assert len(ref["row_index"]) == 46 and len(set(ref["subset"])) == 23  # 2 rows x every v1 subset
    data = pq.read_table(filtered_path).to_pylist()
    rows = [data[i] for i in ref["row_index"]]
    path = replicas(summary["hub_id"])
    assert tensor_digest(_state(path)) == summary["tensor_digest"]  # the tensors the reference scored
    # max_length 4096 as the recipe (the replicas' small vocabulary makes one completion 2,185 tokens long)
    spec = model_spec(
        name=stem.replace(".", "-"), path=str(path), dtype=dtype, batch_tokens=1024, max_length=4096
    )
    scorer = make_scorer(spec)
    assert scorer.adapter.name == adapter
    cols = scorer.pair_columns(
        [r["prompt"] for r in rows], [r["chosen"] for r in rows], [r["rejected"] for r in rows]
    )
    np.testing.assert_array_equal(cols["correct"], np.asarray(ref["result"]) == 1)
    np.testing.assert_allclose(cols["score_chosen"], ref["score_chosen"], atol=tol, rtol=0)
    np.testing.assert_allclose(cols["score_rejected"], ref["score_rejected"], atol=tol, rtol=0)


def test_auto_picks_the_families_from_config_architectures(tmp_path):
    """Without a hub id in the path, ``config.json`` ``architectures`` selects the family."""
    from orchestrator.scoring.adapters import select_adapter

    for arch, name in (
        ("LlamaForRewardModelWithGating31", "qrm"),
        ("LDLRewardModel27B", "ldl-reward"),
        ("InternLM2ForRewardModel", "internlm2-reward"),
    ):
        d = tmp_path / arch
        d.mkdir()
        (d / "config.json").write_text(json.dumps({"architectures": [arch]}))
        assert select_adapter("auto", str(d)).name == name


def test_qrm_input_without_the_assistant_header_is_an_error(replicas):
    """The gating network reads at the last Llama-3 assistant header; an input without one fails naming it."""
    from orchestrator.config import model_spec
    from orchestrator.errors import ModelError
    from orchestrator.scoring import make_scorer

    path = replicas(_summary("qrm")["hub_id"])
    tmpl = "{{ bos_token }}{% for m in messages %}{{ m['content'] }}{% endfor %}"
    scorer = make_scorer(model_spec(name="qrm-plain", path=str(path), chat_template=tmpl))
    with pytest.raises(
        ModelError, match=r"input 0 lacks the token pattern \[128009, 128006, 78191, 128007, 271\]"
    ):
        scorer.score_completions(["Hi"], ["Hello"])


def test_ldl_without_its_head_files_is_an_error(tmp_path):
    """LDL-Reward's heads are regression_layer.pt / gating_layer.pt; a copy without one fails naming the file."""
    from orchestrator.config import model_spec
    from orchestrator.errors import ModelError
    from orchestrator.scoring import make_scorer

    src = ADAPTERS / "replicas" / _summary("ldl-reward.float32")["hub_id"]
    dst = tmp_path / "ShikaiChen" / "LDL-Reward-Gemma-2-27B-v0.1"
    shutil.copytree(src, dst)
    (dst / "gating_layer.pt").unlink()
    with pytest.raises(ModelError, match="gating_layer.pt missing"):
        make_scorer(model_spec(name="ldl", path=str(dst), dtype="float32"))


def test_internlm2_renamed_tensor_is_an_error(tmp_path):
    """A tensor outside the InternLM2 reward layout fails the model naming it (never a random layer)."""
    from safetensors.torch import load_file, save_file

    from orchestrator.config import model_spec
    from orchestrator.errors import ModelError
    from orchestrator.scoring import make_scorer

    src = ADAPTERS / "replicas" / _summary("internlm2-reward")["hub_id"]
    dst = tmp_path / "internlm" / "internlm2-7b-reward"
    shutil.copytree(src, dst)
    state = load_file(str(dst / "model.safetensors"))
    state["model.layers.0.attention.wq.weight"] = state.pop("model.layers.0.attention.wqkv.weight")
    save_file(state, str(dst / "model.safetensors"))
    with pytest.raises(ModelError, match=r"unexpected tensor model\.layers\.0\.attention\.wq\.weight"):
        make_scorer(model_spec(name="internlm2", path=str(dst)))


def test_internlm2_wqkv_split_against_an_independent_attention():
    """The fused wqkv rows, grouped per key/value head as [query heads of the group, key, value], split into
    Llama's q/k/v projections: checked against attention computed straight from the fused projection."""
    import torch

    from orchestrator.scoring.adapters.heads import internlm2_llama_config, internlm2_to_llama

    data = {
        "vocab_size": 10,
        "hidden_size": 32,
        "intermediate_size": 8,
        "num_hidden_layers": 1,
        "num_attention_heads": 8,
        "num_key_value_heads": 2,
        "bias": False,
    }
    config = internlm2_llama_config(data)
    gen = torch.Generator().manual_seed(0)
    wqkv = torch.randn(32 + 2 * 2 * 4, 32, generator=gen)
    out = internlm2_to_llama({"model.layers.0.attention.wqkv.weight": wqkv}, config, "test")
    x = torch.randn(5, 32, generator=gen)
    fused = (x @ wqkv.T).reshape(5, 2, 4 + 2, 4)  # [tokens, kv heads, group + 2, head_dim]
    q = fused[:, :, :4].reshape(5, 8, 4)
    k, v = fused[:, :, 4], fused[:, :, 5]
    torch.testing.assert_close((x @ out["layers.0.self_attn.q_proj.weight"].T).reshape(5, 8, 4), q)
    torch.testing.assert_close((x @ out["layers.0.self_attn.k_proj.weight"].T).reshape(5, 2, 4), k)
    torch.testing.assert_close((x @ out["layers.0.self_attn.v_proj.weight"].T).reshape(5, 2, 4), v)
