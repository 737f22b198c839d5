"""Tiny random-weight replicas of the reward-model families, built with the reference's own model classes.

Run with the reference venv's python (rewardbench 0.1.4, transformers 4.51):

    python adapter_replicas.py build REFWORK TOKENIZERS     # REFWORK/<hub id>/ for every family below
    python adapter_replicas.py collect REFWORK OUTDIR       # fixtures from run_rm.py's per-example scores

Each replica is saved under the hub id the reference keys its custom code by (``REWARD_MODEL_CONFIG``), so that
``run_rm.py --model <hub id>`` run from REFWORK picks the family's model class and pipeline and loads the local
directory. Weights come from a NumPy generator seeded by the family name (2-D tensors N(0, 0.1), 1-D ones 1.0):
the same build gives the same tensors. Tokenizers come from ``TOKENIZERS/<std|pad0>`` (built by the repo's venv,
see run_reference_adapters.sh).
"""

from __future__ import annotations

import hashlib
import json
import shutil
import sys
from pathlib import Path

SMALL = dict(
    hidden_size=32,
    intermediate_size=64,
    num_hidden_layers=2,
    num_attention_heads=4,
    max_position_embeddings=4096,
)

# family -> (hub id, tokenizer variant)
FAMILIES = {
    "grm-sftreg": ("Ray2333/GRM-llama3.2-3B-sftreg", "std"),
    "starling": ("Nexusflow/Starling-RM-34B", "pad0"),
    "ultrarm": ("openbmb/UltraRM-13b", "std"),
    "beaver-reward": ("PKU-Alignment/beaver-7b-v1.0-reward", "std"),
    "beaver-cost": ("PKU-Alignment/beaver-7b-v1.0-cost", "std"),
    "inf-orm": ("infly/INF-ORM-Llama3.1-70B", "std"),
    "oasst-pythia": ("OpenAssistant/oasst-rm-2.1-pythia-1.4b-epoch-2.5", "std"),
}


def _fill(model, seed_text: str) -> None:
    import numpy as np
    import torch

    rng = np.random.default_rng(int.from_bytes(hashlib.sha256(seed_text.encode()).digest()[:8], "little"))
    with torch.no_grad():
        for _name, param in sorted(model.named_parameters()):
            if param.ndim >= 2:
                param.copy_(torch.from_numpy(rng.normal(0.0, 0.1, size=tuple(param.shape)).astype("float32")))
            else:
                param.fill_(1.0)


def _llama_config(tok):
    from transformers import LlamaConfig

    return LlamaConfig(
        vocab_size=len(tok),
        num_key_value_heads=2,
        head_dim=8,
        bos_token_id=tok.bos_token_id,
        eos_token_id=tok.eos_token_id,
        pad_token_id=tok.pad_token_id,
        tie_word_embeddings=False,
        **SMALL,
    )


def build_one(family: str, tok):
    import rewardbench.models as rm

    if family == "grm-sftreg":
        config = _llama_config(tok)
        config.vhead_layer_type, config.vhead_num_neurons, config.vhead_num_layers = "mlp", 16, 1
        return rm.GRewardModel(config)
    if family == "starling":
        return rm.LlamaForSequenceClassification(_llama_config(tok))
    if family == "ultrarm":
        return rm.LlamaRewardModel(_llama_config(tok))
    if family in ("beaver-reward", "beaver-cost"):
        config = _llama_config(tok)
        config.score_type = family.split("-")[1]
        return rm.LlamaForScore(config)
    if family == "inf-orm":
        return rm.INFORMForSequenceClassification(_llama_config(tok))
    if family == "oasst-pythia":
        from rewardbench.models.openassistant import GPTNeoXRewardModel, GPTNeoXRewardModelConfig

        config = GPTNeoXRewardModelConfig(
            vocab_size=len(tok),
            rotary_pct=0.25,
            use_parallel_residual=True,
            bos_token_id=tok.bos_token_id,
            eos_token_id=tok.eos_token_id,
            pooling="last",
            tie_word_embeddings=False,
            **SMALL,
        )
        return GPTNeoXRewardModel(config)
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
        model = build_one(family, tok)
        _fill(model, family)
        model.eval()
        model.save_pretrained(str(out), safe_serialization=True)
        print(family, hub_id, sum(p.numel() for p in model.parameters()), "parameters")


def collect(refwork: Path, outdir: Path, families: list[str]) -> None:
    import hashlib as hl
    from importlib.metadata import version

    import pyarrow as pa
    import pyarrow.parquet as pq

    outdir.mkdir(parents=True, exist_ok=True)
    rows = pq.read_table(refwork / "slice.parquet", columns=["row_index", "subset", "id"]).to_pydict()
    for run in families:
        family, _, dtype = run.partition(":")
        hub_id, _ = FAMILIES[family]
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
        replica = outdir / "replicas" / hub_id
        shutil.rmtree(replica, ignore_errors=True)
        shutil.copytree(refwork / hub_id, replica)
        summary = {
            "family": family,
            "hub_id": hub_id,
            "rows": len(sc),
            "accuracy": sum(scores["results"]) / len(sc),
            "torch_dtype_override": dtype or None,
            "command": (refwork / f"cmd.{run}.txt").read_text().strip(),
            "versions": {p: version(p) for p in ("rewardbench", "transformers", "torch")},
            "weights_sha256": hl.sha256((replica / "model.safetensors").read_bytes()).hexdigest(),
        }
        (outdir / f"{stem}.rewardbench-0.1.4.summary.json").write_text(json.dumps(summary, indent=2) + "\n")
        print(stem, "rows", len(sc), "acc", summary["accuracy"])


if __name__ == "__main__":
    cmd, a, b, *fams = sys.argv[1:]
    fams = fams or list(FAMILIES)
    (build if cmd == "build" else collect)(Path(a), Path(b), fams)
