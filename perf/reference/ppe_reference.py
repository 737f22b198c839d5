"""An independent numpy / scikit-learn computation of the PPE metrics Rayward's SQL computes
(orchestrator/query/sql/rules/ppe_preference.sql, ppe_best_of_k.sql), on the PPE fixtures with seeded scores.

PPE's own scoring code (github.com/lmarena/PPE) could not be read from this machine, so this is not its code: it
is a second implementation of the formulas as docs/benchmark-rules.md states them, written differently
(per-response pick probabilities instead of per-level sums; sklearn's roc_auc_score; numpy pair grids), plus a
seeded Monte Carlo estimate of best-of-K (draw K of the N without replacement in random order, take the first
highest score) that the exact expectation must agree with to sampling error. Run with a venv holding numpy and
scikit-learn (recipe: run_reference_ppe.sh); writes tests/fixtures/reference/ppe_crosscheck.json.
"""

from __future__ import annotations

import argparse
import json
from math import comb
from pathlib import Path

import numpy as np
from sklearn.metrics import roc_auc_score

FIXTURE = Path(__file__).resolve().parents[2] / "tests/fixtures/benchmarks/ppe"


def scores_for(n_rows: int, n: int, rng: np.random.Generator) -> list[list[float]]:
    """Scores with many ties (a few levels), so ties at the top and across labels occur."""
    return [[float(x) for x in rng.integers(0, 6, size=n) / 2] for _ in range(n_rows)]


def pick_probabilities(scores: np.ndarray, k: int) -> np.ndarray:
    """P(response i is the pick of a uniform K-draw, ties at the top broken uniformly)."""
    n = len(scores)
    out = np.zeros(n)
    for i in range(n):
        tied = int(np.sum(scores == scores[i])) - 1
        below = int(np.sum(scores < scores[i]))
        out[i] = sum(comb(tied, j) * comb(below, k - 1 - j) / (j + 1) for j in range(0, min(tied, k - 1) + 1))
    return out / comb(n, k)


def monte_carlo(
    scores: np.ndarray, labels: np.ndarray, k: int, draws: int, rng: np.random.Generator
) -> float:
    hits = 0.0
    for _ in range(draws):
        idx = rng.permutation(len(scores))[:k]
        hits += labels[idx[int(np.argmax(scores[idx]))]]
    return hits / draws


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--out",
        default=str(Path(__file__).resolve().parents[2] / "tests/fixtures/reference/ppe_crosscheck.json"),
    )
    parser.add_argument("--draws", type=int, default=4000)
    args = parser.parse_args()
    rng = np.random.default_rng(16)
    import sklearn

    out: dict = {
        "seed": 16,
        "draws": args.draws,
        "versions": {"numpy": np.__version__, "scikit-learn": sklearn.__version__},
        "correctness": {},
        "human": {},
    }
    for path in sorted((FIXTURE / "correctness").rglob("*.jsonl")):
        subset = {
            "MMLU-Pro": "mmlu-pro",
            "MATH": "math",
            "GPQA": "gpqa",
            "IFEval": "ifeval",
            "MBPP-Plus": "mbpp-plus",
        }[path.parts[-3].removeprefix("PPE-").removesuffix("-Best-of-K")]
        rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
        all_scores = scores_for(len(rows), 32, rng)
        records, curve_rows, mc_rows, flat_s, flat_y = [], [], [], [], []
        wins = pairs = 0
        for row, sc in zip(rows, all_scores):
            y = np.array(row["scores"], dtype=float)
            s = np.array(sc)
            records.append(
                {
                    "scores_chosen": [v for v, ok in zip(sc, row["scores"]) if ok],
                    "scores_rejected": [v for v, ok in zip(sc, row["scores"]) if not ok],
                }
            )
            grid = s[y == 1][:, None] > s[y == 0][None, :]
            wins += int(grid.sum())
            pairs += int(grid.size)
            curve_rows.append([float(pick_probabilities(s, k) @ y) for k in range(1, 33)])
            mc_rows.append([monte_carlo(s, y, k, args.draws, rng) for k in (1, 4, 16)])
            flat_s += sc
            flat_y += list(y)
        curve = np.mean(curve_rows, axis=0)
        out["correctness"][subset] = {
            "records": records,
            "accuracy": wins / pairs if pairs else None,
            "n_pairs": pairs,
            "curve": [float(x) for x in curve],
            "best_of_k_max": float(curve.max()),
            "best_of_k_end": float(curve[-1]),
            "roc_auc": float(roc_auc_score(flat_y, flat_s)),
            "monte_carlo_k1_k4_k16": [float(x) for x in np.mean(mc_rows, axis=0)],
        }
    path = next((FIXTURE / "human").rglob("*.jsonl"))
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    s1, s2 = (rng.integers(0, 4, size=len(rows)) / 2 for _ in range(2))
    decided = [(a, b, r["winner"]) for a, b, r in zip(s1, s2, rows) if r["winner"] in ("model_a", "model_b")]
    right = [(a > b) if w == "model_a" else (b > a) for a, b, w in decided]
    out["human"] = {
        "scores_1": [float(x) for x in s1],
        "scores_2": [float(x) for x in s2],
        "winners": [r["winner"] for r in rows],
        "accuracy": float(np.mean(right)),
        "n_decided": len(decided),
        "n_rows": len(rows),
    }
    Path(args.out).write_text(json.dumps(out, indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
