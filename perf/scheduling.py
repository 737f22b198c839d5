"""Multi-model GPU scheduling: makespan against the ideal for 20 models on 8 GPUs (simulated cluster).

    python perf/scheduling.py [--data ../shared/data/reward-bench/filtered.parquet] [--gpus 8]
                              [--ideal-seconds 40] [--skip-ray] [--policies naive,lpt] [--quick]

1. Calibration: real scoring of the tiny classifier on this CPU gives seconds per (parameter x token).
2. The pure simulator (:func:`orchestrator.runtime.scheduling.simulate`) on 20 models of 0.5B-70B parameters
   (four tensor-parallel: three TP=2, one TP=4) over the real v1 data's token counts: naive (job order),
   LPT, LPT with backfilling. Makespan / ideal, where ideal = max(total GPU-work / GPUs, longest model).
3. The real driver (``rayward``'s ``_Driver``, real Ray with ``--gpus`` fake GPUs, real placement groups,
   real Parquet records) with the real scoring worker holding a modelled scorer: each unit sleeps
   parameters x tokens x rate / TP, the calibrated rate compressed so the ideal makespan is ``--ideal-seconds``. Measured makespan = first
   actor start to last model finished, from the run's manifest.
4. Weight prefetch: load time of a 30M-parameter model with its weight file evicted from the page
   cache, and after the driver-side prefetch read it (what the driver does for the next waiting model).
Prints markdown tables. ``--quick`` runs every step on tiny inputs in seconds (what CI runs; no timing is
checked and its numbers mean nothing).
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from orchestrator.runtime.worker import ScoringWorker  # noqa: E402
from orchestrator.scoring._protocol import ModelInfo, Scorer  # noqa: E402

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
QUICK_MODELS = [MODELS[0], MODELS[7], MODELS[16], MODELS[19]]
"""--quick: two single-GPU models, one TP=2 and one TP=4."""


class ModelledScorer:
    """A scorer whose cost is the model: each call sleeps parameters x tokens x rate / TP seconds.

    It stands behind the real :meth:`ScoringWorker.score` (so the records, their schema and the shard
    metadata are the real worker's); its scores are text lengths, its token counts characters / 4.
    """

    backend = "modelled"
    device = "cpu"

    def __init__(self, spec: Any, rate: float):
        self.spec = spec
        self.rate = rate
        self.info = ModelInfo(
            path=spec.path,
            revision=None,
            fingerprint="modelled",
            dtype="modelled",
            device="modelled",
            load_seconds=0.0,
            num_parameters=int(spec.num_parameters or 0),
        )

    def _cost(self, prompts: list[Any], chosen: list[Any], rejected: list[Any]) -> None:
        import pyarrow as pa

        from orchestrator.runtime.scheduling import row_tokens

        tokens = sum(row_tokens(pa.table({"prompt": prompts, "chosen": chosen, "rejected": rejected})))
        time.sleep(self.info.num_parameters * tokens * self.rate / self.spec.tensor_parallel_size)

    @staticmethod
    def _lengths(prompts: Any, texts: Any) -> tuple[Any, Any]:
        import numpy as np

        return np.array([float(len(t)) for t in texts]), np.array([len(t) // 4 for t in texts])

    def pair_columns(
        self, prompts: Sequence[Any], chosen: Sequence[str], rejected: Sequence[str]
    ) -> dict[str, Any]:
        from orchestrator.scoring.columns import pair_columns

        self._cost(list(prompts), list(chosen), list(rejected))
        return pair_columns(self._lengths, prompts, chosen, rejected)

    def list_columns(
        self, prompts: Sequence[Any], chosen: Sequence[Sequence[str]], rejected: Sequence[Sequence[str]]
    ) -> dict[str, Any]:
        from orchestrator.scoring.columns import list_columns

        self._cost(list(prompts), list(chosen), list(rejected))
        return list_columns(self._lengths, prompts, chosen, rejected)


class ModelledWorker(ScoringWorker):
    """The real scoring actor with a :class:`ModelledScorer` loaded instead of a model.

    Only ``load`` is overridden (same signature as the real one, checked by tests/perf/test_scheduling_bench.py):
    ``score`` is the real worker's, so the driver's calls cannot drift from what this benchmark runs.
    The rate (seconds per parameter x token) comes from ``RAYWARD_BENCH_RATE``, which Ray workers inherit.
    """

    def load(self) -> ModelInfo:
        scorer = ModelledScorer(self.spec, float(os.environ["RAYWARD_BENCH_RATE"]))
        if not isinstance(scorer, Scorer):  # the check the real load makes of every scorer
            raise TypeError("ModelledScorer lacks part of the Scorer contract")
        self.scorer = scorer
        return scorer.info


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


def _jobs(models: list[tuple[str, float, int]], tokens: int, gpus: int):
    from orchestrator.config import Resources, model_spec
    from orchestrator.runtime.scheduling import model_job

    res = Resources(gpus_per_actor=1)
    return [
        model_job(model_spec(name=n, path="x", tensor_parallel_size=tp), res, b * 1e9 * tokens, gpus, i)
        for i, (n, b, tp) in enumerate(models)
    ]


def _driver_run(policy: str, job, gpus: int) -> dict:
    from orchestrator.results.records import read_manifests
    from orchestrator.runtime import driver as runner

    runner._Driver.worker_cls = ModelledWorker
    runner._Driver.policy = policy
    res = runner.run_job(job, num_gpus=gpus, num_cpus=2 * gpus)
    if not res.ok:
        raise SystemExit(f"the {policy} driver run failed: {[o.error for o in res.failed]}")
    (manifest,) = [m for m in read_manifests(res.results) if m["run_id"] == res.run_id]
    return manifest["schedule"]


def _quick_data(data: Path, out: Path, per_subset: int) -> Path:
    """The first ``per_subset`` rows of every subset of ``data``, as a parquet file (the quick mode's input)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pq.read_table(data)
    seen: dict[str, int] = {}
    keep = []
    for i, subset in enumerate(table.column("subset").to_pylist()):
        if seen.get(subset, 0) < per_subset:
            seen[subset] = seen.get(subset, 0) + 1
            keep.append(i)
    pq.write_table(table.take(pa.array(keep)), out)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--data", type=Path, default=REPO.parent / "shared/data/reward-bench/filtered.parquet")
    ap.add_argument("--gpus", type=int, default=None, help="fake GPUs (default 8; 4 with --quick)")
    ap.add_argument("--ideal-seconds", type=float, default=None, help="default 40; 2 with --quick")
    ap.add_argument("--shard-size", type=int, default=None, help="default 256; 8 with --quick")
    ap.add_argument("--skip-ray", action="store_true")
    ap.add_argument(
        "--policies",
        default=None,
        help="driver runs to make: naive, lpt or both (default both; lpt with --quick)",
    )
    ap.add_argument(
        "--quick",
        action="store_true",
        help="seconds, not minutes: 2 rows per subset, 4 models on 4 fake GPUs, one driver run (lpt), "
        "a tiny model for the prefetch timing; checks the script runs, its numbers mean nothing",
    )
    args = ap.parse_args(argv)
    quick = args.quick
    gpus = args.gpus or (4 if quick else 8)
    ideal_seconds = args.ideal_seconds or (2.0 if quick else 40.0)
    shard_size = args.shard_size or (8 if quick else 256)
    policies = (args.policies or ("lpt" if quick else "naive,lpt")).split(",")
    models = QUICK_MODELS if quick else MODELS
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    if not args.data.is_file():
        ap.error(f"data not found: {args.data}")
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

    with tempfile.TemporaryDirectory(prefix="rayward-sched-bench-") as tmpdir:
        tmp = Path(tmpdir)
        data = _quick_data(args.data, tmp / "quick.parquet", 2) if quick else args.data.resolve()
        table = pq.read_table(data)
        tokens = sum(row_tokens(table))
        tiny = build_tiny_model(tmp / "tiny-rm", seed="tiny-rm")
        rate, tiny_params, tiny_tokens, tiny_s = _calibrate(data, tiny, n=8 if quick else 100)
        print(
            f"{platform.machine()}, {os.cpu_count()} cores, {date.today()}; {data.name}: {table.num_rows:,} "
            f"pairs, {tokens:,} tokens (chars/4){'; --quick: the numbers mean nothing' if quick else ''}\n"
        )
        print(
            f"Calibration: tiny-rm ({tiny_params:,} parameters) scored {tiny_tokens:,} tokens in {tiny_s:.2f} s "
            f"-> {rate:.3e} s per parameter x token\n"
        )

        jobs = _jobs(models, tokens, gpus)
        ideal = ideal_makespan(jobs, gpus)
        print(f"## Simulator: {len(jobs)} models on {gpus} GPUs (cost = parameters x tokens)\n")
        print("| policy | makespan (modelled CPU hours) | ideal | ratio |")
        print("|---|---:|---:|---:|")
        sims = {}
        for label, policy, backfill in (
            ("naive (job order)", "naive", False),
            ("LPT", "lpt", False),
            ("LPT + backfill", "lpt", True),
        ):
            sim = simulate(jobs, gpus, policy=policy, backfill=backfill)
            sims[label] = sim
            print(
                f"| {label} | {sim.makespan * rate / 3600:,.1f} | {ideal * rate / 3600:,.1f} | {sim.ratio:.3f} |"
            )

        if not args.skip_ray:
            scaled = ideal_seconds / ideal  # seconds per (parameter x token / GPU), compressed
            os.environ["RAYWARD_BENCH_RATE"] = repr(scaled)
            print(
                f"\n## Real driver on Ray: {gpus} fake GPUs, modelled workers (ideal compressed to "
                f"{ideal_seconds:.0f} s, shards of {shard_size} pairs)\n"
            )
            print(
                "| policy | measured makespan s | simulator s | actor start s (mean) | simulator + start s "
                "| ideal s | measured / ideal | start order = priority |"
            )
            print("|---|---:|---:|---:|---:|---:|---:|---|")
            for label, policy in (("naive (job order)", "naive"), ("LPT", "lpt")):
                if policy not in policies:
                    continue
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
                            for n, b, tp in models
                        ],
                        "resources": {"gpus_per_actor": 1, "shard_size": shard_size},
                        "results": str(tmp / f"results-{policy}"),
                        "cache": False,  # every run scores (modelled): none may come from the score cache
                    }
                )
                sched = _driver_run(policy, job, gpus)
                runs = sched["models"]
                first = min(m["started_s"] for m in runs)
                makespan = max(m["finished_s"] for m in runs) - first
                in_order = sorted(runs, key=lambda m: m["start_seq"]) == sorted(
                    runs, key=lambda m: m["order"]
                )
                start = statistics.mean(m["loaded_s"] - m["started_s"] for m in runs)
                scaled_jobs = [Job(j.name, j.duration * scaled, j.width, j.index) for j in jobs]
                with_start = simulate(scaled_jobs, gpus, policy=policy, overhead=start).makespan
                print(
                    f"| {label} | {makespan:.1f} | {sims[label].makespan * scaled:.1f} | {start:.1f} | "
                    f"{with_start:.1f} | {ideal_seconds:.1f} | {makespan / ideal_seconds:.3f} | "
                    f"{'yes' if in_order else 'no'} |"
                )

        # prefetch: cold load vs load after the driver's page-cache read
        from orchestrator.config import model_spec
        from orchestrator.scoring.classifier import ClassifierScorer

        if quick:
            big = tiny
        else:
            big = build_tiny_model(tmp / "rm-30m", seed="rm-30m", hidden_size=512, num_layers=8)
        files = weight_files(big)
        size = sum(f.stat().st_size for f in files)
        repeats = 1 if quick else 3
        cold, warm, read = [], [], []
        for _ in range(repeats):
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
        print(f"\n## Weight prefetch ({size / 1e6:.1f} MB safetensors, median of {repeats})\n")
        print("| load | seconds |")
        print("|---|---:|")
        print(f"| cold (evicted from the page cache) | {statistics.median(cold):.3f} |")
        print(f"| driver's background read of the files | {statistics.median(read):.3f} |")
        print(f"| load after the prefetch | {statistics.median(warm):.3f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
