"""End-to-end speed of a full RewardBench v1 run, and the scorer's pairs/s, against the reference.

    python perf/end_to_end.py [--data ../shared/data/reward-bench/filtered.parquet]
                              [--reference-python /work/refvenv/bin/python --reference-workdir /work/refwork]
    python perf/end_to_end.py --quick      # seconds: 2 rows per subset, one run, no reference (what CI runs)

End to end = wall time of `rayward run JOB` as a new process, from process start to the printed
leaderboard, for the tiny hidden-64 Llama classifier `tiny-rm`. The reference (rewardbench 0.1.4
`scripts/run_rm.py`, set up by perf/reference/run_reference.sh) is timed the same way when its
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


def _job(tmp: Path, data: Path, model: Path, actors: int, threads: int, limit: int | None) -> Path:
    job = tmp / f"bench-{actors}x{threads}.yaml"
    limit_key = f", limit: {limit}" if limit else ""
    job.write_text(
        "name: bench\n"
        f"benchmarks: [{{name: reward-bench, source: {data}{limit_key}}}]\n"
        f"models: [{{name: tiny-rm, path: {model}}}]\n"
        f"resources: {{gpus_per_actor: 0, cpus_per_actor: {threads}, actors_per_model: {actors}, shard_size: 500}}\n"
    )
    return job


def _records(rayward: list[str], results: Path, env: dict[str, str]) -> int:
    """How many records the run wrote (its pairs), read back through `rayward sql`."""
    out = subprocess.run(
        [
            *rayward,
            "sql",
            "SELECT count(*) AS n FROM latest_records",
            "--results",
            str(results),
            "--format",
            "json",
        ],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return int(json.loads(out.stdout)[0]["n"])


def _scorer_throughput(data: Path, model: Path, threads: int, rows: int | None) -> tuple[int, float, float]:
    import pyarrow.parquet as pq
    import torch

    from orchestrator.config import model_spec
    from orchestrator.scoring.classifier import ClassifierScorer

    torch.set_num_threads(threads)
    table = pq.read_table(data)
    t = (table.slice(0, rows) if rows else table).to_pydict()
    scorer = ClassifierScorer(model_spec(name="tiny-rm", path=str(model)))
    start = time.perf_counter()
    s = scorer.score_pairs(t["prompt"], t["chosen"], t["rejected"])
    elapsed = time.perf_counter() - start
    n = len(t["prompt"])
    return n, n / elapsed, float(s.tokens_chosen.sum() + s.tokens_rejected.sum()) / elapsed


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--data", type=Path, default=REPO.parent / "shared/data/reward-bench/filtered.parquet")
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--reference-python", type=Path, default=None)
    ap.add_argument("--reference-workdir", type=Path, default=Path("/work/refwork"))
    ap.add_argument(
        "--quick",
        action="store_true",
        help="seconds, not minutes: 2 rows per subset, one run of one actor layout, 8 pairs for the scorer "
        "alone, no reference; checks the script runs, its numbers mean nothing",
    )
    args = ap.parse_args(argv)
    if not args.data.is_file():
        ap.error(f"data not found: {args.data}")
    limit = 2 if args.quick else None
    repeats = 1 if args.quick else args.repeats
    layouts = ((1, 2),) if args.quick else ((1, 2), (2, 1))
    if args.quick and args.reference_python:
        print("--quick: the reference is not run (it scores the whole split)")
        args.reference_python = None
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    rows = []
    with tempfile.TemporaryDirectory() as tmpdir:
        tmp = Path(tmpdir)
        from orchestrator.tiny import build_tiny_model

        model = build_tiny_model(tmp / "models" / "tiny-rm", kind="classifier", seed="tiny-rm")
        rayward = [sys.executable, "-m", "orchestrator.cli"]
        best_results = None
        n_pairs = 0
        for actors, threads in layouts:
            times = []
            for i in range(repeats):
                results = tmp / f"results-{actors}x{threads}-{i}"
                elapsed, out = _timed(
                    [
                        *rayward,
                        "run",
                        str(_job(tmp, args.data.resolve(), model, actors, threads, limit)),
                        "--results",
                        str(results),
                    ],
                    REPO,
                    env,
                )
                if "leaderboard" not in out.stdout:
                    raise SystemExit(f"`rayward run` printed no leaderboard:\n{out.stdout[-4000:]}")
                times.append(elapsed)
                best_results = results
                n_pairs = _records(rayward, results, env)
            rows.append((f"Rayward `rayward run` ({actors} actor x {threads} thread)", min(times), times))
        scorer_pairs, pairs_s, tokens_s = _scorer_throughput(args.data, model, 2, 8 if args.quick else None)

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
        f"RewardBench v1 {args.data.name} ({n_pairs:,} pairs{', --quick: the numbers mean nothing' if args.quick else ''}), "
        f"tiny-rm (hidden 64, 2 layers), {platform.machine()} {os.cpu_count()} cores, {date.today()}\n"
    )
    print("| run | best wall s | all runs s | speed-up vs reference |")
    print("|---|---:|---|---:|")
    for name, best, times in rows:
        speed = f"{ref_time / best:.1f}x" if ref_time else "n/a"
        print(f"| {name} | {best:.1f} | {', '.join(f'{t:.1f}' for t in times)} | {speed} |")
    print(
        f"\nScorer alone (in-process, 2 threads, load excluded, {scorer_pairs:,} pairs): {pairs_s:.1f} pairs/s, "
        f"{tokens_s:,.0f} tokens/s"
    )
    if agreement:
        print(f"Agreement with the reference: {agreement}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
