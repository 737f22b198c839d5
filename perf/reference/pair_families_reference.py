"""Replicas of the pair-input families (PairRM, Better-PairRM, SteamSHP) and their reference runs, per example.

Run with the reference venv's python (rewardbench 0.1.4, transformers 4.51), from run_reference_pair_families.sh:

    python pair_families_reference.py build REFWORK                 # tokenizers + replicas under REFWORK/<hub id>
    python pair_families_reference.py run REFWORK FAMILY ORDER OUT  # run_rm.py on one replica, outputs recorded
    python pair_families_reference.py truncation REFWORK OUT.json  # the pipelines' own inputs on over-long texts

``build``: tiny tokenizers of the families' own classes (``DebertaV2TokenizerFast`` and ``T5TokenizerFast``, each
converted from a small SentencePiece unigram model trained here on the slice's texts) and tiny random-weight
models of the reference's own classes (``DebertaV2PairRM``; ``T5ForConditionalGeneration`` with flan-t5's gated-GELU
layout), weights from a NumPy generator seeded by the family name (2-D tensors N(0, 0.1), 1-D ones 1.0). The T5
replica's output rows of ``A`` and ``B`` are scaled by 4 so that its first generated token is often one of them
(a random T5 would almost never say A or B, and the reference's verdict rule would go untested).

``run``: the reference's own ``scripts/run_rm.py`` (``runpy``) with the family's flags, in-process additions only:
a forward hook on the model records what the pipeline reads (PairRM: the ``logits`` of every call, AB then BA per
batch; SteamSHP: the first decoding step's logits), ``generate`` is wrapped to keep its output ids, and the
pipeline's verdicts are kept. SteamSHP: the pipeline shuffles the two responses with Python's global ``random``
(unseeded in the reference); ORDER ``seed0`` seeds it with ``random.seed(0)`` before run_rm.py starts, ``AB`` / ``BA``
replace ``random.shuffle`` in the pipeline's module by a fixed order (chosen shown as A / as B), so that both
orders of every example are recorded; ``unseeded`` leaves it as the reference runs it. Its ``.to("cuda")`` is mapped to the CPU (the model's device) in-process.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import runpy
import shutil
import sys
from pathlib import Path

# family -> (hub id, run_rm.py flags from the reference's scripts/configs/eval_configs.yaml)
FAMILIES = {
    "pairrm": ("llm-blender/PairRM-hf", ["--batch_size", "8"]),
    "better-pairrm": ("mightbe/Better-PairRM", ["--batch_size", "8", "--max_length", "3370"]),
    "steamshp": ("stanfordnlp/SteamSHP-flan-t5-large", ["--batch_size", "8"]),
}
# eval_configs.yaml batch sizes are 64 (PairRM) and 32 (SteamSHP); 8 here makes the 46 rows several mixed batches
PAIR_TOKENS = ["<|source|>", "<|candidate1|>", "<|candidate2|>"]
SHP_AB_SCALE = 2.7


def _texts(refwork: Path) -> list[str]:
    import pyarrow.parquet as pq

    t = pq.read_table(refwork / "slice.parquet").to_pydict()
    extra = [
        "POST: RESPONSE A: RESPONSE B: Which response is better? RESPONSE A B",
        "USER: ASSISTANT: Finish the following coversation in each i-th turn by filling in <Response 1>",
    ]
    return [x for col in ("prompt", "chosen", "rejected") for x in t[col]] + extra * 20


def _spm(texts: list[str], out: Path, **ids) -> Path:
    import sentencepiece as spm

    out.parent.mkdir(parents=True, exist_ok=True)
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(texts),
        model_prefix=str(out),
        vocab_size=800,
        model_type="unigram",
        hard_vocab_limit=False,
        character_coverage=0.995,  # the rarest characters stay unknown: the [UNK] paths are exercised
        max_sentence_length=100000,
        minloglevel=2,
        **ids,
    )
    return out.with_suffix(".model")


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


def build_pairrm(refwork: Path, family: str, texts: list[str]) -> None:
    from rewardbench.models.pairrm import DebertaV2PairRM
    from transformers import DebertaV2Config, DebertaV2TokenizerFast

    hub_id = FAMILIES[family][0]
    out = refwork / hub_id
    shutil.rmtree(out, ignore_errors=True)
    model_file = _spm(
        texts,
        refwork / "spm" / family / "spm",
        pad_id=0,
        bos_id=1,
        eos_id=2,
        unk_id=3,
        pad_piece="[PAD]",
        bos_piece="[CLS]",
        eos_piece="[SEP]",
        unk_piece="[UNK]",
    )
    tok = DebertaV2TokenizerFast(vocab_file=str(model_file), do_lower_case=False)
    tok.add_special_tokens({"mask_token": "[MASK]", "additional_special_tokens": PAIR_TOKENS})
    tok.save_pretrained(str(out))
    ids = tok.convert_tokens_to_ids(PAIR_TOKENS)
    config = DebertaV2Config(
        vocab_size=len(tok),
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=4,
        intermediate_size=64,
        hidden_act="gelu",
        max_position_embeddings=512,
        type_vocab_size=0,
        layer_norm_eps=1e-7,
        relative_attention=True,
        max_relative_positions=-1,
        position_buckets=256,
        norm_rel_ebd="layer_norm",
        share_att_key=True,
        pos_att_type=["p2c", "c2p"],
        position_biased_input=False,
        pad_token_id=tok.pad_token_id,
    )
    config.n_tasks = 1
    config.drop_out = 0.05
    config.sep_token_id = tok.sep_token_id
    config.source_prefix_id, config.cand1_prefix_id, config.cand2_prefix_id = ids
    config.cand_prefix_id = ids[1]
    model = DebertaV2PairRM(config)
    _fill(model, family)
    model.eval().save_pretrained(str(out), safe_serialization=True)
    print(family, hub_id, sum(p.numel() for p in model.parameters()), "parameters, vocab", len(tok), ids)


def build_steamshp(refwork: Path, family: str, texts: list[str]) -> None:
    import torch
    from transformers import T5Config, T5ForConditionalGeneration, T5TokenizerFast

    hub_id = FAMILIES[family][0]
    out = refwork / hub_id
    shutil.rmtree(out, ignore_errors=True)
    model_file = _spm(
        texts,
        refwork / "spm" / family / "spiece",
        pad_id=0,
        eos_id=1,
        unk_id=2,
        bos_id=-1,
        pad_piece="<pad>",
        eos_piece="</s>",
        unk_piece="<unk>",
        user_defined_symbols=["A", "B"],  # as in T5's vocabulary, "A" and "B" are single tokens
    )
    tok = T5TokenizerFast(vocab_file=str(model_file), extra_ids=0, legacy=True)
    tok.save_pretrained(str(out))
    config = T5Config(
        vocab_size=len(tok),
        d_model=32,
        d_kv=8,
        d_ff=64,
        num_layers=2,
        num_decoder_layers=2,
        num_heads=4,
        relative_attention_num_buckets=32,
        relative_attention_max_distance=128,
        feed_forward_proj="gated-gelu",
        tie_word_embeddings=False,
        dropout_rate=0.1,
        layer_norm_epsilon=1e-6,
        pad_token_id=0,
        eos_token_id=1,
        decoder_start_token_id=0,
    )
    model = T5ForConditionalGeneration(config)
    _fill(model, family)
    a_b = [tok.convert_tokens_to_ids(t) for t in ("A", "B")]
    model.eval()
    # the output rows of A and B: along the mean first-step decoder state (so that A or B is usually the top
    # token) plus and minus its first principal direction (so that A and B each win about half of the time)
    import pyarrow.parquet as pq

    rows = pq.read_table(refwork / "slice.parquet").to_pylist()
    texts = [
        f"POST: {r['prompt']}\n\n RESPONSE A: {r['chosen']}\n\n RESPONSE B: {r['rejected']}\n\n Which response is better? RESPONSE"
        for r in rows
    ]
    with torch.no_grad():
        enc = tok(texts, truncation=True, max_length=2048, padding=True, return_tensors="pt")
        start = torch.zeros((len(texts), 1), dtype=torch.long)
        hidden = model(**enc, decoder_input_ids=start, output_hidden_states=True).decoder_hidden_states[-1][
            :, 0
        ]
        centred = hidden - hidden.mean(0)
        direction = torch.linalg.svd(centred, full_matrices=False).Vh[0]
        mean = hidden.mean(0) / hidden.mean(0).norm()
        top = model.lm_head(hidden).max(-1).values.mean() / hidden.mean(0).norm()
        spread = (centred @ direction).abs().mean()
        model.lm_head.weight[a_b[0]] = (top * SHP_AB_SCALE / 3) * mean + direction / spread
        model.lm_head.weight[a_b[1]] = (top * SHP_AB_SCALE / 3) * mean - direction / spread
    model.save_pretrained(str(out), safe_serialization=True)
    print(
        family, hub_id, sum(p.numel() for p in model.parameters()), "parameters, vocab", len(tok), "A/B", a_b
    )


def build(refwork: Path, families: list[str]) -> None:
    texts = _texts(refwork)
    for family in families:
        (build_steamshp if family == "steamshp" else build_pairrm)(refwork, family, texts)


def run(refwork: Path, family: str, order: str, out: Path) -> None:
    """run_rm.py on one replica with recording hooks (see the module docstring)."""
    os.chdir(refwork)
    import pyarrow as pa
    import pyarrow.parquet as pq
    import rewardbench
    import torch
    import transformers
    from rewardbench.models import shp as shp_module

    hub_id, flags = FAMILIES[family]
    entry = rewardbench.REWARD_MODEL_CONFIG[hub_id]
    calls: list[dict] = []
    verdicts: list[bool] = []
    orders: list[str] = []
    builder, pipe_cls = entry["model_builder"], entry["pipeline_builder"]

    def model_builder(*args, **kwargs):
        model = builder(*args, **kwargs)
        if family == "steamshp":

            def hook(_m, _i, o):
                calls.append({"step_logits": o.logits[:, -1, :].float().clone()})

            generate = model.generate

            def recorded_generate(*a, **k):
                ids = generate(*a, **k)
                calls[-1]["generated"] = ids.clone()
                calls[-1]["input_ids"] = k["input_ids"].clone()
                return ids

            model.generate = recorded_generate
        else:

            def hook(_m, i, o):
                calls.append({"logits": o.logits.float().clone()})

            orig_forward = model.forward

            def recorded_forward(*a, **k):
                calls.append(
                    {"input_ids": k["input_ids"].clone(), "attention_mask": k["attention_mask"].clone()}
                )
                return orig_forward(*a, **k)

            model.forward = recorded_forward
        model.register_forward_hook(hook)
        return model

    class Recorded(pipe_cls):
        def __call__(self, a, b, **kwargs):
            result = super().__call__(a, b, **kwargs)
            verdicts.extend(bool(x) for x in result.tolist())
            return result

    entry["model_builder"] = model_builder
    entry["pipeline_builder"] = Recorded
    if family == "steamshp":
        to = transformers.BatchEncoding.to
        transformers.BatchEncoding.to = lambda self, device, **k: to(
            self, "cpu" if device == "cuda" else device, **k
        )
        format_input = shp_module.SHPPipeline._format_input

        def recorded_format(self, post, a, b):
            text, drawn = format_input(self, post, a, b)
            orders.append(drawn)
            return text, drawn

        shp_module.SHPPipeline._format_input = recorded_format
        if order in ("AB", "BA"):
            shp_module.random.shuffle = (lambda x: None) if order == "AB" else (lambda x: x.reverse())
        elif order == "seed0":
            random.seed(0)
        elif order != "unseeded":  # unseeded: the reference exactly as it runs (its draws change per run)
            raise SystemExit(f"unknown order {order}")
    cmd = [
        "run_rm.py",
        "--model",
        hub_id,
        "--not_quantized",
        "--torch_dtype",
        "float32",
        *flags,
        "--do_not_save",
        "--disable_beaker_save",
    ]
    (refwork / f"cmd.{family}.{order}.txt").write_text(" ".join(cmd) + "\n")
    sys.argv = cmd
    run_rm = Path(rewardbench.__file__).parent.parent / "scripts" / "run_rm.py"
    runpy.run_path(str(run_rm), run_name="__main__")

    rows = pq.read_table(refwork / "slice.parquet", columns=["row_index", "subset", "id"]).to_pydict()
    n = len(rows["id"])
    assert len(verdicts) == n, (len(verdicts), n)
    cols: dict = {
        "row_index": pa.array(rows["row_index"], pa.int64()),
        "subset": pa.array(rows["subset"], pa.string()),
        "id": pa.array(rows["id"], pa.int64()),
        "result": pa.array([int(v) for v in verdicts], pa.int8()),
    }
    if family == "steamshp":
        from transformers import AutoTokenizer

        tok = AutoTokenizer.from_pretrained(hub_id)
        a_id, b_id = (tok.convert_tokens_to_ids(t) for t in ("A", "B"))
        step = torch.cat([c["step_logits"] for c in calls])
        gen = [g for c in calls for g in c["generated"].tolist()]
        ids = [row for c in calls for row in c["input_ids"].tolist()]
        assert step.shape[0] == n and len(orders) == n
        cols |= {
            "order": pa.array(orders, pa.string()),
            "logit_a": pa.array(step[:, a_id].tolist(), pa.float64()),
            "logit_b": pa.array(step[:, b_id].tolist(), pa.float64()),
            "top_id": pa.array(step.argmax(-1).tolist(), pa.int64()),
            "generated_id": pa.array([g[-1] for g in gen], pa.int64()),
            "decoded": pa.array(tok.batch_decode(gen, skip_special_tokens=True), pa.string()),
            "input_tokens": pa.array([sum(1 for x in r if x != tok.pad_token_id) for r in ids], pa.int32()),
            "input_sha1": pa.array(
                [_sha1([x for x in r if x != tok.pad_token_id]) for r in ids], pa.string()
            ),
        }
    else:
        inputs = [c for c in calls if "input_ids" in c]
        logits = [c["logits"] for c in calls if "logits" in c]
        assert len(inputs) == len(logits) and len(inputs) % 2 == 0
        per_order: dict[str, dict[str, list]] = {"ab": {}, "ba": {}}
        for k, name in enumerate(("ab", "ba") * (len(inputs) // 2)):
            d = per_order[name]
            d.setdefault("logit", []).extend(logits[k].tolist())
            for ids, mask in zip(inputs[k]["input_ids"].tolist(), inputs[k]["attention_mask"].tolist()):
                kept = [x for x, m in zip(ids, mask) if m]
                d.setdefault("tokens", []).append(len(kept))
                d.setdefault("sha1", []).append(_sha1(kept))
        for name, d in per_order.items():
            assert len(d["logit"]) == n
            cols[f"logit_{name}"] = pa.array(d["logit"], pa.float64())
            cols[f"tokens_{name}"] = pa.array(d["tokens"], pa.int32())
            cols[f"sha1_{name}"] = pa.array(d["sha1"], pa.string())
    out.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.table(cols), out)
    from importlib.metadata import version

    summary = {
        "family": family,
        "hub_id": hub_id,
        "order": order if family == "steamshp" else None,
        "rows": n,
        "accuracy": sum(verdicts) / n,
        "command": " ".join(cmd),
        "versions": {p: version(p) for p in ("rewardbench", "transformers", "torch")},
    }
    out.with_suffix(".summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    print(family, order, "rows", n, "acc", summary["accuracy"])


LONG_CASES = {
    # name -> (prompt rows, chosen rows, rejected rows): each text is the slice's texts of those rows joined by
    # spaces, long enough that every cut of the families binds
    "long-prompt": ((0, 46), (0, 1), (1, 2)),
    "long-candidates": ((0, 1), (0, 46), (10, 46)),
    "all-long": ((0, 46), (0, 46), (5, 46)),
}


def long_case_texts(rows: list[dict], case: str) -> tuple[str, str, str]:
    """The (prompt, chosen, rejected) texts of one :data:`LONG_CASES` case."""
    (p0, p1), (c0, c1), (r0, r1) = LONG_CASES[case]
    return (
        " ".join(r["prompt"] for r in rows[p0:p1]),
        " ".join(r["chosen"] for r in rows[c0:c1]),
        " ".join(r["rejected"] for r in rows[r0:r1]),
    )


def truncation(refwork: Path, out: Path) -> None:
    """The reference's own input construction of each family on over-long inputs (ids of both orders)."""
    import pyarrow.parquet as pq
    from rewardbench.models import betterpairrm, pairrm
    from transformers import AutoTokenizer

    rows = pq.read_table(refwork / "slice.parquet").to_pylist()
    result: dict = {}
    for family, module in (("pairrm", pairrm), ("better-pairrm", betterpairrm), ("steamshp", None)):
        tok = AutoTokenizer.from_pretrained(str(refwork / FAMILIES[family][0]))
        for case in LONG_CASES:
            prompt, chosen, rejected = long_case_texts(rows, case)

            def conv(c: str, prompt: str = prompt) -> list[dict]:
                return [{"role": "user", "content": prompt}, {"role": "assistant", "content": c}]

            if module is None:  # SHPPipeline's tokenizer call, order AB (run_rm.py's max_length 2048)
                text = (
                    f"POST: {prompt}\n\n RESPONSE A: {chosen}\n\n RESPONSE B: {rejected}\n\n Which response is "
                    "better? RESPONSE"
                )
                seqs = [tok([text], truncation=True, max_length=2048, padding=True)["input_ids"][0]]
            else:
                seqs = []
                for a, b in ((chosen, rejected), (rejected, chosen)):
                    enc = module.tokenize_conv_pair(tok, [conv(a)], [conv(b)])
                    seqs.append(
                        [
                            x
                            for x, m in zip(enc["input_ids"][0].tolist(), enc["attention_mask"][0].tolist())
                            if m
                        ]
                    )
            result[f"{family}/{case}"] = [{"tokens": len(s), "sha1": _sha1(s)} for s in seqs]
            print(family, case, [len(s) for s in seqs])
    out.write_text(json.dumps(result, indent=1) + "\n")


def _sha1(ids: list[int]) -> str:
    return hashlib.sha1(json.dumps(ids).encode()).hexdigest()[:16]


if __name__ == "__main__":
    cmd, *args = sys.argv[1:]
    if cmd == "truncation":
        truncation(Path(args[0]).resolve(), Path(args[1]).resolve())
    elif cmd == "build":
        build(Path(args[0]).resolve(), args[1:] or list(FAMILIES))
    else:
        run(Path(args[0]).resolve(), args[1], args[2], Path(args[3]).resolve())
