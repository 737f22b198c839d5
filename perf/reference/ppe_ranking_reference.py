"""PPE's model-level ranking metrics computed by Arena-Hard's own code (lmarena/arena-hard-auto), for the cross-check
of orchestrator/query/ppe_ranking.py (tests/query/test_ppe_ranking.py). PPE's code (github.com/lmarena/PPE) was not
readable from this machine; PPE follows Arena-Hard's metrics, whose code is:

* ``utils_math.py`` at commit a06dde2607bd14a350ebf91fb52eaa513b1a57cc: ``compute_mle_elo`` (Bradley-Terry by an
  unpenalized scikit-learn logistic regression, ties as one win each way), imported unchanged from the snapshot;
* ``notebook/benchmark_statistics.ipynb`` at commit bd52a78991225700e9b8403f3e1f3cd4a6b45141: the cells defining
  ``get_unique_overlapping_interval_pairs`` (separability), the "Arena Hard (With Confidence)" agreement loop and
  ``calculate_predictions_and_labels`` (Brier, with ``sklearn.metrics.brier_score_loss``), run unchanged with
  ``exec`` on our DataFrames (the loop's globals bound to them).

Both runs see the same data: the PPE human fixture's battles (winner = the human verdict; the reward model's verdicts
by the rule the test uses) for the point estimates, and a seeded synthetic set of 300 battles among 6 models for
the bootstrap metrics, resampled with exactly our indices (``numpy.random.default_rng(seed).integers(0, n, (n_boot,
n))``), ``compute_mle_elo`` fitted on each resample. Writes tests/fixtures/reference/ppe_ranking_crosscheck.json.
Recipe: run_reference_ppe_ranking.sh.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import io
import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import scipy
import sklearn
from scipy import stats
from sklearn.metrics import brier_score_loss

REPO = Path(__file__).resolve().parents[2]
FIXTURE = (
    REPO
    / "tests/fixtures/benchmarks/ppe/human/lmarena-ai/PPE-Human-Preference-V1/data/test-00000-of-00001.jsonl"
)
N_BOOT = 100
SEED = 0


def fixture_pick(i: int) -> str:
    """The reward model's verdict on fixture battle i, as tests/query/test_ppe_ranking.py scores it."""
    if i == 9:
        return "tie"
    return "model_a" if i % 3 != 1 else "model_b"


def synthetic() -> pd.DataFrame:
    """300 battles among 6 models with Bradley-Terry strengths, ties, and a noisy reward model's verdicts."""
    rng = np.random.default_rng(2410)
    strength = np.array([-1.2, -0.6, -0.1, 0.3, 0.8, 1.4])
    n = 300
    a = rng.integers(0, 6, n)
    b = (a + rng.integers(1, 6, n)) % 6
    p = 1 / (1 + np.exp(-(strength[a] - strength[b])))
    u = rng.random(n)
    human = np.where(u < 0.15, "tie", np.where(u < 0.15 + 0.85 * p, "model_a", "model_b"))
    flip = rng.random(n)
    rm = np.where(flip < 0.25, np.where(human == "model_a", "model_b", "model_a"), human)
    rm = np.where(flip > 0.95, "tie", rm)
    return pd.DataFrame(
        {"model_a": [f"m{i}" for i in a], "model_b": [f"m{i}" for i in b], "winner": human, "rm_winner": rm}
    )


def _cells(path: Path) -> list[str]:
    nb = json.loads(path.read_text())
    return ["".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code"]


def _cell(cells: list[str], marker: str) -> str:
    found = [c for c in cells if marker in c]
    assert len(found) >= 1, marker
    return found[0]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument(
        "--arena-hard", required=True, help="a directory with utils_math.py and benchmark_statistics.ipynb"
    )
    ap.add_argument("--out", default=str(REPO / "tests/fixtures/reference/ppe_ranking_crosscheck.json"))
    args = ap.parse_args()
    src = Path(args.arena_hard)
    spec = importlib.util.spec_from_file_location("utils_math", src / "utils_math.py")
    um = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(um)
    cells = _cells(src / "benchmark_statistics.ipynb")

    def elo(df: pd.DataFrame, col: str) -> pd.Series:
        return um.compute_mle_elo(df[["model_a", "model_b"]].assign(winner=df[col].to_numpy()))

    def tight_elo(df: pd.DataFrame, col: str) -> pd.Series:
        """compute_mle_elo unchanged, its logistic regression solved by scikit-learn's Newton-Cholesky solver to
        tol 1e-13 (instead of lbfgs to 1e-8, whose function-change stop leaves ~1e-6 Elo): the same estimator, solved
        to near machine precision."""
        plain = um.LogisticRegression

        def tight(**kw):
            kw.update(tol=1e-13, max_iter=100000, solver="newton-cholesky")
            return plain(**kw)

        um.LogisticRegression = tight
        try:
            return elo(df, col)
        finally:
            um.LogisticRegression = plain

    out: dict = {
        "versions": {
            "numpy": np.__version__,
            "pandas": pd.__version__,
            "scipy": scipy.__version__,
            "scikit-learn": sklearn.__version__,
        },
        "arena_hard_commits": {
            "utils_math.py": "a06dde2607bd14a350ebf91fb52eaa513b1a57cc",
            "benchmark_statistics.ipynb": "bd52a78991225700e9b8403f3e1f3cd4a6b45141",
        },
    }
    rows = [json.loads(line) for line in FIXTURE.read_text(encoding="utf-8").splitlines()]
    fx = pd.DataFrame(
        {
            "model_a": [r["model_a"] for r in rows],
            "model_b": [r["model_b"] for r in rows],
            "winner": [r["winner"] for r in rows],
            "rm_winner": [fixture_pick(i) for i in range(len(rows))],
        }
    )
    h, r = elo(fx, "winner"), elo(fx, "rm_winner")
    models = sorted(h.index)
    ht, rt = tight_elo(fx, "winner"), tight_elo(fx, "rm_winner")
    out["fixture"] = {
        "human_ratings": {m: float(h[m]) for m in models},
        "rm_ratings": {m: float(r[m]) for m in models},
        "human_ratings_tight": {m: float(ht[m]) for m in models},
        "rm_ratings_tight": {m: float(rt[m]) for m in models},
        "spearman": float(stats.spearmanr([r[m] for m in models], [h[m] for m in models]).statistic),
        "kendall": float(stats.kendalltau([r[m] for m in models], [h[m] for m in models]).statistic),
    }

    syn = synthetic()
    h, r = elo(syn, "winner"), elo(syn, "rm_winner")
    models = sorted(h.index)
    idx = np.random.default_rng(SEED).integers(0, len(syn), size=(N_BOOT, len(syn)))
    h_reps = pd.DataFrame([elo(syn.iloc[take], "winner") for take in idx])[models]
    r_reps = pd.DataFrame([elo(syn.iloc[take], "rm_winner") for take in idx])[models]

    def table(reps: pd.DataFrame, point: pd.Series) -> pd.DataFrame:
        return pd.DataFrame(
            {
                "model": models,
                "lower": [np.percentile(reps[m], 2.5) for m in models],
                "upper": [np.percentile(reps[m], 97.5) for m in models],
                "score": [point[m] for m in models],
                "results": [reps[m].to_numpy() for m in models],
            }
        )

    rm_table, human_table = table(r_reps, r), table(h_reps, h)
    ns: dict = {"np": np, "pd": pd, "comb": __import__("math").comb}
    exec(_cell(cells, "def get_unique_overlapping_interval_pairs(df"), ns)
    overlap, total = ns["get_unique_overlapping_interval_pairs"](rm_table)
    exec(_cell(cells, "def get_overlap(a, b)"), ns)
    from itertools import combinations

    agreement_cell = _cell(cells, 'print(f"Arena Hard (With Confidence)')
    elo_subset = pd.DataFrame(
        {
            "index": models,
            "rating_q025": human_table["lower"],
            "rating_q975": human_table["upper"],
            "rating": human_table["score"],
        }
    )
    ns.update(arena_hard=rm_table, elo_subset=elo_subset, combinations=combinations)
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        exec(agreement_cell, ns)
    agreement = float(buf.getvalue().strip().rsplit(":", 1)[1])
    forecast = {"norm": stats.norm, "combinations": combinations, "np": np, "pd": pd}
    exec(_cell(cells, "def calculate_predictions_and_labels("), forecast)
    pred = {
        "mean": {m: float(r_reps[m].mean()) for m in models},
        "var": {m: float(np.var(r_reps[m])) for m in models},
    }
    true = {
        "rating": {m: float(h[m]) for m in models},
        "variance": {m: float(np.var(h_reps[m])) for m in models},
    }
    res = forecast["calculate_predictions_and_labels"](models, pred, true)
    out["synthetic"] = {
        "battles": syn.to_dict(orient="list"),
        "n_boot": N_BOOT,
        "seed": SEED,
        "idx_sum": int(idx.sum()),
        "human_ratings": {m: float(h[m]) for m in models},
        "rm_ratings": {m: float(r[m]) for m in models},
        "human_ratings_tight": {m: float(v) for m, v in tight_elo(syn, "winner").items()},
        "rm_ratings_tight": {m: float(v) for m, v in tight_elo(syn, "rm_winner").items()},
        "spearman": float(stats.spearmanr([r[m] for m in models], [h[m] for m in models]).statistic),
        "kendall": float(stats.kendalltau([r[m] for m in models], [h[m] for m in models]).statistic),
        "rm_intervals": {
            m: [float(lo), float(hi)] for m, lo, hi in zip(models, rm_table["lower"], rm_table["upper"])
        },
        "human_intervals": {
            m: [float(lo), float(hi)] for m, lo, hi in zip(models, human_table["lower"], human_table["upper"])
        },
        "separability": 1 - overlap / total,
        "confidence_agreement": agreement,
        "brier": float(brier_score_loss(res["label"], res["p(a<b)"])),
    }
    Path(args.out).write_text(json.dumps(out, indent=1, sort_keys=True) + "\n")
    print(
        json.dumps({k: v for k, v in out["synthetic"].items() if k != "battles"}, indent=1), file=sys.stderr
    )


if __name__ == "__main__":
    main()
