"""What PPE's SQL costs at the published sizes: a synthetic store holding every PPE row for N models (ppe-human:
16,038 battles; ppe-correctness: 2,555 rows x 32 responses = 81,760 scores, best-of-K for K = 1..32), in the
real record layout, then the wall time of `connect`, both PPE leaderboards, the best-of-K curves (the report's
query), every PPE correctness metric, the human preference accuracy per category and language, the model-level
ranking metrics (Bradley-Terry of 20 battle models, bootstrap `--n-boot`), and a RewardBench leaderboard query over
the same store (the rule views are part of every section query). The battles carry metadata in the examples table
as the loader writes it (model_a, model_b, winner, language, the category flags).

    python perf/ppe_views.py [--models 4] [--repeat 3] [--n-boot 2000]
    python perf/ppe_views.py --quick     # seconds: 1 model, 20 rows per set, 50 battles (numbers mean nothing)

Scores are seeded draws from a few levels (ties at the top and across labels occur). Prints markdown.
"""

from __future__ import annotations

import argparse
import platform
import random
import sys
import tempfile
import time
from pathlib import Path

import pyarrow as pa

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from orchestrator.benchmarks import expected_counts  # noqa: E402
from orchestrator.query.db import connect, leaderboard, run_query, stored_query  # noqa: E402
from orchestrator.query.ppe_ranking import ranking_rows  # noqa: E402
from orchestrator.results.records import (  # noqa: E402
    METADATA,
    SCHEMA_VERSION,
    make_table,
    write_manifest,
    write_shard,
)

BATTLE_MODELS = 20
LANGUAGES = ["English"] * 6 + ["Chinese", "Russian", "German", "Japanese", "Spanish", "French"]


def _write(root: Path, benchmark: str, model: str, rows: list[dict]) -> None:
    n = len(rows)
    cols = {k: [r.get(k) for r in rows] for k in sorted({k for r in rows for k in r} - {"metadata"})}
    table = make_table(
        {
            "schema_version": [SCHEMA_VERSION] * n,
            "run_id": [f"run-{benchmark}-{model}"] * n,
            "benchmark": [benchmark] * n,
            "model": [model] * n,
            "kind": ["classifier"] * n,
            "example_id": list(range(n)),
            "row_index": list(range(n)),
            "shard": [0] * n,
            "correct": [False] * n,
            **cols,
        }
    )
    if "metadata" in rows[0]:
        table = table.append_column(
            "metadata", pa.array([list(r["metadata"].items()) for r in rows], METADATA)
        )
    write_shard(root, table, benchmark=benchmark, model=model, run_id=f"run-{benchmark}-{model}", shard=0)
    write_manifest(
        root,
        {
            "run_id": f"run-{benchmark}-{model}",
            "job": "perf",
            "started_at": "2026-01-01T00:00:00+00:00",
            "models": [
                {"model": model, "benchmark": benchmark, "kind": "classifier", "status": "ok", "n_records": n}
            ],
        },
    )


def build(root: Path, models: int, rows_per_set: int | None, battles: int | None) -> None:
    rng = random.Random(16)
    for m in range(models):
        model = f"rm-{m}"
        corr = []
        for subset, n in expected_counts("ppe-correctness").items():
            for _ in range(rows_per_set or n):
                labels = [rng.random() < 0.45 for _ in range(32)]
                scores = [
                    rng.randint(0, 8) / 2 + (0.5 if ok and rng.random() < 0.3 else 0.0) for ok in labels
                ]
                corr.append(
                    {
                        "subset": subset,
                        "scores_chosen": [s for s, ok in zip(scores, labels) if ok],
                        "scores_rejected": [s for s, ok in zip(scores, labels) if not ok],
                    }
                )
        _write(root, "ppe-correctness", model, corr)
        human = []
        battle_rng = random.Random(1616)  # the same battles (and so the same examples file) for every model
        for i in range(battles or expected_counts("ppe-human")["human-preference"]):
            a, b = battle_rng.sample(range(BATTLE_MODELS), 2)
            u = battle_rng.random()
            p_a = 1 / (1 + 10 ** ((b - a) / 10))  # model k stronger the larger k
            position = None if u < 0.2 else 0 if u < 0.2 + 0.8 * p_a else 1
            winner = {None: "tie", 0: "model_a", 1: "model_b"}[position]
            human.append(
                {
                    "subset": "human-preference",
                    "score_chosen": rng.random(),
                    "score_rejected": rng.random(),
                    "chosen_position": position,
                    "metadata": {
                        "model_a": f"bm-{a}",
                        "model_b": f"bm-{b}",
                        "winner": winner,
                        "language": LANGUAGES[i % len(LANGUAGES)],
                        "hard_prompt": str(i % 3 == 0).lower(),
                        "easy_prompt": str(i % 3 != 0).lower(),
                        "if_prompt": str(i % 5 == 0).lower(),
                        "is_code": str(i % 4 == 0).lower(),
                        "math_prompt": str(i % 7 == 0).lower(),
                    },
                }
            )
        _write(root, "ppe-human", model, human)


def _time(fn, repeat: int) -> tuple[float, object]:
    best, out = float("inf"), None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--models", type=int, default=4)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--n-boot", type=int, default=2000, help="bootstrap resamples of the ranking metrics")
    parser.add_argument(
        "--quick", action="store_true", help="1 model, 20 rows per set, 50 battles, 20 resamples"
    )
    args = parser.parse_args()
    models, rows, battles = (1, 20, 50) if args.quick else (args.models, None, None)
    n_boot = 20 if args.quick else args.n_boot
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "results"
        t0 = time.perf_counter()
        build(root, models, rows, battles)
        built = time.perf_counter() - t0
        timings = []
        t, con = _time(lambda: connect(root), args.repeat)
        timings.append(("connect", t))
        queries = {
            "leaderboard ppe-correctness": lambda: leaderboard(root, "ppe-correctness"),
            "leaderboard ppe-human": lambda: leaderboard(root, "ppe-human"),
            "best-of-K curves (report)": lambda: stored_query(
                con, "report_best_of_k", benchmark="ppe-correctness"
            ),
            "ppe_correctness_scores": lambda: run_query(con, "SELECT * FROM ppe_correctness_scores"),
            "ppe_preference_categories (open connection)": lambda: stored_query(
                con, "ppe_categories", benchmark="ppe-human"
            ),
            f"ranking metrics, {models} model(s) x {n_boot} resamples": lambda: ranking_rows(
                con, n_boot=n_boot, seed=0
            ),
            "leaderboard reward-bench (same store)": lambda: leaderboard(root, "reward-bench"),
        }
        results = {}
        for name, fn in queries.items():
            t, results[name] = _time(fn, args.repeat)
            timings.append((name, t))
        board = results["leaderboard ppe-correctness"]
        assert len(board) == models and all(r["complete"] is (not args.quick) for r in board), board
        cats = {r["category"] for r in results["ppe_preference_categories (open connection)"].to_pylist()}
        assert {"overall", "hard_prompt", "language=English"} <= cats, cats
        ranked = results[f"ranking metrics, {models} model(s) x {n_boot} resamples"]
        assert len(ranked) == models and all(r.n_battle_models == BATTLE_MODELS for r in ranked)
        assert args.quick or all(r.note is None for r in ranked), [r.note for r in ranked]
        curve = results["best-of-K curves (report)"].to_pylist()
        assert len(curve) == models * 32 and all(0 <= r["accuracy"] <= 1 for r in curve)
    note = " (--quick: the numbers mean nothing)" if args.quick else ""
    print(
        f"PPE views, {models} model(s){note}; {platform.processor() or platform.machine()}, store built in {built:.1f} s"
    )
    print()
    print(f"| step | best of {args.repeat}, s |")
    print("|---|---:|")
    for name, t in timings:
        print(f"| {name} | {t:.3f} |")


if __name__ == "__main__":
    main()
