"""Scoring throughput of Rayward's scorer against the reference's approach, on one device, no Ray.

    python perf/gpu_scoring.py --device cuda --configs llama3.2-1b,gemma2-2b,llama3-8b
    python perf/gpu_scoring.py --device cpu --configs tiny,100m --limit 16
    python perf/gpu_scoring.py --quick     # seconds: tiny on CPU, 8 pairs, max_length 512 (what CI runs)

Models are random-initialised sequence classifiers (one label) of real architectures, built
locally (no download) with the tiny byte-level tokenizer of :mod:`orchestrator.tiny` (its
embedding padded to the configuration's vocabulary), saved as safetensors to a temporary
directory and loaded back, so load time is measured too. The texts are the real RewardBench v1
(``filtered``) conversations rendered with the tokenizer's chat template; ``--limit N`` takes
N pairs spread evenly over the dataset (all subsets, a representative length mix).

Each path runs in its own process (clean peak memory, clean load):

* **rayward**: :class:`orchestrator.scoring.classifier.ClassifierScorer` (bf16 on GPU, fp32 on
  CPU; length-sorted batches under the token budget, causal no-mask path, prefetching loader,
  token ids cached per call);
* **reference**: ``scripts/run_rm.py`` of rewardbench 0.1.4 re-enacted: batches of 64 pairs in
  dataset order, chosen then rejected texts of each batch tokenized on the fly, padded to the
  batch's longest, attention mask with a doubled BOS masked; fp16 on GPU, fp32 on CPU.

Both time from formatted texts to scores (tokenization included), after one warm-up batch;
``--warm`` (default on GPU) adds a Rayward row timed again with its token ids cached.
TFLOP/s is the 2 x (non-embedding parameters) x (real tokens) floor over the scoring time:
attention and padding work are not counted. Peak memory is ``torch.cuda.max_memory_allocated``
on GPU and the process's peak RSS on CPU. The same run checks that both paths' scores agree
(fp32 both: tight; half precision: loose) and how often they give the same ``correct``.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

# name -> (architecture, config keyword arguments; vocab_size None = the tokenizer's own)
CONFIGS: dict[str, tuple[str, dict]] = {
    "tiny": (
        "llama",
        dict(
            vocab_size=None,
            hidden_size=64,
            intermediate_size=128,
            num_hidden_layers=2,
            num_attention_heads=4,
            num_key_value_heads=2,
        ),
    ),
    "100m": (
        "llama",
        dict(
            vocab_size=32000,
            hidden_size=768,
            intermediate_size=2048,
            num_hidden_layers=12,
            num_attention_heads=12,
            num_key_value_heads=4,
            rope_theta=500000.0,
        ),
    ),
    "llama3.2-1b": (
        "llama",
        dict(
            vocab_size=128256,
            hidden_size=2048,
            intermediate_size=8192,
            num_hidden_layers=16,
            num_attention_heads=32,
            num_key_value_heads=8,
            head_dim=64,
            rope_theta=500000.0,
            rms_norm_eps=1e-5,
            tie_word_embeddings=True,
        ),
    ),
    "llama3-8b": (
        "llama",
        dict(
            vocab_size=128256,
            hidden_size=4096,
            intermediate_size=14336,
            num_hidden_layers=32,
            num_attention_heads=32,
            num_key_value_heads=8,
            rope_theta=500000.0,
            rms_norm_eps=1e-5,
        ),
    ),
    "gemma2-2b": (
        "gemma2",
        dict(
            vocab_size=256000,
            hidden_size=2304,
            intermediate_size=9216,
            num_hidden_layers=26,
            num_attention_heads=8,
            num_key_value_heads=4,
            head_dim=256,
            query_pre_attn_scalar=256,
            sliding_window=4096,
            attn_logit_softcapping=50.0,
            final_logit_softcapping=30.0,
            hidden_activation="gelu_pytorch_tanh",
        ),
    ),
}

# dense bf16/fp16 tensor-core peaks (TFLOP/s), for the "% of peak" column
PEAKS = {"H200": 989.0, "H100 PCIe": 756.0, "H100": 989.0, "A100": 312.0, "L40S": 362.0, "A10G": 125.0}

REF_BATCH = 64


# ----------------------------------------------------------------------------- model building


def build_model(name: str, out: Path, dtype_name: str) -> Path:
    """Random-initialised classifier of configuration ``name`` with the tiny tokenizer, saved to ``out``."""
    import torch
    import transformers

    from orchestrator.tiny import build_tokenizer

    arch, kwargs = CONFIGS[name]
    out.mkdir(parents=True, exist_ok=True)
    tok = build_tokenizer(out)
    kwargs = dict(kwargs)
    kwargs["vocab_size"] = max(len(tok), kwargs["vocab_size"] or 0)
    common = dict(
        num_labels=1,
        bos_token_id=tok.bos_token_id,
        eos_token_id=tok.eos_token_id,
        pad_token_id=None,
        max_position_embeddings=8192,
    )
    if arch == "llama":
        config, cls = (
            transformers.LlamaConfig(**common, **kwargs),
            transformers.LlamaForSequenceClassification,
        )
    else:
        config, cls = (
            transformers.Gemma2Config(**common, **kwargs),
            transformers.Gemma2ForSequenceClassification,
        )
    torch.manual_seed(0)
    previous = torch.get_default_dtype()
    torch.set_default_dtype(getattr(torch, dtype_name))
    try:
        model = cls(config)
    finally:
        torch.set_default_dtype(previous)
    model.eval()
    model.save_pretrained(str(out), safe_serialization=True)
    del model
    gc.collect()
    return out


def load_texts(data: Path, tokenizer, limit: int | None) -> tuple[list[str], list[str]]:
    import pyarrow.parquet as pq

    from orchestrator.scoring.formatting import format_conversations

    t = pq.read_table(data, columns=["prompt", "chosen", "rejected"]).to_pydict()
    n = len(t["prompt"])
    rows = list(range(n)) if not limit or limit >= n else [i * n // limit for i in range(limit)]
    prompts = [t["prompt"][i] for i in rows]
    chosen = format_conversations(tokenizer, prompts, [t["chosen"][i] for i in rows])
    rejected = format_conversations(tokenizer, prompts, [t["rejected"][i] for i in rows])
    return chosen, rejected


# ----------------------------------------------------------------------------- one path, own process


class _Mem:
    def __init__(self, device: str):
        self.device = device

    def reset(self) -> None:
        import torch

        if self.device.startswith("cuda"):
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()

    def peak_bytes(self) -> int:
        import torch

        if self.device.startswith("cuda"):
            return int(torch.cuda.max_memory_allocated())
        return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) * 1024  # Linux: KiB


def _sync(device: str) -> None:
    import torch

    if device.startswith("cuda"):
        torch.cuda.synchronize()


def run_rayward(
    model_dir: Path,
    texts: list[str],
    device: str,
    max_length: int,
    batch_tokens: int | None,
    warm: bool = False,
) -> dict:
    from orchestrator.config import model_spec
    from orchestrator.scoring.classifier import ClassifierScorer

    mem = _Mem(device)
    mem.reset()
    scorer = ClassifierScorer(
        model_spec(name="bench", path=str(model_dir), max_length=max_length, batch_tokens=batch_tokens),
        device=device,
    )
    scorer.score_texts(["warm-up", "a somewhat longer warm-up text"])
    _sync(device)
    start = time.perf_counter()
    scores, tokens = scorer.score_texts(texts)
    _sync(device)
    elapsed = time.perf_counter() - start
    warm_seconds = None
    if warm:  # again, token ids now from the cache: scoring alone
        start = time.perf_counter()
        scorer.score_texts(texts)
        _sync(device)
        warm_seconds = time.perf_counter() - start
    return {
        "scores": scores.tolist(),
        "tokens": tokens.tolist(),
        "seconds": elapsed,
        "warm_seconds": warm_seconds,
        "load_seconds": scorer.info.extra["model_load_seconds"],
        "peak_bytes": mem.peak_bytes(),
        "dtype": scorer.info.dtype,
        "attn": scorer.info.extra.get("attn_implementation"),
        "batch_tokens": scorer.batch_tokens,
    }


def run_reference(model_dir: Path, texts: list[str], device: str, max_length: int) -> dict:
    """rewardbench 0.1.4 ``run_rm.py`` + ``RewardBenchPipeline``: batches of 64 pairs in dataset order."""
    import torch
    import transformers

    mem = _Mem(device)
    mem.reset()
    dtype = torch.float16 if device.startswith("cuda") else torch.float32
    tok = transformers.AutoTokenizer.from_pretrained(str(model_dir))
    tok.truncation_side = "left"
    start = time.perf_counter()
    model = (
        transformers.AutoModelForSequenceClassification.from_pretrained(str(model_dir), dtype=dtype)
        .to(device)
        .eval()
    )
    if tok.pad_token_id is None:
        tok.pad_token_id = tok.eos_token_id
        model.config.pad_token_id = tok.eos_token_id
    _sync(device)
    load = time.perf_counter() - start

    def call(batch: list[str]) -> list[float]:
        # RewardBenchPipeline.__call__ of rewardbench 0.1.4, verbatim in effect
        inputs = tok(batch, truncation=True, max_length=max_length, padding=True, return_tensors="pt").to(
            device
        )
        if tok.bos_token:
            ids, mask = inputs["input_ids"], inputs["attention_mask"]
            starts = mask.argmax(dim=1)
            second = torch.clamp(starts + 1, max=ids.size(1) - 1)
            rows = torch.arange(ids.size(0), device=ids.device)
            double = (ids[rows, starts] == tok.bos_token_id) & (ids[rows, second] == tok.bos_token_id)
            if double.any():
                mask[rows[double], starts[double]] = 0
        with torch.no_grad():
            logits = model(**inputs).logits
        return logits[:, 0].float().cpu().numpy().tolist()

    call(["warm-up", "a somewhat longer warm-up text"])
    n = len(texts) // 2
    chosen, rejected = texts[:n], texts[n:]
    out_c: list[float] = []
    out_r: list[float] = []
    _sync(device)
    start = time.perf_counter()
    for i in range(0, n, REF_BATCH):
        out_c += call(chosen[i : i + REF_BATCH])
        out_r += call(rejected[i : i + REF_BATCH])
    _sync(device)
    elapsed = time.perf_counter() - start
    tokens = [len(x) for x in tok(texts, truncation=True, max_length=max_length)["input_ids"]]
    return {
        "scores": out_c + out_r,
        "tokens": tokens,
        "seconds": elapsed,
        "load_seconds": load,
        "peak_bytes": mem.peak_bytes(),
        "dtype": str(dtype).removeprefix("torch."),
        "attn": getattr(model.config, "_attn_implementation", None),
        "batch_tokens": None,
    }


def child(args: argparse.Namespace) -> None:
    import torch

    if args.device == "cpu":
        torch.set_num_threads(args.threads)
    texts = json.loads(Path(args.texts).read_text())
    if args.child == "rayward":
        result = run_rayward(
            Path(args.model_dir), texts, args.device, args.max_length, args.batch_tokens, args.warm
        )
    else:
        result = run_reference(Path(args.model_dir), texts, args.device, args.max_length)
    Path(args.result).write_text(json.dumps(result))


# ----------------------------------------------------------------------------- driver


def non_embedding_params(model_dir: Path) -> int:
    from safetensors import safe_open

    total = 0
    for file in sorted(model_dir.glob("*.safetensors")):
        with safe_open(str(file), framework="pt") as f:
            for key in f.keys():
                if "embed_tokens" in key:
                    continue
                shape = f.get_slice(key).get_shape()
                count = 1
                for d in shape:
                    count *= d
                total += count
    return total


def _peak_tflops(device: str) -> float | None:
    if not device.startswith("cuda"):
        return None
    import torch

    name = torch.cuda.get_device_name()
    return next((v for k, v in PEAKS.items() if k in name), None)


def _device_name(device: str) -> str:
    if device.startswith("cuda"):
        import torch

        return torch.cuda.get_device_name()
    model = platform.processor() or platform.machine()
    try:
        model = next(
            line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")
        )
    except (OSError, StopIteration):
        pass
    return f"CPU {model}, {os.cpu_count()} cores visible"


def _fmt_bytes(n: int) -> str:
    return f"{n / 2**30:.2f} GiB" if n >= 2**30 else f"{n / 2**20:.0f} MiB"


def bench_config(name: str, args: argparse.Namespace, tmp: Path) -> tuple[list[str], str, bool]:
    import numpy as np

    from orchestrator.scoring._hf import load_tokenizer  # noqa: F401 - import check (no Ray)

    half = args.device.startswith("cuda")
    model_dir = build_model(name, tmp / name, "bfloat16" if half else "float32")
    import transformers

    tok = transformers.AutoTokenizer.from_pretrained(str(model_dir))
    chosen, rejected = load_texts(args.data, tok, args.limit)
    texts_file = tmp / f"{name}-texts.json"
    texts_file.write_text(json.dumps(chosen + rejected))
    n = len(chosen)
    params = non_embedding_params(model_dir)
    results = {}
    for path in ("rayward", "reference"):
        result_file = tmp / f"{name}-{path}.json"
        cmd = [
            sys.executable,
            str(Path(__file__).resolve()),
            "--_child",
            path,
            "--_model-dir",
            str(model_dir),
            "--_texts",
            str(texts_file),
            "--_result",
            str(result_file),
            "--device",
            args.device,
            "--threads",
            str(args.threads),
            "--max-length",
            str(args.max_length),
        ]
        if args.batch_tokens:
            cmd += ["--batch-tokens", str(args.batch_tokens)]
        if args.warm:
            cmd += ["--warm"]
        proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True)
        if proc.returncode != 0:
            raise SystemExit(f"{name}/{path} failed ({proc.returncode}):\n{proc.stderr[-4000:]}")
        results[path] = json.loads(result_file.read_text())
    peak = _peak_tflops(args.device)
    rows = []
    variants = [("rayward", "Rayward scorer", "seconds")]
    if results["rayward"].get("warm_seconds"):
        variants.append(("rayward", "Rayward scorer, token ids cached", "warm_seconds"))
    variants.append(("reference", "reference run_rm.py way", "seconds"))
    for path, label, key in variants:
        r = results[path]
        seconds = r[key]
        tokens = int(sum(r["tokens"]))
        tflops = 2.0 * params * tokens / seconds / 1e12
        pct = f"{100 * tflops / peak:.1f}%" if peak else "n/a"
        speed = results["reference"]["seconds"] / seconds
        rows.append(
            f"| {name} | {label} | {r['dtype']} | {n / seconds:.2f} | {tokens / seconds:,.0f} | "
            f"{tflops:.3f} | {pct} | {_fmt_bytes(r['peak_bytes'])} | {r['load_seconds']:.2f} | "
            f"{seconds:.2f} | {speed:.2f}x |"
        )
    ours = np.asarray(results["rayward"]["scores"])
    ref = np.asarray(results["reference"]["scores"])
    same_tokens = results["rayward"]["tokens"] == results["reference"]["tokens"]
    diff = float(np.max(np.abs(ours - ref))) if n else 0.0
    scale = float(max(1.0, np.max(np.abs(ref)))) if n else 1.0
    tight = results["rayward"]["dtype"] == results["reference"]["dtype"] == "float32"
    tol = 1e-4 if tight else 5e-2
    ok = diff <= tol * scale
    correct_same = int(np.sum((ours[:n] > ours[n:]) == (ref[:n] > ref[n:])))
    check = (
        f"- **{name}** ({params / 1e6:,.1f}M non-embedding parameters, {n} pairs, "
        f"{int(sum(results['rayward']['tokens'])):,} tokens; Rayward attention "
        f"`{results['rayward']['attn']}`, batch_tokens {results['rayward']['batch_tokens']}): "
        f"max |score difference| {diff:.2e} (tolerance {tol:g} x {scale:.2f}, "
        f"{'tight: fp32 both' if tight else 'loose: half precision'}) -> {'OK' if ok else 'MISMATCH'}; "
        f"same `correct` on {correct_same}/{n} pairs; token counts identical: {same_tokens}"
    )
    return rows, check, ok


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="cpu", help="cpu or cuda (cuda:N)")
    ap.add_argument(
        "--configs",
        default=None,
        help=f"comma-separated, of {', '.join(CONFIGS)} "
        "(default: tiny,100m on CPU; llama3.2-1b,gemma2-2b,llama3-8b on GPU)",
    )
    ap.add_argument(
        "--limit", type=int, default=None, help="pairs to score (spread over the dataset); default all"
    )
    ap.add_argument("--data", type=Path, default=REPO.parent / "shared/data/reward-bench/filtered.parquet")
    ap.add_argument("--max-length", type=int, default=2048)
    ap.add_argument(
        "--batch-tokens", type=int, default=None, help="Rayward's token budget (default: the scorer's)"
    )
    ap.add_argument("--threads", type=int, default=2, help="torch threads on CPU")
    ap.add_argument(
        "--warm",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="also time Rayward a second time with its token ids cached (default: on GPU only)",
    )
    ap.add_argument(
        "--quick",
        action="store_true",
        help="seconds, not minutes: --device cpu --configs tiny --limit 8 --max-length 512 --threads 1; "
        "checks the script runs and both paths agree, its numbers mean nothing",
    )
    ap.add_argument("--_child", choices=["rayward", "reference"], help=argparse.SUPPRESS)
    ap.add_argument("--_model-dir", dest="model_dir", help=argparse.SUPPRESS)
    ap.add_argument("--_texts", dest="texts", help=argparse.SUPPRESS)
    ap.add_argument("--_result", dest="result", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    args.child = args._child
    if args.quick and not args.child:
        args.device, args.configs, args.threads = "cpu", "tiny", 1
        args.limit, args.max_length = args.limit or 8, min(args.max_length, 512)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    import transformers

    transformers.utils.logging.disable_progress_bar()
    if args.child:
        child(args)
        return 0
    cuda = args.device.startswith("cuda")
    if args.warm is None:
        args.warm = cuda
    names = [
        c.strip()
        for c in (args.configs or ("llama3.2-1b,gemma2-2b,llama3-8b" if cuda else "tiny,100m")).split(",")
        if c.strip()
    ]
    unknown = [c for c in names if c not in CONFIGS]
    if unknown:
        ap.error(f"unknown config(s) {unknown}: choose from {', '.join(CONFIGS)}")
    if not args.data.is_file():
        ap.error(f"data not found: {args.data}")
    import torch

    torch.set_num_threads(args.threads)
    table = [
        "| config | path | dtype | pairs/s | tokens/s | TFLOP/s (2·N·T) | % of peak | peak memory | load s | score s | speed-up |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    checks = []
    all_ok = True
    with tempfile.TemporaryDirectory(prefix="rayward-gpu-bench-") as tmpdir:
        for name in names:
            rows, check, ok = bench_config(name, args, Path(tmpdir))
            table += rows
            checks.append(check)
            all_ok = all_ok and ok
    mem_kind = "torch.cuda.max_memory_allocated" if cuda else "peak RSS of the path's process"
    print(
        f"RewardBench v1 filtered, {args.limit or 'all'} pairs, max_length {args.max_length}; device {_device_name(args.device)}"
        f"{'' if cuda else f', {args.threads} torch threads'}; torch {torch.__version__}; {date.today()}\n"
    )
    print("\n".join(table))
    print(
        f"\nPeak memory: {mem_kind}. Speed-up: reference scoring time / this path's. Load s: weights to device.\n"
    )
    print("Correctness (same run):\n" + "\n".join(checks))
    if not all_ok:
        print("MISMATCH: the two paths' scores differ beyond the tolerance", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
