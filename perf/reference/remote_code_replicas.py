"""Tiny random-weight replicas of the remote-code families (Eurus-RM, Ziya, ArmoRM), built with the checkpoints'
own modeling files (the reference loads these families through ``trust_remote_code``).

Run with the reference venv's python (rewardbench 0.1.4, transformers 4.51):

    python remote_code_replicas.py build REFWORK TOKENIZERS REMOTE     # REFWORK/<hub id>/ per family
    python remote_code_replicas.py collect REFWORK OUTDIR RUN...       # fixtures from run_rm.py's scores

``REMOTE`` holds the published modeling files (``eurus/modeling_eurus_rm.py``, ``ziya/modeling_llama_rm.py``,
``armorm/modeling_custom.py``; see docs/models.md for where they come from). They are third-party code: they are
copied into the replica directory (``auto_map`` in its config.json points at them, as on the hub) for the reference
run only and are left out of the repository's fixtures (Rayward reads these families natively).

Tokenizers are derived from ``TOKENIZERS/std`` (the tiny demo tokenizer): ``nochat`` = no chat template and the
Llama tokenizer class (so the reference's ``--chat_template`` and its ``add_eos_token = True`` apply), ``llama3`` =
the same vocabulary with the Llama-3 special tokens at their Llama-3 ids (``<|begin_of_text|>`` 128000,
``<|start_header_id|>`` 128006, ``<|end_header_id|>`` 128007, ``<|eot_id|>`` 128009, pad
``<|finetune_right_pad_id|>`` 128004) and ``assistant`` = 78191, ``\\n\\n`` = 271, so that ArmoRM's hard-coded gating
pattern ``[128009, 128006, 78191, 128007, 271]`` occurs, and a Llama-3 style chat template. Embedding rows of ids
the tokenizer never produces are zero (they are never read), so the 128k-row embedding compresses to almost nothing.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from adapter_replicas import SMALL, _fill

# family -> (hub id, tokenizer variant, remote file, class, auto_map key)
FAMILIES = {
    "eurus-rm": (
        "openbmb/Eurus-RM-7b",
        "nochat",
        "eurus/modeling_eurus_rm.py",
        "EurusRewardModel",
        "AutoModel",
    ),
    "ziya": (
        "IDEA-CCNL/Ziya-LLaMA-7B-Reward",
        "nochat",
        "ziya/modeling_llama_rm.py",
        "LlamaRewardModel",
        "AutoModelForSequenceClassification",
    ),
    "armorm": (
        "RLHFlow/ArmoRM-Llama3-8B-v0.1",
        "llama3",
        "armorm/modeling_custom.py",
        "LlamaForRewardModelWithGating",
        "AutoModelForSequenceClassification",
    ),
}

LLAMA3_SPECIAL = {
    "<|begin_of_text|>": 128000,
    "<|finetune_right_pad_id|>": 128004,
    "<|start_header_id|>": 128006,
    "<|end_header_id|>": 128007,
    "<|eot_id|>": 128009,
}
LLAMA3_WORDS = {"assistant": 78191, "\n\n": 271}
LLAMA3_VOCAB = 128256
LLAMA3_TEMPLATE = (
    "{% for message in messages %}"
    "{% if loop.index0 == 0 %}{{ bos_token }}{% endif %}"
    "<|start_header_id|>{{ message['role'] }}<|end_header_id|>\n\n{{ message['content'] | trim }}<|eot_id|>"
    "{% endfor %}"
    "{% if add_generation_prompt %}<|start_header_id|>assistant<|end_header_id|>\n\n{% endif %}"
)


def _nochat(std: Path, out: Path) -> None:
    for file in std.iterdir():
        if file.name != "chat_template.jinja":
            shutil.copy(file, out / file.name)
    cfg_file = out / "tokenizer_config.json"
    cfg = json.loads(cfg_file.read_text())
    cfg.pop("chat_template", None)
    cfg["tokenizer_class"] = "LlamaTokenizerFast"
    cfg_file.write_text(json.dumps(cfg, indent=2) + "\n")


def _llama3(std: Path, out: Path) -> None:
    tok = json.loads((std / "tokenizer.json").read_text())
    vocab = tok["model"]["vocab"]
    taken = {**LLAMA3_SPECIAL, **LLAMA3_WORDS}
    spare = max(vocab.values()) + 1
    for token, id_ in list(vocab.items()):  # move the tokens sitting on the Llama-3 ids out of the way
        if id_ in taken.values():
            vocab[token] = spare
            spare += 1
    for token, id_ in taken.items():
        vocab[token] = id_
    tok["added_tokens"] += [
        {
            "id": id_,
            "content": token,
            "single_word": False,
            "lstrip": False,
            "rstrip": False,
            "normalized": False,
            "special": token in LLAMA3_SPECIAL,
        }
        for token, id_ in taken.items()
    ]
    tok["post_processor"] = {
        "type": "TemplateProcessing",
        "single": [
            {"SpecialToken": {"id": "<|begin_of_text|>", "type_id": 0}},
            {"Sequence": {"id": "A", "type_id": 0}},
        ],
        "pair": [
            {"SpecialToken": {"id": "<|begin_of_text|>", "type_id": 0}},
            {"Sequence": {"id": "A", "type_id": 0}},
            {"SpecialToken": {"id": "<|begin_of_text|>", "type_id": 1}},
            {"Sequence": {"id": "B", "type_id": 1}},
        ],
        "special_tokens": {
            "<|begin_of_text|>": {"id": "<|begin_of_text|>", "ids": [128000], "tokens": ["<|begin_of_text|>"]}
        },
    }
    (out / "tokenizer.json").write_text(json.dumps(tok, ensure_ascii=False))
    cfg = {
        "bos_token": "<|begin_of_text|>",
        "eos_token": "<|eot_id|>",
        "pad_token": "<|finetune_right_pad_id|>",
        "model_input_names": ["input_ids", "attention_mask"],
        "model_max_length": 8192,
        "tokenizer_class": "PreTrainedTokenizerFast",
    }
    (out / "tokenizer_config.json").write_text(json.dumps(cfg, indent=2) + "\n")
    (out / "chat_template.jinja").write_text(LLAMA3_TEMPLATE)


def _load_class(remote: Path, rel: str, cls: str):
    spec = importlib.util.spec_from_file_location(Path(rel).stem, remote / rel)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return getattr(module, cls)


def build_one(family: str, tok, remote: Path):
    from transformers import LlamaConfig, MistralConfig

    _, _, rel, cls_name, _ = FAMILIES[family]
    cls = _load_class(remote, rel, cls_name)
    common = dict(
        num_key_value_heads=2,
        head_dim=8,
        bos_token_id=tok.bos_token_id,
        eos_token_id=tok.eos_token_id,
        pad_token_id=tok.pad_token_id,
        tie_word_embeddings=False,
        **SMALL,
    )
    if family == "eurus-rm":
        return cls(MistralConfig(vocab_size=len(tok), sliding_window=None, **common))
    if family == "ziya":
        return cls(LlamaConfig(vocab_size=len(tok), model_parallel_size=4, **common))
    config = LlamaConfig(
        vocab_size=LLAMA3_VOCAB,
        num_objectives=5,
        gating_hidden_dim=16,
        gating_n_hidden=2,
        gating_temperature=10,
        **common,
    )
    return cls(config)


def build(refwork: Path, tokenizers: Path, remote: Path, families: list[str]) -> None:
    import torch
    from transformers import AutoTokenizer

    for family in families:
        hub_id, variant, rel, cls_name, auto_key = FAMILIES[family]
        out = refwork / hub_id
        shutil.rmtree(out, ignore_errors=True)
        out.mkdir(parents=True)
        (_nochat if variant == "nochat" else _llama3)(tokenizers / "std", out)
        tok = AutoTokenizer.from_pretrained(str(out))
        model = build_one(family, tok, remote)
        _fill(model, family)
        if variant == "llama3":  # rows of ids no text can produce are never read: zero them
            used = torch.tensor(sorted(set(tok.get_vocab().values())))
            emb = model.model.embed_tokens.weight
            keep = torch.zeros(emb.shape[0], dtype=torch.bool)
            keep[used] = True
            with torch.no_grad():
                emb[~keep] = 0.0
        model.eval()
        model.config.auto_map = {auto_key: f"{Path(rel).stem}.{cls_name}"}
        model.config.architectures = [cls_name]
        model.save_pretrained(str(out), safe_serialization=True)
        shutil.copy(remote / rel, out / Path(rel).name)
        print(family, hub_id, sum(p.numel() for p in model.parameters()), "parameters")


def collect(refwork: Path, outdir: Path, runs: list[str]) -> None:
    import gzip
    from importlib.metadata import version

    import pyarrow as pa
    import pyarrow.parquet as pq

    outdir.mkdir(parents=True, exist_ok=True)
    rows = pq.read_table(refwork / "slice.parquet", columns=["row_index", "subset", "id"]).to_pydict()
    for run in runs:
        family, _, dtype = run.partition(":")
        hub_id = FAMILIES[family][0]
        scores = json.loads((refwork / "runs" / run / "scores.json").read_text())
        assert scores["subset"] == rows["subset"] and scores["id"] == rows["id"], f"{run}: row order differs"
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
        replica.mkdir(parents=True)
        weights = (refwork / hub_id / "model.safetensors").read_bytes()
        for file in (refwork / hub_id).iterdir():
            if file.suffix == ".py":  # the remote code stays out of the repository
                continue
            if file.name == "model.safetensors" and len(weights) > 4 << 20:
                (replica / "model.safetensors.gz").write_bytes(gzip.compress(weights, mtime=0))
            else:
                shutil.copy(file, replica / file.name)
        summary = {
            "family": family,
            "hub_id": hub_id,
            "rows": len(sc),
            "accuracy": sum(scores["results"]) / len(sc),
            "torch_dtype_override": dtype or None,
            "command": (refwork / f"cmd.{run}.txt").read_text().strip(),
            "versions": {p: version(p) for p in ("rewardbench", "transformers", "torch")},
            "weights_sha256": hashlib.sha256(weights).hexdigest(),
        }
        (outdir / f"{stem}.rewardbench-0.1.4.summary.json").write_text(json.dumps(summary, indent=2) + "\n")
        print(stem, "rows", len(sc), "acc", summary["accuracy"])


if __name__ == "__main__":
    cmd, *args = sys.argv[1:]
    if cmd == "build":
        refwork, toks, remote, *fams = args
        build(Path(refwork), Path(toks), Path(remote), fams or list(FAMILIES))
    else:
        refwork, outdir, *runs = args
        collect(Path(refwork), Path(outdir), runs)
