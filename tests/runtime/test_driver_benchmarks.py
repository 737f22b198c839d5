"""Real job runs (Ray, tiny model) on each benchmark kind: RewardBench 2 in its exact schema, v1 Prior Sets laid out
as pref-test-sets (one file per split), and a custom JSONL with multi-turn prompts and best-of-3 lists."""

import json

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from orchestrator.config import JobConfig, model_spec
from orchestrator.query.db import connect, leaderboard, run_query
from orchestrator.runtime.driver import run_job
from orchestrator.scoring.classifier import ClassifierScorer
from orchestrator.scoring.formatting import format_conversations


def v2_fixture(path):
    """RewardBench 2 rows in the hub's exact schema (1 chosen + 3 rejected; Ties with several chosen)."""
    rows = []
    subsets = ["Factuality", "Precise IF", "Math", "Safety", "Focus"]
    for i, subset in enumerate(subsets * 2):
        rows.append(
            {
                "id": str(i),
                "prompt": f"Question {i} about {subset.lower()}?",
                "chosen": [f"A careful, correct answer {i}."],
                "rejected": [f"Wrong {i}.", f"Nonsense answer number {i} here.", f"no {i}"],
                "num_correct": 1,
                "num_incorrect": 3,
                "total_completions": 4,
                "models": ["m1", "m2", "m3", "m4"],
                "subset": subset,
                "additional_metadata": {"note": "x"},
            }
        )
    for pid in range(2):
        for kind, n_ok in (("ref", 1), ("tied", 3)):
            rows.append(
                {
                    "id": f"{kind}:{pid}",
                    "prompt": f"Name a prime number ({pid}).",
                    "chosen": [f"{p}" for p in (2, 3, 5)[:n_ok]],
                    "rejected": ["4", "Nine is prime."],
                    "num_correct": n_ok,
                    "num_incorrect": 2,
                    "total_completions": n_ok + 2,
                    "models": ["m"] * (n_ok + 2),
                    "subset": "Ties",
                    "additional_metadata": {"note": "y"},
                }
            )
    pq.write_table(pa.Table.from_pylist(rows), path)
    return rows


def _job(tmp_path, benchmarks, tiny):
    return JobConfig.from_dict(
        {
            "name": "bench-test",
            "benchmarks": benchmarks,
            "models": [{"name": "tiny-rm", "path": str(tiny)}],
            "resources": {"gpus_per_actor": 0, "shard_size": 7},
            "results": str(tmp_path / "results"),
        }
    )


def _direct_scores(tiny, prompts, completions):
    scorer = ClassifierScorer(model_spec(name="x", path=str(tiny)))
    return scorer.score_texts(format_conversations(scorer.tokenizer, prompts, completions))[0]


def _bon_points(sc, sr):
    scores = list(sc) + list(sr)
    top = max(scores)
    return 1 / sum(s == top for s in scores) if scores[0] == top else 0.0


def test_reward_bench_2_job(ray_cluster, tiny_models, tmp_path):
    data = tmp_path / "rb2.parquet"
    rows = v2_fixture(data)
    res = run_job(_job(tmp_path, [{"name": "reward-bench-2", "source": str(data)}], tiny_models["tiny-rm"]))
    assert res.ok, res.failed
    con = connect(tmp_path / "results")
    recs = run_query(
        con,
        "SELECT row_index, source_id, scores_chosen, scores_rejected, score_chosen, score_rejected, "
        "correct, texts_chosen, texts_rejected FROM records ORDER BY row_index",
    ).to_pylist()
    assert len(recs) == len(rows) and [r["source_id"] for r in recs] == [r["id"] for r in rows]
    assert [(r["texts_chosen"], r["texts_rejected"]) for r in recs] == [
        (r["chosen"], r["rejected"]) for r in rows
    ]
    # every completion scored once, equal to a direct scorer on the same conversations
    prompts = [r["prompt"] for r in rows for _ in range(r["total_completions"])]
    texts = [t for r in rows for t in r["chosen"] + r["rejected"]]
    direct = _direct_scores(tiny_models["tiny-rm"], prompts, texts)
    ours = [s for r in recs for s in r["scores_chosen"] + r["scores_rejected"]]
    np.testing.assert_allclose(ours, direct, atol=1e-5)
    for r in recs:
        assert r["score_chosen"] == r["scores_chosen"][0] and r["score_rejected"] == max(r["scores_rejected"])
        assert r["correct"] == (min(r["scores_chosen"]) > max(r["scores_rejected"]))
    acc = {
        r["subset"]: r["accuracy"]
        for r in run_query(con, "SELECT subset, accuracy FROM subset_accuracy").to_pylist()
    }
    for subset in ["Factuality", "Precise IF", "Math", "Safety", "Focus"]:
        mine = [r for r, src in zip(recs, rows) if src["subset"] == subset]
        assert acc[subset] == pytest.approx(
            np.mean([_bon_points(r["scores_chosen"], r["scores_rejected"]) for r in mine])
        )
    (row,) = leaderboard(tmp_path / "results", "reward-bench-2")
    assert row["score"] == pytest.approx(
        np.mean([acc[s] for s in ["Factuality", "Precise IF", "Math", "Safety", "Focus", "Ties"]])
    )
    assert row["complete"] is False


def test_prior_sets_job_from_split_files(ray_cluster, tiny_models, tmp_path, filtered_path):
    prior = tmp_path / "pref-test-sets" / "data"
    prior.mkdir(parents=True)
    turns = [
        {"role": "user", "content": "Hi"},
        {"role": "assistant", "content": "Hello!"},
        {"role": "user", "content": "Help me?"},
    ]
    for split in [
        "anthropic_helpful",
        "anthropic_hhh",
        "shp",
        "summarize",
        "anthropic_harmless",
        "pku_safer",
    ]:
        table = pa.Table.from_pylist(
            [
                {
                    "prompt": turns if split == "anthropic_helpful" else f"{split} prompt {i}",
                    "chosen": f"good {i} " * (i + 1),
                    "rejected": f"bad {i}",
                    "id": i,
                    "subset": "orig",
                }
                for i in range(3)
            ]
        )
        pq.write_table(table, prior / f"{split}-00000-of-00001.parquet")
    results = tmp_path / "results"
    core = run_job(
        _job(
            tmp_path,
            [{"name": "reward-bench", "source": str(filtered_path), "limit": 2}],
            tiny_models["tiny-rm"],
        )
    )
    extra = run_job(
        _job(
            tmp_path,
            [{"name": "reward-bench", "source": str(prior.parent), "subset_from_split": True}],
            tiny_models["tiny-rm"],
        )
    )
    assert core.ok and extra.ok
    con = connect(results)
    counts = run_query(con, "SELECT subset, count(*) AS n FROM latest_records GROUP BY subset").to_pylist()
    subsets = {r["subset"]: r["n"] for r in counts}
    assert (
        subsets["anthropic_helpful"] == 3 and "pku_safer" not in subsets and subsets["alpacaeval-easy"] == 2
    )
    acc = {
        r["subset"]: r["accuracy"]
        for r in run_query(con, "SELECT subset, accuracy FROM subset_accuracy").to_pylist()
    }
    (row,) = leaderboard(results)
    prior_score = np.mean([acc[s] for s in ["anthropic_helpful", "anthropic_hhh", "shp", "summarize"]])
    assert row["Prior Sets"] == pytest.approx(prior_score)
    v1 = [row[s] for s in ["Chat", "Chat Hard", "Safety", "Reasoning"]]
    assert row["score"] == pytest.approx((2 * sum(v1) + prior_score) / 9)
    # the multi-turn prompt went through the chat template with every turn
    (rec,) = run_query(
        con,
        "SELECT prompt, score_chosen FROM latest_records "
        "WHERE subset = 'anthropic_helpful' AND example_id = 0",
    ).to_pylist()
    assert json.loads(rec["prompt"])[1]["content"] == "Hello!"
    direct = _direct_scores(tiny_models["tiny-rm"], [turns], ["good 0 "])
    assert rec["score_chosen"] == pytest.approx(direct[0], abs=1e-5)


def test_custom_jsonl_multiturn_best_of_3(ray_cluster, tiny_models, tmp_path):
    data = tmp_path / "prefs.jsonl"
    lines = []
    for i in range(5):
        question = (
            [
                {"role": "user", "content": f"Plan a trip {i}"},
                {"role": "assistant", "content": "Where to?"},
                {"role": "user", "content": "Somewhere warm."},
            ]
            if i % 2
            else f"Single-turn question {i}"
        )
        lines.append(
            {
                "question": question,
                "good": [f"Try Lisbon in spring, option {i}."],
                "bad": [f"no {i}", f"Go to the Arctic {i}.", f"I cannot help with {i}."],
                "topic": "travel" if i < 3 else "misc",
            }
        )
    data.write_text("\n".join(json.dumps(x) for x in lines) + "\n")
    spec = {
        "name": "custom",
        "source": str(data),
        "label": "my-prefs",
        "columns": {"prompt": "question", "chosen": "good", "rejected": "bad", "subset": "topic"},
    }
    res = run_job(_job(tmp_path, [spec], tiny_models["tiny-rm"]))
    assert res.ok, res.failed
    con = connect(tmp_path / "results")
    recs = run_query(
        con, "SELECT subset, scores_chosen, scores_rejected FROM records ORDER BY row_index"
    ).to_pylist()
    assert [len(r["scores_rejected"]) for r in recs] == [3] * 5
    prompts = [x["question"] for x in lines for _ in range(4)]
    texts = [t for x in lines for t in x["good"] + x["bad"]]
    np.testing.assert_allclose(
        [s for r in recs for s in r["scores_chosen"] + r["scores_rejected"]],
        _direct_scores(tiny_models["tiny-rm"], prompts, texts),
        atol=1e-5,
    )
    rows = leaderboard(tmp_path / "results", "my-prefs")
    travel = np.mean([_bon_points(r["scores_chosen"], r["scores_rejected"]) for r in recs[:3]])
    misc = np.mean([_bon_points(r["scores_chosen"], r["scores_rejected"]) for r in recs[3:]])
    assert rows[0]["travel"] == pytest.approx(travel) and rows[0]["misc"] == pytest.approx(misc)
    assert rows[0]["score"] == pytest.approx((travel + misc) / 2) and rows[0]["complete"] is True
