"""Multi-model GPU scheduling: makespan against the ideal for 20 models on 8 GPUs (simulated cluster).

    python benchmarks/scheduling.py [--data ../shared/data/reward-bench/filtered.parquet] [--gpus 8]
                                    [--ideal-seconds 40] [--skip-ray] [--policies naive,lpt]

1. Calibration: real scoring of the tiny classifier on this CPU gives seconds per (parameter x token).
2. The pure simulator (:func:`orchestrator.runtime.scheduling.simulate`) on 20 models of 0.5B-70B parameters
   (four tensor-parallel: three TP=2, one TP=4) over the real v1 data's token counts: naive (job order),
   LPT, LPT with backfilling. Makespan / ideal, where ideal = max(total GPU-work / GPUs, longest model).
3. The real driver (``rayward``'s ``_Driver``, real Ray with ``--gpus`` fake GPUs, real placement groups,
   real Parquet records) with modelled workers: each unit sleeps parameters x tokens x rate / TP, the
   calibrated rate compressed so the ideal makespan is ``--ideal-seconds``. Measured makespan = first
   actor start to last model finished, from the run's manifest.
4. Weight prefetch: load time of a 30M-parameter model with its weight file evicted from the page
   cache, and after the driver-side prefetch read it (what the driver does for the next waiting model).
Prints markdown tables.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from orchestrator.runtime.worker import ScoringWorker  # noqa: E402

# (name, parameters in billions, tensor_parallel_size): a mixed reward-model leaderboard sweep
MODELS = [
    ("qwen2-0.5b-rm", 0.5, 1),
    ("tinyllama-1.1b-rm", 1.1, 1),
    ("qwen2-1.5b-rm", 1.5, 1),
    ("gemma-2b-rm", 2.5, 1),
    ("phi-2-rm", 2.7, 1),
    ("qwen2.5-3b-rm", 3.1, 1),
    ("phi-3-mini-rm", 3.8, 1),
    ("mistral-7b-rm", 7.2, 1),
    ("llama-3-8b-rm", 8.0, 1),
    ("qwen2-7b-rm", 7.6, 1),
    ("gemma-2-9b-rm", 9.2, 1),
    ("internlm2-7b-rm", 7.7, 1),
    ("llama-3.1-8b-rm", 8.0, 1),
    ("yi-9b-rm", 8.8, 1),
    ("llama-2-13b-rm", 13.0, 1),
    ("qwen2.5-14b-rm", 14.8, 1),
    ("gemma-2-27b-rm", 27.2, 2),
    ("qwen2.5-32b-rm", 32.8, 2),
    ("yi-34b-rm", 34.4, 2),
    ("llama-3-70b-rm", 70.6, 4),
]


class ModelledWorker(ScoringWorker):
    """A scoring actor whose cost is the model: it sleeps parameters x tokens x rate / TP per unit.

    Its records are real (scores = text lengths), written by the real driver.
    """

    def load(self):
        self.rate = float(os.environ["RAYWARD_BENCH_RATE"])
        return {
            "load_seconds": 0.0,
            "fingerprint": "modelled",
            "num_parameters": self.spec.num_parameters,
            "revision": None,
            "dtype": "modelled",
            "device": "modelled",
        }

    def score(self, examples, start, stop, *, run_id, benchmark, shard):
        import numpy as np

        from orchestrator.results.records import make_table
        from orchestrator.runtime.scheduling import row_tokens
        from orchestrator.scoring.columns import pair_columns

        if not hasattr(self, "rate"):
            self.load()
        part = examples.slice(start, stop - start)
        time.sleep(
            self.spec.num_parameters * sum(row_tokens(part)) * self.rate / self.spec.tensor_parallel_size
        )

        def lengths(prompts, texts):
            return np.array([float(len(t)) for t in texts]), np.array([len(t) // 4 for t in texts])

        p, c, r = (part.column(k).to_pylist() for k in ("prompt", "chosen", "rejected"))
        n = part.num_rows
        return make_table(
            {
                "schema_version": [3] * n,
                "run_id": [run_id] * n,
                "benchmark": [benchmark] * n,
                "model": [self.spec.name] * n,
                "kind": [self.spec.kind] * n,
                "subset": part.column("subset"),
                "example_id": part.column("id"),
                "row_index": part.column("row_index"),
                "prompt": p,
                "shard": [shard] * n,
                "scorer": ["modelled"] * n,
                **pair_columns(lengths, p, c, r),
            }
        )


def _calibrate(data: Path, model: Path, n: int = 100) -> tuple[float, int, int, float]:
    """Seconds per (parameter x token) of real tiny-model scoring on this CPU."""
    import pyarrow.parquet as pq
    import torch

    from orchestrator.config import model_spec
    from orchestrator.runtime.scheduling import estimate_parameters, row_tokens
    from orchestrator.scoring.classifier import ClassifierScorer

    torch.set_num_threads(2)
    table = pq.read_table(data).slice(0, n)
    spec = model_spec(name="tiny-rm", path=str(model))
    params, _ = estimate_parameters(spec)
    tokens = sum(row_tokens(table))
    scorer = ClassifierScorer(spec)
    t = table.to_pydict()
    start = time.perf_counter()
    scorer.score_pairs(t["prompt"], t["chosen"], t["rejected"])
    elapsed = time.perf_counter() - start
    return elapsed / (params * tokens), params, tokens, elapsed


def _jobs(tokens: int, gpus: int):
    from orchestrator.config import Resources, model_spec
    from orchestrator.runtime.scheduling import model_job

    res = Resources(gpus_per_actor=1)
    return [
        model_job(model_spec(name=n, path="x", tensor_parallel_size=tp), res, b * 1e9 * tokens, gpus, i)
        for i, (n, b, tp) in enumerate(MODELS)
    ]


def _driver_run(policy: str, job, gpus: int) -> dict:
    from orchestrator.results.records import read_manifests
    from orchestrator.runtime import driver as runner

    runner._Driver.worker_cls = ModelledWorker
    runner._Driver.policy = policy
    res = runner.run_job(job, num_gpus=gpus, num_cpus=2 * gpus)
    assert res.ok, [o.error for o in res.failed]
    (manifest,) = [m for m in read_manifests(res.results) if m["run_id"] == res.run_id]
    return manifest["schedule"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=REPO.parent / "shared/data/reward-bench/filtered.parquet")
    ap.add_argument("--gpus", type=int, default=8)
    ap.add_argument("--ideal-seconds", type=float, default=40.0)
    ap.add_argument("--shard-size", type=int, default=256)
    ap.add_argument("--skip-ray", action="store_true")
    ap.add_argument("--policies", default="naive,lpt", help="driver runs to make: naive, lpt or both")
    args = ap.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import pyarrow.parquet as pq

    from orchestrator.config import JobConfig
    from orchestrator.runtime.scheduling import (
        Job,
        evict_from_page_cache,
        ideal_makespan,
        read_into_page_cache,
        row_tokens,
        simulate,
        weight_files,
    )
    from orchestrator.tiny import build_tiny_model

    data = args.data.resolve()
    tokens = sum(row_tokens(pq.read_table(data)))
    with tempfile.TemporaryDirectory() as tmpdir:
        tmp = Path(tmpdir)
        tiny = build_tiny_model(tmp / "tiny-rm", seed="tiny-rm")
        rate, tiny_params, tiny_tokens, tiny_s = _calibrate(data, tiny)
        print(
            f"{platform.machine()}, {os.cpu_count()} cores, {date.today()}; RewardBench v1 filtered: {tokens:,} tokens (chars/4)\n"
        )
        print(
            f"Calibration: tiny-rm ({tiny_params:,} parameters) scored {tiny_tokens:,} tokens in {tiny_s:.2f} s "
            f"-> {rate:.3e} s per parameter x token\n"
        )

        jobs = _jobs(tokens, args.gpus)
        ideal = ideal_makespan(jobs, args.gpus)
        print(f"## Simulator: {len(jobs)} models on {args.gpus} GPUs (cost = parameters x tokens)\n")
        print("| policy | makespan (modelled CPU hours) | ideal | ratio |")
        print("|---|---:|---:|---:|")
        sims = {}
        for label, policy, backfill in (
            ("naive (job order)", "naive", False),
            ("LPT", "lpt", False),
            ("LPT + backfill", "lpt", True),
        ):
            sim = simulate(jobs, args.gpus, policy=policy, backfill=backfill)
            sims[label] = sim
            print(
                f"| {label} | {sim.makespan * rate / 3600:,.1f} | {ideal * rate / 3600:,.1f} | {sim.ratio:.3f} |"
            )

        if not args.skip_ray:
            scaled = args.ideal_seconds / ideal  # seconds per (parameter x token / GPU), compressed
            os.environ["RAYWARD_BENCH_RATE"] = repr(scaled)
            job = JobConfig.from_dict(
                {
                    "name": "sched-bench",
                    "benchmarks": [{"name": "reward-bench", "source": str(data)}],
                    "models": [
                        {
                            "name": n,
                            "path": str(tiny),
                            "num_parameters": int(b * 1e9),
                            "tensor_parallel_size": tp,
                        }
                        for n, b, tp in MODELS
                    ],
                    "resources": {"gpus_per_actor": 1, "shard_size": args.shard_size},
                    "results": str(tmp / "results"),
                }
            )
            print(
                f"\n## Real driver on Ray: {args.gpus} fake GPUs, modelled workers (ideal compressed to "
                f"{args.ideal_seconds:.0f} s, shards of {args.shard_size} pairs)\n"
            )
            print(
                "| policy | measured makespan s | simulator s | actor start s (mean) | simulator + start s "
                "| ideal s | measured / ideal | start order = priority |"
            )
            print("|---|---:|---:|---:|---:|---:|---:|---|")
            for label, policy in (("naive (job order)", "naive"), ("LPT", "lpt")):
                if policy not in args.policies.split(","):
                    continue
                sched = _driver_run(policy, job, args.gpus)
                models = sched["models"]
                first = min(m["started_s"] for m in models)
                makespan = max(m["finished_s"] for m in models) - first
                in_order = sorted(models, key=lambda m: m["start_seq"]) == sorted(
                    models, key=lambda m: m["order"]
                )
                start = statistics.mean(m["loaded_s"] - m["started_s"] for m in models)
                scaled_jobs = [Job(j.name, j.duration * scaled, j.width, j.index) for j in jobs]
                with_start = simulate(scaled_jobs, args.gpus, policy=policy, overhead=start).makespan
                print(
                    f"| {label} | {makespan:.1f} | {sims[label].makespan * scaled:.1f} | {start:.1f} | {with_start:.1f} | "
                    f"{args.ideal_seconds:.1f} | {makespan / args.ideal_seconds:.3f} | {'yes' if in_order else 'no'} |"
                )

        # prefetch: cold load vs load after the driver's page-cache read
        from orchestrator.config import model_spec
        from orchestrator.scoring.classifier import ClassifierScorer

        big = build_tiny_model(tmp / "rm-30m", seed="rm-30m", hidden_size=512, num_layers=8)
        files = weight_files(big)
        size = sum(f.stat().st_size for f in files)
        cold, warm, read = [], [], []
        for _ in range(3):
            evict_from_page_cache(files)
            t0 = time.perf_counter()
            ClassifierScorer(model_spec(name="m", path=str(big)))
            cold.append(time.perf_counter() - t0)
            evict_from_page_cache(files)
            t0 = time.perf_counter()
            read_into_page_cache(files)
            read.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            ClassifierScorer(model_spec(name="m", path=str(big)))
            warm.append(time.perf_counter() - t0)
        print(f"\n## Weight prefetch ({size / 1e6:.0f} MB safetensors, median of 3)\n")
        print("| load | seconds |")
        print("|---|---:|")
        print(f"| cold (evicted from the page cache) | {statistics.median(cold):.3f} |")
        print(f"| driver's background read of the files | {statistics.median(read):.3f} |")
        print(f"| load after the prefetch | {statistics.median(warm):.3f} |")


if __name__ == "__main__":
    main()
