"""What the score cache saves: wall time of `rayward run` cold, rerun with nothing new, rerun with one new model.

    python perf/score_cache.py [--data ../shared/data/reward-bench/filtered.parquet] [--limit N] [--skip-no-cache]
    python perf/score_cache.py --quick     # seconds: 2 rows per subset, no forced rescore (what CI runs)

Each row is a new `rayward run JOB` process, timed from start to exit (the printed leaderboard; "run wall s" is
the manifest's `wall_seconds`: data load to last record written, without process start and leaderboard), over the
RewardBench v1 `filtered` split (all of it unless --limit) with the tiny hidden-64 Llama classifiers on CPU
actors, into one results store:

1. cold: two models, empty store (everything scored, the cache filled);
2. rerun, nothing new: the same job again (every score from the cache: no Ray, no actor, no model load);
3. rerun + one new model: a third model added (only it is scored);
4. rerun --no-cache: the two models again, forced to rescore (what the cache saves), unless --skip-no-cache.

Also times the model fingerprint (what the driver computes per model before any lookup) on a synthetic
8B-sized model directory (4 x 4.9 GB sparse safetensors shards + a 9 MB tokenizer.json). Prints markdown.
Each row's "models loaded" is checked: a rerun that loads a model it need not (or misses one) is an error.
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


def _job(tmp: Path, name: str, data: Path, models: dict[str, Path], limit: int | None, results: Path) -> Path:
    bench = {"name": "reward-bench", "source": str(data), **({"limit": limit} if limit else {})}
    job = {
        "name": "cache-bench",
        "benchmarks": [bench],
        "models": [{"name": m, "path": str(p)} for m, p in models.items()],
        "resources": {"gpus_per_actor": 0, "cpus_per_actor": 1, "actors_per_model": 1, "shard_size": 500},
        "results": str(results),
    }
    path = tmp / f"{name}.yaml"
    path.write_text(json.dumps(job))  # JSON is YAML
    return path


def _timed_run(job: Path, *extra: str) -> float:
    env = {**os.environ, "PYTHONPATH": str(REPO), "HF_HUB_OFFLINE": "1", "COLUMNS": "200"}
    start = time.perf_counter()
    out = subprocess.run(
        [sys.executable, "-m", "orchestrator.cli", "run", str(job), *extra],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
    )
    elapsed = time.perf_counter() - start
    if out.returncode != 0:
        raise SystemExit(f"rayward run failed ({out.returncode}):\n{out.stderr[-4000:]}")
    return elapsed


def _latest(results: Path) -> dict:
    from orchestrator.results.records import read_manifests

    return max(read_manifests(results), key=lambda m: m["run_id"])


def _summary(manifest: dict) -> tuple[float, int, int, list[str]]:
    models = manifest["models"]
    loaded = [m["model"] for m in models if m["load_seconds"] is not None]
    return (
        manifest["wall_seconds"],
        sum(m["n_records"] for m in models),
        sum(m["cached_records"] for m in models),
        loaded,
    )


def _fingerprint_seconds(tmp: Path) -> tuple[float, int]:
    from orchestrator.scoring._hf import model_fingerprint

    model = tmp / "big-model"
    model.mkdir()
    (model / "config.json").write_text(json.dumps({"architectures": ["LlamaForSequenceClassification"]}))
    (model / "tokenizer.json").write_bytes(os.urandom(9 << 20))
    total = 0
    for i in range(4):
        with open(model / f"model-0000{i + 1}-of-00004.safetensors", "wb") as fh:
            fh.truncate(4900 << 20)  # sparse: the fingerprint must not read it
        total += 4900 << 20
    best = float("inf")
    for _ in range(5):
        start = time.perf_counter()
        model_fingerprint(str(model))
        best = min(best, time.perf_counter() - start)
    return best, total


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--data", type=Path, default=REPO.parent / "shared" / "data" / "reward-bench" / "filtered.parquet"
    )
    parser.add_argument("--limit", type=int, default=None, help="rows per subset (default: the whole split)")
    parser.add_argument("--skip-no-cache", action="store_true", help="skip the forced-rescore row")
    parser.add_argument(
        "--quick",
        action="store_true",
        help="seconds, not minutes: --limit 2 --skip-no-cache; checks the script runs, its numbers mean nothing",
    )
    args = parser.parse_args(argv)
    if args.quick:
        args.limit = args.limit or 2
        args.skip_no_cache = True
    if not args.data.is_file():
        parser.error(f"data not found: {args.data}")

    from orchestrator.tiny import build_tiny_model

    with tempfile.TemporaryDirectory(prefix="rayward-cache-bench-") as tmp_name:
        tmp = Path(tmp_name)
        models = {
            name: build_tiny_model(tmp / name, seed=name) for name in ("tiny-rm", "tiny-rm-b", "tiny-rm-c")
        }
        two = {k: models[k] for k in ("tiny-rm", "tiny-rm-b")}
        results = tmp / "results"
        job2 = _job(tmp, "two", args.data.resolve(), two, args.limit, results)
        job3 = _job(tmp, "three", args.data.resolve(), models, args.limit, results)
        rows = []
        for label, job, extra, want_loaded in [
            ("cold: 2 models, empty store", job2, (), ["tiny-rm", "tiny-rm-b"]),
            ("rerun, nothing new", job2, (), []),
            ("rerun + 1 new model (3 models)", job3, (), ["tiny-rm-c"]),
            *(
                []
                if args.skip_no_cache
                else [("rerun --no-cache: 2 models", job2, ("--no-cache",), ["tiny-rm", "tiny-rm-b"])]
            ),
        ]:
            wall = _timed_run(job, *extra)
            run_wall, n, cached, loaded = _summary(_latest(results))
            if sorted(loaded) != want_loaded:
                raise SystemExit(f"{label}: models loaded {loaded}, expected {want_loaded}")
            rows.append((label, wall, run_wall, n, cached, ", ".join(loaded) or "none"))
        fp_seconds, fp_bytes = _fingerprint_seconds(tmp)

    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(
        f"Score cache, {date.today()}, {platform.machine()}, {os.cpu_count()} cores, load average {load:.1f}; "
        f"data {args.data.name}{f' (limit {args.limit})' if args.limit else ''}"
        f"{'; --quick: the numbers mean nothing' if args.quick else ''}\n"
    )
    print("| run | process wall s | run wall s | records | from cache | models loaded |")
    print("|---|---:|---:|---:|---:|---|")
    for label, wall, run_wall, n, cached, loaded in rows:
        print(f"| {label} | {wall:.1f} | {run_wall:.1f} | {n:,} | {cached:,} | {loaded} |")
    print(
        f"\nmodel_fingerprint of an 8B-sized directory ({fp_bytes / 2**30:.1f} GiB of weights, 9 MB tokenizer): "
        f"{fp_seconds * 1000:.1f} ms"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
