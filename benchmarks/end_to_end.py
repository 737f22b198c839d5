"""End-to-end speed of a full RewardBench v1 run, and the scorer's pairs/s, against the reference.

    python benchmarks/end_to_end.py [--data ../shared/data/reward-bench/filtered.parquet]
                                    [--reference-python /work/refvenv/bin/python --reference-workdir /work/refwork]

End to end = wall time of `rayward run JOB` as a new process, from process start to the printed
leaderboard, for the tiny hidden-64 Llama classifier `tiny-rm`. The reference (rewardbench 0.1.4
`scripts/run_rm.py`, set up by benchmarks/reference/run_reference.sh) is timed the same way when its
Python is given, and its per-example results are compared with Rayward's. Prints a markdown table.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _timed(cmd: list[str], cwd: Path, env: dict[str, str]) -> tuple[float, subprocess.CompletedProcess]:
    start = time.perf_counter()
    out = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if out.returncode != 0:
        raise SystemExit(f"command failed ({out.returncode}): {' '.join(cmd)}\n{out.stderr[-4000:]}")
    return elapsed, out


def _job(tmp: Path, data: Path, model: Path, actors: int, threads: int) -> Path:
    job = tmp / f"bench-{actors}x{threads}.yaml"
    job.write_text(
        "name: bench\n"
        f"benchmarks: [{{name: reward-bench, source: {data}}}]\n"
        f"models: [{{name: tiny-rm, path: {model}}}]\n"
        f"resources: {{gpus_per_actor: 0, cpus_per_actor: {threads}, actors_per_model: {actors}, shard_size: 500}}\n"
    )
    return job


def _scorer_throughput(data: Path, model: Path, threads: int) -> tuple[float, float]:
    import pyarrow.parquet as pq
    import torch

    from orchestrator.config import model_spec
    from orchestrator.scoring.classifier import ClassifierScorer

    torch.set_num_threads(threads)
    t = pq.read_table(data).to_pydict()
    scorer = ClassifierScorer(model_spec(name="tiny-rm", path=str(model)))
    start = time.perf_counter()
    s = scorer.score_pairs(t["prompt"], t["chosen"], t["rejected"])
    elapsed = time.perf_counter() - start
    n = len(t["prompt"])
    return n / elapsed, float(s.tokens_chosen.sum() + s.tokens_rejected.sum()) / elapsed


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=REPO.parent / "shared/data/reward-bench/filtered.parquet")
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--reference-python", type=Path, default=None)
    ap.add_argument("--reference-workdir", type=Path, default=Path("/work/refwork"))
    args = ap.parse_args()
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    rows = []
    with tempfile.TemporaryDirectory() as tmpdir:
        tmp = Path(tmpdir)
        from orchestrator.tiny import build_tiny_model

        model = build_tiny_model(tmp / "models" / "tiny-rm", kind="classifier", seed="tiny-rm")
        rayward = [sys.executable, "-m", "orchestrator.cli"]
        best_results = None
        for actors, threads in ((1, 2), (2, 1)):
            times = []
            for i in range(args.repeats):
                results = tmp / f"results-{actors}x{threads}-{i}"
                elapsed, out = _timed(
                    [
                        *rayward,
                        "run",
                        str(_job(tmp, args.data.resolve(), model, actors, threads)),
                        "--results",
                        str(results),
                    ],
                    REPO,
                    env,
                )
                assert "leaderboard" in out.stdout
                times.append(elapsed)
                best_results = results
            rows.append((f"Rayward `rayward run` ({actors} actor x {threads} thread)", min(times), times))
        pairs_s, tokens_s = _scorer_throughput(args.data, model, threads=2)

        agreement = ""
        if args.reference_python:
            wd = args.reference_workdir
            script = next(
                args.reference_python.parent.parent.glob("lib/python*/site-packages/scripts/run_rm.py")
            )
            ref_model = wd / "models" / "tiny-rm"
            cmd = [
                str(args.reference_python),
                str(script),
                "--model",
                str(ref_model),
                "--not_quantized",
                "--torch_dtype",
                "float32",
                "--batch_size",
                "64",
                "--max_length",
                "2048",
                "--do_not_save",
                "--disable_beaker_save",
            ]
            elapsed, _ = _timed(cmd, wd, env)
            rows.append(("reference `scripts/run_rm.py` (rewardbench 0.1.4)", elapsed, [elapsed]))
            scores_file = next((wd / "results" / "eval-set-scores").rglob("tiny-rm.json"))
            ref = json.loads(scores_file.read_text())
            sql = "SELECT correct, score_chosen FROM latest_records ORDER BY row_index"
            out = subprocess.run(
                [*rayward, "sql", sql, "--results", str(best_results), "--format", "json"],
                cwd=REPO,
                env=env,
                capture_output=True,
                text=True,
                check=True,
            )
            ours = json.loads(out.stdout)
            same = sum(int(o["correct"]) == r for o, r in zip(ours, ref["results"]))
            diff = max(
                abs(o["score_chosen"] - (r[0] if isinstance(r, list) else r))
                for o, r in zip(ours, ref["scores_chosen"])
            )
            agreement = f"{same}/{len(ours)} identical `correct`; max |score difference| {diff:.2e}"

    ref_time = next((t for name, t, _ in rows if name.startswith("reference")), None)
    print(
        f"RewardBench v1 filtered (2,985 pairs), tiny-rm (hidden 64, 2 layers), {platform.machine()} {os.cpu_count()} cores, {date.today()}\n"
    )
    print("| run | best wall s | all runs s | speed-up vs reference |")
    print("|---|---:|---|---:|")
    for name, best, times in rows:
        speed = f"{ref_time / best:.1f}x" if ref_time else "n/a"
        print(f"| {name} | {best:.1f} | {', '.join(f'{t:.1f}' for t in times)} | {speed} |")
    print(
        f"\nScorer alone (in-process, 2 threads, load excluded): {pairs_s:.1f} pairs/s, {tokens_s:,.0f} tokens/s"
    )
    if agreement:
        print(f"Agreement with the reference: {agreement}")


if __name__ == "__main__":
    main()
