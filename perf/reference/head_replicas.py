"""Tiny random-weight replicas of QRM, LDL-Reward and InternLM2 reward, built with the reference's own classes.

Run with a reference venv's python (rewardbench 0.1.4, transformers 4.51; see run_reference_heads.sh for the
patched copy it needs):

    python head_replicas.py build REFWORK TOKENIZERS [FAMILY ...]   # REFWORK/<hub id>/
    python head_replicas.py collect REFWORK OUTDIR [RUN ...]         # fixtures from run_rm.py's scores

As adapter_replicas.py (hidden 32, 2 layers, weights from a NumPy generator seeded by the family name), except:
QRM uses the 128,010-id Llama-3-like tokenizer of tests/scoring/adapters/replica_parts.py (its embedding rows that
no text reaches are zero, and the fixture stores only the others); LDL-Reward's head widths (4096, hard-coded in
the reference's MultiOutputNN/GatingNN) are 64 (set_ldl_widths, applied in the build and in the reference run);
InternLM2's model class is the published InternLM2 modeling code (INTERNLM2_CODE: configuration_internlm2.py and
modeling_internlm2.py, e.g. OpenGVLab/InternVL internvl_chat/internvl/model/internlm2/) plus a reward class
(reward_class.py next to this file) written from the hub model's published description.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))
from tests.scoring.adapters.replica_parts import compact_embedding, tensor_digest  # noqa: E402

SMALL = dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4)
LDL_WIDTH = 64

# family -> (hub id, tokenizer variant)
FAMILIES = {
    "qrm": ("nicolinho/QRM-Llama3.1-8B", "llama3"),
    "qrm3": ("nicolinho/QRM-Llama3-8B", "llama3"),
    "ldl-reward": ("ShikaiChen/LDL-Reward-Gemma-2-27B-v0.1", "std"),
    "internlm2-reward": ("internlm/internlm2-7b-reward", "internlm2"),
}


def set_ldl_widths(width: int = LDL_WIDTH) -> None:
    """The reference's LDL head widths (hard-coded 4096) set to ``width`` in this process."""
    from rewardbench.models import ldlreward

    ldlreward.MultiOutputNN.__init__.__defaults__ = ([width, width],)
    ldlreward.GatingNN.__init__.__defaults__ = (width, 2, 1.0, 0.0, False)


def _rng(seed_text: str):
    import numpy as np

    return np.random.default_rng(int.from_bytes(hashlib.sha256(seed_text.encode()).digest()[:8], "little"))


def _fill(model, seed_text: str, keep_zero_rows=None) -> None:
    """2-D parameters N(0, 0.1) (std 1/sqrt(fan_in) when wider than 64), 1-D ones U(0.5, 1.5); BatchNorm running
    statistics random too; embedding rows outside ``keep_zero_rows``'s complement zero."""
    import torch

    rng = _rng(seed_text)
    with torch.no_grad():
        for name, param in sorted(model.named_parameters()):
            if param.ndim >= 2:
                std = 0.1 if param.shape[1] <= 64 else param.shape[1] ** -0.5
                value = torch.from_numpy(rng.normal(0.0, std, size=tuple(param.shape)).astype("float32"))
                if name.endswith("embed_tokens.weight") and keep_zero_rows is not None:
                    mask = torch.zeros(param.shape[0], dtype=torch.bool)
                    mask[keep_zero_rows] = True
                    value[~mask] = 0.0
                if name.endswith("reward_transform_matrix"):
                    value = torch.eye(param.shape[0]) + value
                param.copy_(value.to(param.dtype))
            else:
                param.copy_(
                    torch.from_numpy(rng.uniform(0.5, 1.5, size=tuple(param.shape)).astype("float32"))
                )
        for name, buf in sorted(model.named_buffers()):
            if name.endswith("running_mean"):
                buf.copy_(torch.from_numpy(rng.normal(0.0, 0.1, size=tuple(buf.shape)).astype("float32")))
            elif name.endswith("running_var"):
                buf.copy_(torch.from_numpy(rng.uniform(0.5, 1.5, size=tuple(buf.shape)).astype("float32")))


def build_one(family: str, out: Path, tok, used):
    from transformers import Gemma2Config, LlamaConfig

    if family in ("qrm", "qrm3"):
        from rewardbench.models.qrm import LlamaForRewardModelWithGating3, LlamaForRewardModelWithGating31

        config = LlamaConfig(
            vocab_size=len(tok),
            num_key_value_heads=2,
            head_dim=8,
            max_position_embeddings=4096,
            bos_token_id=tok.bos_token_id,
            eos_token_id=tok.eos_token_id,
            tie_word_embeddings=False,
            num_objectives=5,
            num_quantiles=5,  # the reference's (unused) reward_quantiles needs num_quantiles == num_objectives
            gating_temperature=10,
            gating_hidden_dim=16,
            gating_n_hidden=3,
            **SMALL,
        )
        cls = LlamaForRewardModelWithGating31 if family == "qrm" else LlamaForRewardModelWithGating3
        model = cls(config).float()
        _fill(model, family, keep_zero_rows=used)
        model.eval().save_pretrained(str(out), safe_serialization=True)
        return model
    if family == "ldl-reward":
        from rewardbench.models.ldlreward import LDLRewardModel27B

        set_ldl_widths()
        config = Gemma2Config(
            vocab_size=len(tok),
            num_key_value_heads=2,
            head_dim=8,
            query_pre_attn_scalar=8,
            max_position_embeddings=4096,
            sliding_window=4096,
            bos_token_id=tok.bos_token_id,
            eos_token_id=tok.eos_token_id,
            pad_token_id=tok.pad_token_id,
            softmax=True,
            temperature=0.7,
            **SMALL,
        )
        config.architectures = ["LDLRewardModel27B"]
        model = LDLRewardModel27B(config)
        _fill(model, family)
        # the reference's own save_pretrained: the base as safetensors, the heads as regression/gating .pt
        model.eval().save_pretrained(str(out))
        return model
    if family == "internlm2-reward":
        code = Path(os.environ["INTERNLM2_CODE"])
        for name in ("configuration_internlm2.py", "modeling_internlm2.py"):
            shutil.copy(code / name, out / name)
        with open(out / "modeling_internlm2.py", "a", encoding="utf-8") as fh:
            fh.write(
                "\n\n" + (Path(__file__).parent / "internlm2_reward_class.py").read_text(encoding="utf-8")
            )
        from transformers.dynamic_module_utils import get_class_from_dynamic_module

        config_class = get_class_from_dynamic_module("configuration_internlm2.InternLM2Config", str(out))
        model_class = get_class_from_dynamic_module("modeling_internlm2.InternLM2ForRewardModel", str(out))

        reward_id = tok.convert_tokens_to_ids("[UNUSED_TOKEN_130]")
        config = config_class(
            vocab_size=len(tok),
            num_key_value_heads=2,
            max_position_embeddings=4096,
            rope_theta=1000000,
            bos_token_id=tok.bos_token_id,
            eos_token_id=tok.eos_token_id,
            pad_token_id=tok.eos_token_id,
            attn_implementation="eager",
            bias=False,
            reward_token_id=reward_id,
            **SMALL,
        )
        config.auto_map = {
            "AutoConfig": "configuration_internlm2.InternLM2Config",
            "AutoModel": "modeling_internlm2.InternLM2ForRewardModel",
        }
        config.architectures = ["InternLM2ForRewardModel"]
        model = model_class(config)
        _fill(model, family)
        model.eval().save_pretrained(str(out), safe_serialization=True)
        return model
    raise SystemExit(f"unknown family {family}")


def build(refwork: Path, tokenizers: Path, families: list[str]) -> None:
    from transformers import AutoTokenizer

    for family in families:
        hub_id, variant = FAMILIES[family]
        out = refwork / hub_id
        shutil.rmtree(out, ignore_errors=True)
        out.mkdir(parents=True)
        for file in (tokenizers / variant).iterdir():
            shutil.copy(file, out / file.name)
        tok = AutoTokenizer.from_pretrained(str(out))
        used = (
            json.loads((tokenizers / variant / "used_ids.json").read_text()) if variant == "llama3" else None
        )
        model = build_one(family, out, tok, used)
        print(family, hub_id, sum(p.numel() for p in model.parameters()), "parameters", "dtype", model.dtype)


def _state(directory: Path) -> dict:
    import torch
    from safetensors.torch import load_file

    state = {}
    for file in sorted(directory.glob("*.safetensors")):
        state.update(load_file(str(file)))
    for file in sorted(directory.glob("*.pt")):
        for k, v in torch.load(str(file), map_location="cpu", weights_only=True).items():
            state[f"{file.stem}/{k}"] = v
    return state


def collect(refwork: Path, outdir: Path, runs: list[str]) -> None:
    from importlib.metadata import version

    import pyarrow as pa
    import pyarrow.parquet as pq
    from safetensors.torch import save_file

    outdir.mkdir(parents=True, exist_ok=True)
    rows = pq.read_table(refwork / "slice.parquet", columns=["row_index", "subset", "id"]).to_pydict()
    for run in runs:
        family, _, dtype = run.partition(":")
        hub_id, variant = FAMILIES[family]
        scores = json.loads((refwork / "runs" / run / "scores.json").read_text())
        assert scores["subset"] == rows["subset"] and scores["id"] == rows["id"], (
            f"{family}: row order differs"
        )
        flat = lambda col: [float(v[0]) if isinstance(v, list) else float(v) for v in col]  # noqa: E731
        sc, sr = flat(scores["scores_chosen"]), flat(scores["scores_rejected"])
        table = pa.table(
            {
                "row_index": pa.array(rows["row_index"], pa.int64()),
                "subset": pa.array(rows["subset"], pa.string()),
                "id": pa.array(rows["id"], pa.int64()),
                "score_chosen": pa.array(sc, pa.float64()),
                "score_rejected": pa.array(sr, pa.float64()),
                "result": pa.array(scores["results"], pa.int8()),
            }
        )
        stem = f"{family}.{dtype}" if dtype else family
        pq.write_table(table, outdir / f"{stem}.rewardbench-0.1.4.parquet")
        src = refwork / hub_id
        replica = outdir / "replicas" / hub_id
        shutil.rmtree(replica, ignore_errors=True)
        replica.mkdir(parents=True)
        state = _state(src)
        for file in src.iterdir():
            if file.suffix == ".py" or file.name == "__pycache__":
                continue  # the InternLM2 modeling code is not ours to ship; Rayward needs none
            if variant == "llama3" and file.name in ("tokenizer.json", "model.safetensors", "used_ids.json"):
                continue
            shutil.copy(file, replica / file.name)
        if variant == "llama3":
            from safetensors.torch import load_file

            used = json.loads((src / "used_ids.json").read_text())
            save_file(
                compact_embedding(load_file(str(src / "model.safetensors")), used),
                str(replica / "model.compact.safetensors"),
            )
            shutil.copy(src / "tokenizer.small.json", replica / "tokenizer.small.json")
        summary = {
            "family": family,
            "hub_id": hub_id,
            "rows": len(sc),
            "accuracy": sum(scores["results"]) / len(sc),
            "torch_dtype_override": dtype or None,
            "command": (refwork / f"cmd.{run}.txt").read_text().strip(),
            "versions": {p: version(p) for p in ("rewardbench", "transformers", "torch")},
            "tensor_digest": tensor_digest(state),
        }
        (outdir / f"{stem}.rewardbench-0.1.4.summary.json").write_text(json.dumps(summary, indent=2) + "\n")
        print(stem, "rows", len(sc), "acc", summary["accuracy"])


if __name__ == "__main__":
    cmd, a, b, *fams = sys.argv[1:]
    (build if cmd == "build" else collect)(Path(a), Path(b), fams or list(FAMILIES))
