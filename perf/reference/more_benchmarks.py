"""Fixture scores for RM-Bench and JudgeBench, scored by each benchmark's own metric code.

Run in a throwaway venv with numpy only, beside checkouts of the benchmarks' repositories::

    python perf/reference/more_benchmarks.py --rm-bench REPO --judgebench REPO --out tests/fixtures/benchmarks

The benchmarks' scoring functions are loaded from the checkouts (RM-Bench ``scripts/utils.py``
``compute_accuracy``; JudgeBench ``utils/metrics.py`` ``compute_final_metrics``) without their heavy imports
(fastchat, datasets, transformers): only the functions' own definitions are executed. Nothing is copied into
Rayward; the outputs are the inputs (scores) and the numbers those functions give on them.

Fixture scores are small integers so that ties happen; every JudgeBench pair carries two judge games with
verdicts covering agreement, inconsistency, one-sided and unparseable games.
"""

from __future__ import annotations

import argparse
import ast
import json
import random
import subprocess
from pathlib import Path

DOMAINS = ["chat", "math", "code", "safety-refuse", "safety-response"]
SOURCES = ["mmlu-pro-law", "mmlu-pro-math", "livebench-reasoning", "livebench-math", "livecodebench"]


def _functions(path: Path, names: list[str], namespace: dict) -> dict:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    wanted = [n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name in names]
    module = ast.Module(body=wanted, type_ignores=[])
    exec(compile(module, str(path), "exec"), namespace)
    return {n: namespace[n] for n in names}


def _commit(repo: Path, given: str | None) -> str:
    if given:
        return given
    out = subprocess.run(["git", "-C", str(repo), "rev-parse", "HEAD"], capture_output=True, text=True)
    return out.stdout.strip()


def rm_bench(repo: Path, rng: random.Random) -> dict:
    import numpy as np

    fns = _functions(
        repo / "scripts" / "utils.py",
        ["split_dataset_by_domain", "compute_accuracy"],
        {"np": np, "List": list, "Dict": dict, "Any": object},
    )
    records = []
    for domain, n in zip(DOMAINS, [4, 3, 3, 3, 2]):
        for i in range(n):
            records.append(
                {
                    "domain": domain,
                    "id": f"{domain}-{i}",
                    "score_chosen": [float(rng.randint(0, 4)) for _ in range(3)],
                    "score_rejected": [float(rng.randint(0, 4)) for _ in range(3)],
                }
            )
    per_domain = {}
    for domain in ("chat", "math", "code", "safety"):
        rows = [
            {k: v for k, v in r.items() if k != "domain"} for r in records if r["domain"].startswith(domain)
        ]
        per_domain[domain] = {k: float(v) for k, v in fns["compute_accuracy"](rows).items()}
    total = {k: float(v) for k, v in fns["compute_accuracy"]([dict(r) for r in records]).items()}
    return {"records": records, "reference": {"per_domain": per_domain, "total": total}}


def judgebench(repo: Path, rng: random.Random) -> dict:
    fns = _functions(repo / "utils" / "metrics.py", ["flip_judgment", "compute_final_metrics"], {})
    flip = fns["flip_judgment"]
    pairs = []
    for i in range(30):
        label = rng.choice(["A>B", "B>A"])
        a, b = float(rng.randint(0, 3)), float(rng.randint(0, 3))
        # the judge's two games, as JudgeBench stores them: game 2 shows B first, its decision is in that order
        games = [rng.choice(["A>B", "B>A", None]), rng.choice(["A>B", "B>A", None])]
        pairs.append(
            {
                "pair_id": f"p{i:02d}",
                "source": SOURCES[i % len(SOURCES)],
                "label": label,
                "score_A": a,
                "score_B": b,
                "judge_games": games,
            }
        )

    def rm_pairs(two_games: bool) -> list[dict]:
        out = []
        for p in pairs:
            g1 = "A>B" if p["score_A"] > p["score_B"] else "B>A"
            g2 = "A>B" if p["score_B"] > p["score_A"] else "B>A"  # responses swapped: first shown is B
            out.append({**p, "judgments": [{"decision": g1}] + ([{"decision": g2}] if two_games else [])})
        return out

    judged = [
        {**p, "judgments": [{"decision": d} if d is not None else None for d in p["judge_games"]]}
        for p in pairs
    ]
    reference = {}
    for name, rows, reverse in (
        ("rm_two_games", rm_pairs(True), True),
        ("rm_single_game", rm_pairs(False), False),
        ("judge_two_games", judged, True),
    ):
        reference[name] = {
            family or "overall": fns["compute_final_metrics"](
                rows, reverse, include_fn=lambda x, f=family: x["source"].startswith(f)
            )
            for family in ("mmlu-pro", "livebench", "livecodebench", "")
        }
    assert flip("A>B") == "B>A"
    return {"pairs": pairs, "reference": reference}


def judgebench_published(repo: Path, model_file: str) -> dict:
    """A published two-game reward-model run: each pair's two scores and the repository's metric on it."""
    fns = _functions(repo / "utils" / "metrics.py", ["flip_judgment", "compute_final_metrics"], {})
    rows = [
        json.loads(line) for line in (repo / "outputs" / model_file).read_text(encoding="utf-8").splitlines()
    ]
    reference = {
        family or "overall": fns["compute_final_metrics"](
            rows, True, include_fn=lambda x, f=family: x["source"].startswith(f)
        )
        for family in ("mmlu-pro", "livebench", "livecodebench", "")
    }
    scores = [{"pair_id": r["pair_id"], "scores": r["judgments"][0]["judgment"]["scores"]} for r in rows]
    return {"model_file": model_file, "scores": scores, "reference": reference}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rm-bench", type=Path, required=True)
    ap.add_argument("--judgebench", type=Path, required=True)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--rm-bench-commit", help="the checkout's commit (when it is not a git work tree)")
    ap.add_argument("--judgebench-commit", help="the checkout's commit (when it is not a git work tree)")
    args = ap.parse_args()
    rng = random.Random(16)
    out = {
        "rm_bench": {**rm_bench(args.rm_bench, rng), "commit": _commit(args.rm_bench, args.rm_bench_commit)},
        "judgebench": {
            **judgebench(args.judgebench, rng),
            "commit": _commit(args.judgebench, args.judgebench_commit),
        },
        "judgebench_published": {
            **judgebench_published(
                args.judgebench,
                "dataset=judgebench,response_model=gpt-4o-2024-05-13,judge_name=reward_model,"
                "judge_model=Skywork_Skywork-Reward-Gemma-2-27B.jsonl",
            ),
            "commit": _commit(args.judgebench, args.judgebench_commit),
        },
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "crosscheck.json").write_text(json.dumps(out, indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
