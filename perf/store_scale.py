"""The results store at a lab's scale: query times and bytes for synthetic stores of many models.

    python perf/store_scale.py [--models 100,1000] [--nights 2] [--work DIR] [--keep] [--quick]

For each size N a store is written in the real layout with the project's own writers
(:func:`orchestrator.results.records.write_shard` and :func:`write_manifest`, as the driver calls them): N models
over the full RewardBench v1 ``filtered`` split (2,985 examples, the real texts, shards of 1,024 rows), one run per
night holding every model. Night 1's scores are deterministic random numbers per model; nights after it are
"served by the score cache": the same scores with ``cached_from`` = night 1's run, written the way the driver
writes cache-served units (:func:`orchestrator.results.reuse.write_cached_unit`). After the last night
``rayward compact`` runs as it does after each run (skipped with ``--no-compact``).

Measured per store (every timing is wall time on this machine; "cold" = a new Python process, so DuckDB and the
store's catalog start empty while the OS page cache is warm; "warm" = the same call again in that process):

* ``connect``: :func:`orchestrator.query.db.connect` (every view defined), cold and warm, and the scores-only
  connection ``rayward leaderboard`` uses (``records=False``);
* ``leaderboard``: :func:`orchestrator.query.db.leaderboard_rows` after connect, cold and warm;
* ``rayward leaderboard`` process: the CLI as a user runs it (``--format json``), from exec to exit;
* ``ad-hoc``: ``SELECT model, avg(correct::INT) ... FROM latest_records GROUP BY model`` after connect;
* ``count(*) FROM records``;
* ``duckdb GROUP BY``: DuckDB alone, a fresh connection, ``read_parquet`` over the same record files with one
  ``GROUP BY model, subset`` (the floor the leaderboard is compared with), and the same as a process from exec to
  exit (Python start-up and ``import duckdb`` included, as in ``rayward leaderboard``);
* bytes: records + examples + manifests on disk, bytes per record, and each night's growth as a share of night 1's bytes.

``--driver-models N`` also runs the real driver (``run_job``) on cache-served nights of N model names (see
:func:`driver_nights`). Prints markdown (machine, date, load average). ``--quick``: 10 and 20 models, 2 nights, no driver part (a
smoke run: its numbers mean nothing).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
DATA = REPO.parent / "shared" / "data" / "reward-bench" / "filtered.parquet"
SHARD_SIZE = 1024


def _examples():
    from orchestrator.config import BenchmarkSpec
    from orchestrator.data import load_examples

    return load_examples(BenchmarkSpec(name="reward-bench", source=str(DATA)))


def _dir_bytes(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) if path.exists() else 0


def _store_bytes(root: Path) -> int:
    """Records, texts and manifests (the score cache, ``cache/``, is not counted: a night with nothing new adds none)."""
    return _dir_bytes(root / "records") + _dir_bytes(root / "examples") + _dir_bytes(root / "runs")


def write_store(
    root: Path, n_models: int, nights: int, compact: bool, direct: bool = False
) -> dict[str, object]:
    """Write the synthetic store; returns bytes per night and write times. ``direct``: write night 1 as
    compaction leaves it (one ``part-*.parquet`` per model, texts in ``examples/`` through ``split_texts``) instead
    of shard by shard, then compact as usual (which records subsets and totals): the same layout, much faster to
    build at 10,000 models."""
    import numpy as np
    import pyarrow as pa

    from orchestrator.results.records import (
        RECORD_SCHEMA,
        SCHEMA_VERSION,
        make_table,
        new_run_id,
        write_manifest,
        write_shard,
    )
    from orchestrator.results.reuse import write_cached_unit

    examples = _examples()
    ex = examples.table
    n = ex.num_rows
    prompts = [p if isinstance(p, str) else json.dumps(p) for p in ex.column("prompt").to_pylist()]
    base = make_table(
        {
            "schema_version": [SCHEMA_VERSION] * n,
            "run_id": [""] * n,
            "benchmark": ["reward-bench"] * n,
            "model": [""] * n,
            "kind": ["classifier"] * n,
            "subset": ex.column("subset"),
            "example_id": ex.column("id"),
            "row_index": ex.column("row_index"),
            "prompt": prompts,
            "chosen": ex.column("chosen"),
            "rejected": ex.column("rejected"),
            "shard": [0] * n,
            "scorer": ["transformers"] * n,
            "source_id": ex.column("source_id"),
        }
    )
    idx = {f.name: i for i, f in enumerate(RECORD_SCHEMA)}
    shards = [(s, start, min(start + SHARD_SIZE, n)) for s, start in enumerate(range(0, n, SHARD_SIZE))]
    shard_col = pa.array(np.concatenate([[s] * (b - a) for s, a, b in shards]).astype("int32"))
    base = base.set_column(idx["shard"], RECORD_SCHEMA.field("shard"), shard_col)
    out: dict[str, object] = {"records_per_night": n_models * n, "night_bytes": [], "night_write_s": []}
    first_run = None
    texts_cache: dict[int, pa.Array] = {}
    before = _store_bytes(root)
    for night in range(nights):
        run_id = new_run_id()
        t0 = time.perf_counter()
        entries = []
        for m in range(n_models):
            model = f"model-{m:05d}"
            rng = np.random.default_rng(m)
            chosen = rng.normal(0.3 + 0.4 * (m % 7) / 7, 1.0, n)
            rejected = rng.normal(0.0, 1.0, n)
            table = base.set_column(idx["run_id"], RECORD_SCHEMA.field("run_id"), pa.array([run_id] * n))
            table = table.set_column(idx["model"], RECORD_SCHEMA.field("model"), pa.array([model] * n))
            table = table.set_column(
                idx["score_chosen"], RECORD_SCHEMA.field("score_chosen"), pa.array(chosen)
            )
            table = table.set_column(
                idx["score_rejected"], RECORD_SCHEMA.field("score_rejected"), pa.array(rejected)
            )
            table = table.set_column(
                idx["correct"], RECORD_SCHEMA.field("correct"), pa.array(chosen > rejected)
            )
            if night > 0:
                table = table.set_column(
                    idx["cached_from"], RECORD_SCHEMA.field("cached_from"), pa.array([first_run] * n)
                )
            if direct and night == 0:
                _write_part_direct(root, table, shards, model=model, run_id=run_id, texts=texts_cache)
                shards_to_write = []
            else:
                shards_to_write = shards
            for shard, a, b in shards_to_write:
                part = table.slice(a, b - a)
                if night == 0:
                    write_shard(root, part, benchmark="reward-bench", model=model, run_id=run_id, shard=shard)
                else:
                    write_cached_unit(
                        root, part, benchmark="reward-bench", model=model, run_id=run_id, shard=shard
                    )
            entries.append(
                {
                    "model": model,
                    "benchmark": "reward-bench",
                    "kind": "classifier",
                    "status": "ok",
                    "n_records": n,
                    "fingerprint": f"synthetic-{m}",
                    "num_parameters": 1_000_000 * (1 + m % 50),
                    "cached_records": n if night else 0,
                }
            )
        write_manifest(
            root,
            {
                "run_id": run_id,
                "job": "store-scale",
                "status": "ok",
                "started_at": "2026-01-01T00:00:00+00:00",
                "datasets": [
                    {"benchmark": "reward-bench", "fingerprint": examples.fingerprint, "n_examples": n}
                ],
                "models": entries,
            },
        )
        if compact:
            from orchestrator.results.compact import compact_store

            compact_store(root, run_ids=[run_id])
        first_run = first_run or run_id
        after = _store_bytes(root)
        out["night_bytes"].append(after - before)  # type: ignore[union-attr]
        out["night_write_s"].append(round(time.perf_counter() - t0, 1))  # type: ignore[union-attr]
        before = after
    out["total_bytes"] = _store_bytes(root)
    out["n_files"] = sum(1 for _ in (root / "records").rglob("*.parquet"))
    return out


def _write_part_direct(root: Path, table, shards, *, model: str, run_id: str, texts: dict) -> None:
    """One model's records as one part file (what compaction writes): texts split per shard as ``write_shard``
    does (the examples files are written by the first model; the keys are reused after)."""
    import secrets

    import pyarrow as pa
    import pyarrow.parquet as pq

    from orchestrator.results.records import RECORD_SCHEMA, TEXT_COLUMNS, partition_dir, split_texts
    from orchestrator.results.store import open_store

    store = open_store(root)
    if not texts:
        for shard, a, b in shards:
            texts[shard] = split_texts(store, table.slice(a, b - a)).column("texts").combine_chunks()
    keys = pa.concat_arrays([texts[s] for s, _, _ in shards])
    out = table.set_column(table.schema.get_field_index("texts"), RECORD_SCHEMA.field("texts"), keys)
    for name in TEXT_COLUMNS:
        i = out.schema.get_field_index(name)
        out = out.set_column(
            i, RECORD_SCHEMA.field(name), pa.nulls(out.num_rows, RECORD_SCHEMA.field(name).type)
        )
    directory = Path(partition_dir(store, "reward-bench", model, run_id))
    directory.mkdir(parents=True, exist_ok=True)
    pq.write_table(
        out, directory / f"part-{secrets.token_hex(6)}.parquet", compression="zstd", row_group_size=1 << 20
    )


_PROBE = r"""
import json, sys, time
t = time.perf_counter
sys.path.insert(0, sys.argv[2])
from orchestrator.query.db import connect, leaderboard_rows, run_query
root = sys.argv[1]
out = {}
t0 = t(); con = connect(root); out["connect_cold"] = t() - t0
t0 = t(); rows, _ = leaderboard_rows(con); out["leaderboard_cold"] = t() - t0
out["n_models"] = len(rows)
out["top"] = [rows[0]["model"], rows[0]["score"]]
adhoc = "SELECT model, avg(correct::INT) AS acc, avg(score_chosen - score_rejected) AS margin FROM latest_records GROUP BY model"
t0 = t(); a = run_query(con, adhoc); out["adhoc_cold"] = t() - t0
out["adhoc_rows"] = a.num_rows
t0 = t(); c = run_query(con, "SELECT count(*) AS n FROM records"); out["count_records"] = t() - t0
out["n_records"] = c.column(0)[0].as_py()
con.close()
t0 = t(); con = connect(root); out["connect_warm"] = t() - t0
t0 = t(); leaderboard_rows(con); out["leaderboard_warm"] = t() - t0
t0 = t(); run_query(con, adhoc); out["adhoc_warm"] = t() - t0
con.close()
t0 = t(); con = connect(root, records=False); out["connect_scores"] = t() - t0
con.close()
print(json.dumps(out))
"""

_RAW = r"""
import json, sys, time, duckdb
root = sys.argv[1]
t0 = time.perf_counter()
con = duckdb.connect()
n = con.execute(
    f"SELECT count(*) FROM (SELECT model, subset, avg(correct::INT) AS acc FROM "
    f"read_parquet('{root}/records/**/*.parquet', union_by_name = true, hive_partitioning = false) GROUP BY model, subset)"
).fetchone()[0]
print(json.dumps({"raw_group_by": time.perf_counter() - t0, "groups": n}))
"""


def _python(code: str, *args: str) -> dict[str, object]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    out = subprocess.run(
        [sys.executable, "-c", code, *args], capture_output=True, text=True, env=env, check=False
    )
    if out.returncode != 0:
        raise SystemExit(f"probe failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def _cli_leaderboard(root: Path) -> float:
    env = {**os.environ, "PYTHONPATH": str(REPO), "COLUMNS": "200"}
    t0 = time.perf_counter()
    out = subprocess.run(
        [sys.executable, "-m", "orchestrator.cli", "leaderboard", "--results", str(root), "--format", "json"],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    elapsed = time.perf_counter() - t0
    if out.returncode != 0:
        raise SystemExit(f"rayward leaderboard failed:\n{out.stderr[-3000:]}")
    return elapsed


def measure(root: Path) -> dict[str, object]:
    res = _python(_PROBE, str(root), str(REPO))
    t0 = time.perf_counter()
    res.update(_python(_RAW, str(root)))
    res["raw_process"] = time.perf_counter() - t0  # the same GROUP BY as a process, from exec to exit
    res["cli_leaderboard"] = _cli_leaderboard(root)
    return res


def driver_nights(work: Path, n_models: int) -> dict[str, object]:
    """The real driver (``run_job``, in this process) on cache-served nights: one tiny classifier scored once under
    one name (night 0, on Ray), then ``n_models`` names of it three times: night 1 is served by the score cache (no
    earlier records under those names: shard files), nights 2 and 3 too (references written from the manifest's
    ``unit_sources``, no record read). Returns wall times and bytes."""
    from orchestrator.config import JobConfig
    from orchestrator.runtime.driver import run_job
    from orchestrator.tiny import build_tiny_model

    root = work / "driver-store"
    if root.exists():
        shutil.rmtree(root)
    model = build_tiny_model(work / "driver-model", kind="classifier", seed="store-scale")

    def job(names: list[str]) -> JobConfig:
        return JobConfig.model_validate(
            {
                "name": "store-scale-driver",
                "benchmarks": [{"name": "reward-bench", "source": str(DATA)}],
                "models": [{"name": n, "path": str(model)} for n in names],
                "resources": {
                    "gpus_per_actor": 0,
                    "cpus_per_actor": 1,
                    "actors_per_model": 1,
                    "shard_size": 1024,
                },
                "results": str(root),
            }
        )

    out: dict[str, object] = {"driver_models": n_models}
    t0 = time.perf_counter()
    run_job(job(["seed"]), num_cpus=2)
    out["night0_scoring_s"] = round(time.perf_counter() - t0, 1)
    names = [f"fleet-{i:04d}" for i in range(n_models)]
    for night in (1, 2, 3):
        before = _store_bytes(root)
        t0 = time.perf_counter()
        result = run_job(job(names))
        out[f"night{night}_s"] = round(time.perf_counter() - t0, 2)
        out[f"night{night}_bytes"] = _store_bytes(root) - before
        assert all(o.status == "ok" for o in result.outcomes), "a cache-served night failed"
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", default="100,1000", help="comma-separated store sizes (models)")
    ap.add_argument("--nights", type=int, default=2)
    ap.add_argument("--work", type=Path, default=None, help="where to write the stores (default: a temp dir)")
    ap.add_argument("--keep", action="store_true", help="keep the stores")
    ap.add_argument("--no-compact", action="store_true", help="do not compact after each night")
    ap.add_argument("--quick", action="store_true", help="smoke run: 10 and 20 models, 2 nights")
    ap.add_argument(
        "--reuse", action="store_true", help="measure stores already under --work (no writing, never removed)"
    )
    ap.add_argument(
        "--direct",
        action="store_true",
        help="write night 1 as compaction leaves it (one part file per model): fast to build 10,000 models",
    )
    ap.add_argument(
        "--driver-models",
        type=int,
        default=None,
        help="also time the real driver on cache-served nights (models)",
    )
    args = ap.parse_args()
    sizes = [10, 20] if args.quick else [int(x) for x in args.models.split(",")]
    nights = 2 if args.quick else args.nights
    work = args.work or Path(tempfile.mkdtemp(prefix="store-scale-"))
    rows = []
    for size in sizes:
        root = work / f"store-{size}"
        if args.reuse:
            wrote = json.loads((work / f"store-{size}.json").read_text())
        else:
            if root.exists():
                shutil.rmtree(root)
            t0 = time.perf_counter()
            wrote = write_store(root, size, nights, compact=not args.no_compact, direct=args.direct)
            wrote["write_s"] = round(time.perf_counter() - t0, 1)
            (work / f"store-{size}.json").write_text(json.dumps(wrote))
        res = measure(root)
        rows.append((size, wrote, res))
        print(f"# {size} models: {json.dumps({**wrote, **res})}", file=sys.stderr, flush=True)
        if not args.keep and not args.reuse:  # a store given to measure is never removed
            shutil.rmtree(root)
    driver = None
    if args.driver_models:
        driver = driver_nights(work, args.driver_models)
        print(f"# driver: {json.dumps(driver)}", file=sys.stderr, flush=True)
    load = os.getloadavg()
    if args.quick:
        print("--quick: a smoke run of the same code; its numbers mean nothing\n")
    print(
        f"store_scale.py on {platform.node()} ({os.cpu_count()} CPUs, {platform.python_version()}), "
        f"{date.today()}, load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}; "
        f"{nights} night(s), compaction {'off' if args.no_compact else 'on'}\n"
    )
    print(
        "| models | records | files | connect cold / warm s | scores-only connect s | leaderboard cold / warm s "
        "| `rayward leaderboard` s "
        "| ad-hoc cold / warm s | count(*) records s | DuckDB GROUP BY s (process s) | bytes/record | night 2 growth |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for size, w, r in rows:
        nb = w["night_bytes"]
        growth = f"{100 * nb[1] / nb[0]:.1f}%" if len(nb) > 1 and nb[0] else "-"
        print(
            f"| {size:,} | {r['n_records']:,} | {w['n_files']:,} | {r['connect_cold']:.2f} / {r['connect_warm']:.2f} "
            f"| {r['connect_scores']:.2f} "
            f"| {r['leaderboard_cold']:.2f} / {r['leaderboard_warm']:.2f} | {r['cli_leaderboard']:.2f} "
            f"| {r['adhoc_cold']:.2f} / {r['adhoc_warm']:.2f} | {r['count_records']:.2f} "
            f"| {r['raw_group_by']:.2f} ({r['raw_process']:.2f}) "
            f"| {w['total_bytes'] / r['n_records']:.0f} | {growth} |"
        )
    if driver:
        n = driver["driver_models"]
        print(
            f"\nDriver, cache-served nights of {n} models (one tiny classifier under {n} names; scoring it once took "
            f"{driver['night0_scoring_s']} s): night 1 (shard files) {driver['night1_s']} s, "
            f"{driver['night1_bytes']:,} bytes; night 2 (references) {driver['night2_s']} s, "
            f"{driver['night2_bytes']:,} bytes = {100 * driver['night2_bytes'] / max(driver['night1_bytes'], 1):.1f}% "
            f"of night 1; {100 * driver['night2_s'] / n:.2f} s per 100 models; night 3 {driver['night3_s']} s "
            f"({100 * driver['night3_s'] / n:.2f} s per 100 models), {driver['night3_bytes']:,} bytes."
        )


if __name__ == "__main__":
    main()
