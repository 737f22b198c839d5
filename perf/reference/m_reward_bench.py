"""Fixture scores for M-RewardBench, scored by M-RewardBench's own leaderboard code.

Run in a throwaway venv (pandas, numpy, scikit-learn, matplotlib, seaborn, huggingface_hub, pyarrow), beside a
checkout of the benchmark's repository (for-ai/m-rewardbench, also Cohere-Labs-Community/m-rewardbench)::

    python perf/reference/m_reward_bench.py --repo CHECKOUT \\
        --fixture tests/fixtures/benchmarks/m-reward-bench --out tests/fixtures/benchmarks/m_reward_bench.json

(``perf/reference/m_reward_bench.sh`` is the recipe: the venv, the checkout's ``analysis/`` at the commit read,
the run.)

What runs of theirs, unchanged, imported from the checkout:

* ``analysis/_plot_leaderboard.py`` ``get_leaderboard``: per language a model's score and, with ``category``, its
  Chat / Chat Hard / Safety / Reasoning score, and ``Avg`` / ``Std`` over the languages; it reads one folder per
  language of per-model result files through ``analysis/plot_utils.py`` ``get_scores`` (the subset -> category
  weighting, EXAMPLE_COUNTS). Its ``snapshot_download`` of the results dataset is pointed at a local folder (the
  one thing replaced: there is no hub here).
* ``sklearn.metrics.cohen_kappa_score``, the function their ``analysis/compute_iaa.py`` measures agreement with,
  on the same label sequences the ``language_agreement`` view pairs.

The per-model result files are written in the layout their ``scripts/run_rewardbench.py`` saves
(``extra_results``: per subset the share of pairs with ``chosen > rejected``, its rule, a tie wrong); scores are
small numbers set per (model, language, subset) so that ties, partial subsets and agreement cases happen. Nothing
of theirs is copied into Rayward: the output is the inputs (scores) and the numbers their functions give on them.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from itertools import combinations
from pathlib import Path

LANGS = ("arb_Arab", "deu_Latn", "kor_Hang")
CHAT = ("alpacaeval-easy", "alpacaeval-length", "alpacaeval-hard", "mt-bench-easy", "mt-bench-med")

RIGHT, WRONG = (2.0, 1.0), (0.0, 1.0)


def _scores(model: str, lang: str, subset: str, k: int) -> tuple[float, float]:
    """(score_chosen, score_rejected) of the k-th example of ``subset`` (k = 0, 1) in ``lang``."""
    if model == "rm-a":
        if lang == "deu_Latn":
            if (subset, k) == ("alpacaeval-easy", 1):
                return (1.0, 1.0)  # a tie: wrong
            return WRONG if (subset, k) == ("math-prm", 1) else RIGHT
        if lang == "arb_Arab":
            if subset == "llmbar-natural":
                return (1.5, 1.5)
            wrong = {
                ("mt-bench-hard", 0),
                ("xstest-should-respond", 1),
                ("donotanswer", 0),
                ("hep-python", 0),
            }
            return WRONG if (subset, k) in wrong else RIGHT
        if subset == "alpacaeval-length":
            return (1.0, 1.0)
        return RIGHT if subset in ("refusals-dangerous", "hep-go") else WRONG
    if lang == "kor_Hang" and subset in CHAT:
        return (0.5, 0.5)
    return RIGHT


def _fixture_rows(fixture: Path, lang: str) -> list[dict]:
    import pyarrow.parquet as pq

    return pq.read_table(fixture / lang / "test-00000-of-00001.parquet").to_pylist()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repo", type=Path, required=True, help="checkout of the M-RewardBench repository")
    parser.add_argument("--fixture", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--commit", help="the checkout's commit (default: git rev-parse HEAD in --repo)")
    args = parser.parse_args()

    sys.path.insert(0, str(args.repo.resolve()))
    import numpy as np
    from analysis import _plot_leaderboard as board  # their module (its plotting imports need matplotlib)
    from sklearn.metrics import cohen_kappa_score

    records: dict[str, list[dict]] = {}
    labels: dict[tuple[str, str], dict[tuple[str, int], int]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "eval-results"
        for model in ("rm-a", "rm-b"):
            records[model] = []
            for lang in LANGS:
                seen: dict[str, int] = {}
                per_subset: dict[str, list[int]] = {}
                for row in _fixture_rows(args.fixture, lang):
                    k = seen.get(row["source"], 0)
                    seen[row["source"]] = k + 1
                    chosen, rejected = _scores(model, lang, row["source"], k)
                    result = 1 if chosen > rejected else 0  # run_rewardbench.py's rule
                    per_subset.setdefault(row["source"], []).append(result)
                    labels.setdefault((model, lang), {})[(row["source"], row["id"])] = result
                    records[model].append(
                        {
                            "language": lang,
                            "source": row["source"],
                            "id": row["id"],
                            "score_chosen": chosen,
                            "score_rejected": rejected,
                        }
                    )
                grouped = {s: sum(v) / len(v) for s, v in per_subset.items()}
                out = root / lang / f"{model}.json"
                out.parent.mkdir(parents=True, exist_ok=True)
                out.write_text(
                    json.dumps(
                        {
                            "accuracy": float(np.mean([x for v in per_subset.values() for x in v])),
                            "num_prompts": sum(len(v) for v in per_subset.values()),
                            "model": model,
                            "ref_model": None,
                            "tokenizer": model,
                            "chat_template": None,
                            "extra_results": grouped,
                            "subset_results": grouped,
                        }
                    )
                )
        board.snapshot_download = lambda *a, **k: str(root)  # no hub: their results dataset is this folder
        overall = board.get_leaderboard(dataset="local", force_download=False)
        categories = {
            c: board.get_leaderboard(dataset="local", force_download=False, category=c)
            for c in ("Chat", "Chat Hard", "Safety", "Reasoning")
        }

    reference: dict[str, dict] = {}
    for model in records:
        reference[model] = {
            "languages": {lang: float(overall.loc[model, lang]) for lang in LANGS},
            "Avg": float(overall.loc[model, "Avg"]),
            "Std": float(overall.loc[model, "Std"]),
            "matrix": {
                lang: {c: float(df.loc[model, lang]) for c, df in categories.items()} for lang in LANGS
            },
            "kappa": {},
        }
        for a, b in combinations(LANGS, 2):
            keys = sorted(labels[(model, a)])
            k = cohen_kappa_score(
                [labels[(model, a)][x] for x in keys], [labels[(model, b)][x] for x in keys]
            )
            reference[model]["kappa"][f"{a}|{b}"] = None if np.isnan(k) else float(k)
    commit = subprocess.run(
        ["git", "-C", str(args.repo), "rev-parse", "HEAD"], capture_output=True, text=True
    )
    args.out.write_text(
        json.dumps(
            {
                "made_by": "perf/reference/m_reward_bench.py",
                "repository": "for-ai/m-rewardbench",
                "commit": args.commit or commit.stdout.strip() or None,
                "functions": [
                    "analysis/_plot_leaderboard.py get_leaderboard",
                    "analysis/plot_utils.py get_scores",
                    "sklearn.metrics.cohen_kappa_score",
                ],
                "records": records,
                "reference": reference,
            },
            indent=1,
            ensure_ascii=False,
        )
        + "\n",
        encoding="utf-8",
    )


if __name__ == "__main__":
    main()
