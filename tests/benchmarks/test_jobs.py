"""jobs/rm-bench.yaml, jobs/judgebench.yaml and jobs/rmb.yaml run end to end on Ray with the tiny models (a few rows
per subset, the real data via their `source:` override); every completion is scored once, equal to a direct
scorer, and the leaderboards recompute from the records by the benchmarks' formulas. Without `source:` the
default is the hub id, which needs the hub."""

import json

import numpy as np
import pytest
import yaml

from orchestrator.benchmarks import expected_counts
from orchestrator.config import BenchmarkSpec, JobConfig, model_spec
from orchestrator.data import load_examples
from orchestrator.errors import DataError
from orchestrator.query.db import connect, leaderboard, run_query
from orchestrator.runtime.driver import run_job
from orchestrator.scoring.classifier import ClassifierScorer
from orchestrator.scoring.formatting import format_conversations
from tests._synth import assert_totals_exact
from tests.conftest import REPO

pytestmark = pytest.mark.slow


def _job(name, tiny_models, tmp_path, limit):
    data = yaml.safe_load((REPO / "jobs" / f"{name}.yaml").read_text())
    for b in data["benchmarks"]:
        b["source"] = str((REPO / b["source"]).resolve())
        b["limit"] = limit
    for m in data["models"]:
        m["path"] = str(tiny_models[m["path"].split("/")[-1]])
    data["results"] = str(tmp_path / "results")
    data["resources"]["shard_size"] = 16
    return JobConfig.from_dict(data)


def _direct(tiny, prompts, completions):
    scorer = ClassifierScorer(model_spec(name="x", path=str(tiny)))
    return scorer.score_texts(format_conversations(scorer.tokenizer, prompts, completions))[0]


def _records(results, benchmark, model):
    con = connect(results)
    return run_query(
        con,
        f"SELECT * FROM latest_records WHERE benchmark = '{benchmark}' AND model = '{model}' ORDER BY row_index",
    ).to_pylist()


def test_rm_bench_job(ray_cluster, tiny_models, tmp_path):
    res = run_job(_job("rm-bench", tiny_models, tmp_path, 2))
    assert res.ok, res.failed
    ex = load_examples(
        BenchmarkSpec(name="rm-bench", source=str(REPO.parent / "shared/data/rm-bench"), limit=2)
    )
    recs = _records(tmp_path / "results", "rm-bench", "tiny-rm")
    assert len(recs) == 8
    rows = ex.table.to_pylist()
    direct = _direct(
        tiny_models["tiny-rm"],
        [r["prompt"] for r in rows for _ in range(6)],
        [t for r in rows for t in r["chosen"] + r["rejected"]],
    )
    np.testing.assert_allclose(
        [s for r in recs for s in r["scores_chosen"] + r["scores_rejected"]], direct, atol=1e-5
    )
    # RM-Bench's formula from the records, per domain (safety pooled), then the mean over the domains present
    domains = {"chat": "Chat", "code": "Code", "safety-refuse": "Safety", "safety-response": "Safety"}
    mats: dict[str, list[np.ndarray]] = {}
    for r in recs:
        m = np.array([[c > j for j in r["scores_rejected"]] for c in r["scores_chosen"]], dtype=float)
        mats.setdefault(domains[r["subset"]], []).append(m)
    want = {}
    for d, ms in mats.items():
        acc = np.mean(ms, axis=0)
        want[d] = (np.sum(np.triu(acc, 1)) / 3, np.mean(np.diag(acc)), np.sum(np.tril(acc, -1)) / 3)
    rows = {r["model"]: r for r in leaderboard(tmp_path / "results", "rm-bench")}
    row = rows["tiny-rm"]
    for d, (hard, normal, easy) in want.items():
        assert row[d] == pytest.approx((hard + normal + easy) / 3)
    assert row["Hard"] == pytest.approx(np.mean([w[0] for w in want.values()]))
    assert row["Easy"] == pytest.approx(np.mean([w[2] for w in want.values()]))
    assert row["score"] == pytest.approx(np.mean([sum(w) / 3 for w in want.values()]))
    assert row["Math"] is None and row["complete"] is False and "math 0/529" in row["incomplete_subsets"]
    assert set(rows) == {"tiny-rm", "tiny-rm-b"}


def test_judgebench_job(ray_cluster, tiny_models, tmp_path):
    res = run_job(_job("judgebench", tiny_models, tmp_path, 1))
    assert res.ok, res.failed
    for bench, n_rows in (("judgebench", 17), ("judgebench-claude", 17)):
        recs = _records(tmp_path / "results", bench, "tiny-rm")
        assert len(recs) == n_rows and all(r["chosen_position"] in (0, 1) for r in recs)
        board = {r["model"]: r for r in leaderboard(tmp_path / "results", bench)}
        # a family pools its pairs: its subsets weigh as many as they have (expected_counts) in the full split
        n = expected_counts(bench)
        for family in ("mmlu-pro", "livebench", "livecodebench"):
            mine = [r for r in recs if r["subset"].startswith(family)]
            want = sum((r["score_chosen"] > r["score_rejected"]) * n[r["subset"]] for r in mine)
            assert board["tiny-rm"][family] == pytest.approx(want / sum(n[r["subset"]] for r in mine))
        # the tiny judge writes garbage: both games unparseable, every pair wrong, as JudgeBench counts it
        judge = _records(tmp_path / "results", bench, "tiny-judge-pairwise")
        assert len(judge) == n_rows and all(len(r["judge_outputs"]) == 2 for r in judge)
        assert board["tiny-judge-pairwise"]["score"] == 0.0
        assert board["tiny-judge-pairwise"]["parse_failure_rate"] == 1.0


def test_rmb_job(ray_cluster, tiny_models, tmp_path):
    res = run_job(_job("rmb", tiny_models, tmp_path, 1))
    assert res.ok, res.failed
    recs = _records(tmp_path / "results", "rmb", "tiny-rm")
    assert len(recs) == 95
    right = {r["subset"]: min(r["scores_chosen"]) > max(r["scores_rejected"]) for r in recs}
    [row] = leaderboard(tmp_path / "results", "rmb")
    n = expected_counts("rmb")
    for section, prefix in (
        ("Helpfulness BoN", "BoN_set/Helpfulness/"),
        ("Harmlessness Pairwise", "Pairwise_set/Harmlessness/"),
    ):
        subsets = [s for s in right if s.startswith(prefix)]
        want = sum(right[s] * n[s] for s in subsets) / sum(n[s] for s in subsets)
        assert row[section] == pytest.approx(want)
    assert row["complete"] is False


@pytest.mark.parametrize(
    ("name", "hub_id"), [("rm-bench", "THU-KEG/RM-Bench"), ("judgebench", "ScalerLab/JudgeBench")]
)
def test_default_source_is_the_hub(name, hub_id):
    with pytest.raises(
        DataError, match=rf"{hub_id}: cannot load hub dataset .*Point `source` at a local copy"
    ):
        load_examples(BenchmarkSpec(name=name))


def test_ppe_job(ray_cluster, tiny_models, tmp_path, monkeypatch):
    """jobs/ppe.yaml: ppe-human from its hub-id default (read offline from a directory named like the hub id),
    ppe-correctness from a `source:` override; every response scored once, as a direct scorer scores it, and both
    leaderboards recomputed from the records by PPE's formulas."""
    fixture = REPO / "tests/fixtures/benchmarks/ppe"
    data = yaml.safe_load((REPO / "jobs/ppe.yaml").read_text())
    data["benchmarks"][0]["limit"] = 12
    data["benchmarks"][1].update(source=str(fixture / "correctness"), limit=3)
    data["models"][0]["path"] = str(tiny_models["tiny-rm"])
    data["results"] = str(tmp_path / "results")
    data["resources"]["shard_size"] = 16
    monkeypatch.chdir(fixture / "human")
    res = run_job(JobConfig.from_dict(data))
    assert res.ok, res.failed
    results = tmp_path / "results"
    human = _records(results, "ppe-human", "tiny-rm")
    assert len(human) == 12 and sum(r["chosen_position"] is None for r in human) == 4
    decided = [r["score_chosen"] > r["score_rejected"] for r in human if r["chosen_position"] is not None]
    [hrow] = leaderboard(results, "ppe-human")
    assert hrow["Human Preference"] == pytest.approx(np.mean(decided))
    # the battles' metadata went through the scoring actor to the examples table: the categories from it
    lines = next((fixture / "human").rglob("*.jsonl")).read_text().splitlines()
    raw = [json.loads(line) for line in lines[:12]]
    con = connect(results)
    cats = {
        r["category"]: r
        for r in run_query(con, "SELECT * FROM ppe_preference_categories WHERE model = 'tiny-rm'").to_pylist()
    }
    by_row = {r["row_index"]: r for r in human}
    for category, flag in (("hard_prompt", "hard_prompt"), ("is_code", "is_code"), ("english", None)):
        rows = [i for i, x in enumerate(raw) if (x[flag] if flag else x["language"] == "English")]
        wins = [
            by_row[i]["score_chosen"] > by_row[i]["score_rejected"]
            for i in rows
            if by_row[i]["chosen_position"] is not None
        ]
        assert cats[category]["n"] == len(rows) and cats[category]["n_decided"] == len(wins)
        assert cats[category]["accuracy"] == (pytest.approx(np.mean(wins)) if wins else None)
    assert cats["overall"]["n"] == 12 and "language=Chinese" in cats
    # a rerun served by the score cache keeps the metadata (the cached records take it from the examples too)
    again = run_job(JobConfig.from_dict(data))
    assert again.ok, again.failed
    rerun = run_query(
        connect(results),
        "SELECT count(*) AS n, count(metadata) AS with_metadata, count(DISTINCT run_id) AS runs, "
        "count(cached_from) AS cached FROM latest_records WHERE benchmark = 'ppe-human'",
    ).to_pylist()
    assert rerun == [{"n": 12, "with_metadata": 12, "runs": 1, "cached": 12}]
    assert human[0]["run_id"] not in {r["run_id"] for r in _records(results, "ppe-human", "tiny-rm")}
    recs = _records(results, "ppe-correctness", "tiny-rm")
    assert len(recs) == 15
    ex = load_examples(BenchmarkSpec(name="ppe-correctness", source=str(fixture / "correctness"), limit=3))
    rows = ex.table.to_pylist()
    direct = _direct(
        tiny_models["tiny-rm"],
        [r["prompt"] for r in rows for _ in range(len(r["chosen"]) + len(r["rejected"]))],
        [t for r in rows for t in r["chosen"] + r["rejected"]],
    )
    got = {(r["subset"], r["source_id"]): r["scores_chosen"] + r["scores_rejected"] for r in recs}
    flat = [s for r in rows for s in got[(r["subset"], r["source_id"])]]
    np.testing.assert_allclose(flat, direct, atol=1e-5)
    [crow] = leaderboard(results, "ppe-correctness")
    for subset, section in (("math", "MATH"), ("gpqa", "GPQA"), ("mbpp-plus", "MBPP-Plus")):
        mine = [r for r in recs if r["subset"] == subset]
        wins = sum(c > x for r in mine for c in r["scores_chosen"] for x in r["scores_rejected"])
        pairs = sum(len(r["scores_chosen"]) * len(r["scores_rejected"]) for r in mine)
        assert crow[section] == (pytest.approx(wins / pairs) if pairs else None)
        # best of 1 is the share of correct responses; best of 32 picks a top-scored one
        con = connect(results)
        k1, k32 = (
            run_query(
                con,
                f"SELECT accuracy FROM ppe_best_of_k_curve WHERE subset = '{subset}' AND model = 'tiny-rm' AND k = {k}",
            ).to_pylist()[0]["accuracy"]
            for k in (1, 32)
        )
        assert k1 == pytest.approx(np.mean([len(r["scores_chosen"]) / 32 for r in mine]))
        top = []
        for r in mine:
            s = r["scores_chosen"] + r["scores_rejected"]
            best = [i for i, v in enumerate(s) if v == max(s)]
            top.append(sum(i < len(r["scores_chosen"]) for i in best) / len(best))
        assert k32 == pytest.approx(np.mean(top))
    assert crow["complete"] is False
    # the subset totals stored at compaction give exactly the views computed from these records
    assert_totals_exact(results)
