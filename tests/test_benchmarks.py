"""Benchmark rules as data, checked against numbers computed by hand: RewardBench 2 best-of-N (1/k at the top),
the Ties formula, v1 Prior Sets, custom data, incomplete subsets, and old-schema files."""

import math

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from orchestrator.benchmarks import get_benchmark, sections_of
from orchestrator.query.db import connect, leaderboard, run_query
from orchestrator.results.records import SCHEMA_VERSION, make_table, write_manifest, write_shard
from tests._synth import bools, write_run

V2 = "reward-bench-2"


def write_lists(root, run_id, model, rows, benchmark=V2, status="ok"):
    """rows: (subset, source_id, scores_chosen, scores_rejected)."""
    n = len(rows)
    table = make_table(
        {
            "schema_version": [SCHEMA_VERSION] * n,
            "run_id": [run_id] * n,
            "benchmark": [benchmark] * n,
            "model": [model] * n,
            "kind": ["classifier"] * n,
            "subset": [r[0] for r in rows],
            "example_id": list(range(n)),
            "row_index": list(range(n)),
            "shard": [0] * n,
            "source_id": [r[1] for r in rows],
            "scores_chosen": [r[2] for r in rows],
            "scores_rejected": [r[3] for r in rows],
            "score_chosen": [r[2][0] for r in rows],
            "score_rejected": [max(r[3]) for r in rows],
            "correct": [min(r[2]) > max(r[3]) for r in rows],
        }
    )
    write_shard(root, table, benchmark=benchmark, model=model, run_id=run_id, shard=0)
    write_manifest(
        root,
        {
            "run_id": run_id,
            "job": "t",
            "models": [
                {
                    "model": model,
                    "benchmark": benchmark,
                    "kind": "classifier",
                    "status": status,
                    "n_records": n,
                }
            ],
        },
    )


V2_ROWS = [
    # Factuality: 1, 1/2 (2-way tie at the top), 0, 1/4 (4-way tie)  -> 1.75 / 4
    ("Factuality", "0", [3.0], [1.0, 2.0, 0.0]),
    ("Factuality", "1", [2.0], [2.0, 1.0, 0.0]),
    ("Factuality", "2", [1.0], [2.0, 0.0, 0.0]),
    ("Factuality", "3", [5.0], [5.0, 5.0, 5.0]),
    # Math with two chosen: the reference ranks the FIRST chosen only; another chosen is a competitor
    ("Math", "4", [2.0, 3.0], [1.0, 0.0]),  # first chosen not top -> 0
    ("Math", "5", [3.0, 3.0], [1.0, 0.0]),  # shares the top with the second chosen -> 1/2
    ("Precise IF", "6", [1.0], [0.0, 0.0, 0.0]),
    ("Safety", "7", [1.0], [0.0, 0.0, 0.0]),
    ("Focus", "8", [0.0], [1.0, 0.0, 0.0]),
    # Ties
    ("Ties", "ref:0", [4.0], [1.0, 2.0]),  # accurate, cim 2, no dcm
    ("Ties", "tied:0", [5.0, 3.0], [2.5, 1.0]),  # accurate, cim 0.5, dcm 2
    ("Ties", "ref:1", [1.0], [3.0]),  # not accurate, cim -2
    ("Ties", "tied:1", [6.0, 5.0, 4.0], [0.0]),  # accurate, cim 4, dcm 2
    ("Ties", "ref:2", [2.0], [1.0]),  # accurate, cim 1 (no tied:2)
    ("Ties", "tied:3", [1.0, 1.0], [0.0]),  # accurate, cim 1, dcm 0 (no ref:3)
]
TIES = (
    0.3 * 1.0
    + 0.3 * (2 / 3)
    + 0.2 * 0.5
    + 0.2 * 0.0
    + 0.01 * (math.tanh(0.5 / 2 - 1) + math.tanh(-2 / 2 - 1)) / 2
)


def test_benchmarks_declare_loader_rules_and_sections():
    v1, v2, custom = get_benchmark("reward-bench"), get_benchmark(V2), get_benchmark("custom")
    assert (v1.loader, v2.loader, custom.loader) == ("pairs", "best-of-n", "custom")
    assert v2.default_source == "allenai/reward-bench-2" and v2.default_split == "test"
    assert v2.rules["Ties"] == "ties" and v2.rules["Math"] == "best-of-n" and v1.rules["shp"] == "pairwise"
    assert "num_correct" in v2.required_columns
    assert sections_of(V2) == ("Factuality", "Precise IF", "Math", "Safety", "Focus", "Ties")
    assert sections_of("reward-bench")[-1] == "Prior Sets"


def test_reward_bench_2_scores_by_hand(tmp_path):
    write_lists(tmp_path, "20260101T000000Z-a", "m", V2_ROWS)
    con = connect(tmp_path)
    acc = {
        r["subset"]: r["accuracy"]
        for r in run_query(con, "SELECT subset, accuracy FROM subset_accuracy").to_pylist()
    }
    assert acc["Factuality"] == pytest.approx(1.75 / 4)
    assert acc["Math"] == pytest.approx(0.25)
    assert (acc["Precise IF"], acc["Safety"], acc["Focus"]) == (1.0, 1.0, 0.0)
    assert acc["Ties"] == pytest.approx(TIES, abs=1e-12)
    assert TIES == pytest.approx(0.592004, abs=1e-6)
    ties = con.execute(
        "SELECT ref_accuracy, tied_accuracy, correctness_preferred, correctness_preferred_hard, margin "
        "FROM ties_scores"
    ).fetchone()
    assert ties == pytest.approx((2 / 3, 1.0, 0.5, 0.0, (math.tanh(-0.75) + math.tanh(-2)) / 2))
    (row,) = leaderboard(tmp_path, V2)
    assert list(row)[:8] == ["model", "kind", "Factuality", "Precise IF", "Math", "Safety", "Focus", "Ties"]
    assert row["score"] == pytest.approx((1.75 / 4 + 1 + 0.25 + 1 + 0 + TIES) / 6)
    assert row["complete"] is False and row["incomplete_subsets"].startswith("Factuality 4/475, Focus 1/495")


def test_ties_terms_vanish_without_common_prompts(tmp_path):
    write_lists(
        tmp_path,
        "20260101T000000Z-a",
        "m",
        [
            ("Ties", "ref:0", [2.0], [1.0]),
            ("Ties", "tied:1", [3.0, 2.0], [2.5]),  # tied:1 not accurate
        ],
    )
    con = connect(tmp_path)
    (score,) = con.execute("SELECT accuracy FROM subset_accuracy WHERE subset = 'Ties'").fetchone()
    assert score == pytest.approx(0.3 * 0.0 + 0.3 * 1.0)


CORE = {
    "alpacaeval-easy": bools(100, 100),
    "llmbar-natural": bools(50, 100),
    "math-prm": bools(447, 447),
    "xstest-should-respond": bools(250, 250),
}
PRIOR = {
    "anthropic_helpful": bools(1, 2),
    "anthropic_hhh": bools(1, 1),
    "shp": bools(0, 3),
    "summarize": bools(1, 4),
    "anthropic_harmless": bools(2, 2),
}


def test_prior_sets_join_v1_from_a_separate_run(tmp_path):
    write_run(tmp_path, "20260101T000000Z-a", {"m": CORE})
    (before,) = leaderboard(tmp_path)
    assert before["Prior Sets"] is None if "Prior Sets" in before else True
    write_run(tmp_path, "20260102T000000Z-b", {"m": PRIOR})
    (row,) = leaderboard(tmp_path)
    chat, chat_hard, safety, reasoning = 100 / 100, 0.5, 250 / 250, 1.0  # only the subsets present count
    prior = (0.5 + 1.0 + 0.0 + 0.25) / 4  # unweighted; anthropic_harmless is kept but unscored
    assert row["Prior Sets"] == pytest.approx(prior)
    assert (
        row["Chat"] == chat
        and row["Chat Hard"] == chat_hard
        and row["Safety"] == safety
        and row["Reasoning"] == reasoning
    )
    assert row["score"] == pytest.approx((2 * (chat + chat_hard + safety + reasoning) + prior) / 9)
    # the wide v1 view agrees
    con = connect(tmp_path)
    (wide,) = con.execute('SELECT "Prior Sets", score FROM leaderboard').fetchall()
    assert wide == pytest.approx((prior, row["score"]))
    assert row["complete"] is False and "alpacaeval-hard 0/95" in row["incomplete_subsets"]
    assert "anthropic_harmless" not in row["incomplete_subsets"] and "shp 3/1741" in row["incomplete_subsets"]


def test_optional_prior_sets_absent_is_complete(tmp_path, filtered_path):
    src = pq.read_table(filtered_path, columns=["subset"]).column("subset").to_pylist()
    data = {}
    for s in src:
        data.setdefault(s, []).append(True)
    write_run(tmp_path, "20260101T000000Z-a", {"m": data})
    (row,) = leaderboard(tmp_path)
    assert row["complete"] is True and row["score"] == 1.0 and row["incomplete_subsets"] is None


def test_custom_subsets_are_sections(tmp_path):
    def rows(k, n):
        return [{"correct": c, "example_id": i} for i, c in enumerate(bools(k, n))]

    write_run(tmp_path, "20260101T000000Z-a", {"m": {"a": rows(1, 4), "b": rows(3, 3)}}, benchmark="my-prefs")
    write_lists(
        tmp_path,
        "20260101T000000Z-b",
        "n",
        [("a", "0", [1.0], [0.0, 1.0]), ("b", "1", [2.0], [1.0, 0.0])],
        benchmark="my-prefs",
    )
    rows = {r["model"]: r for r in leaderboard(tmp_path, "my-prefs")}
    assert rows["m"]["a"] == 0.25 and rows["m"]["b"] == 1.0 and rows["m"]["score"] == pytest.approx(0.625)
    assert rows["n"]["a"] == 0.5 and rows["n"]["b"] == 1.0 and rows["n"]["score"] == pytest.approx(0.75)
    assert rows["m"]["complete"] is True


def test_schema_v1_files_still_read(tmp_path):
    """A file written before the list fields existed reads with them null, alone and beside new files."""
    old = make_table(
        {
            "schema_version": [1],
            "run_id": ["20260101T000000Z-a"],
            "benchmark": ["reward-bench"],
            "model": ["m"],
            "kind": ["classifier"],
            "subset": ["alpacaeval-easy"],
            "example_id": [1],
            "row_index": [0],
            "score_chosen": [1.0],
            "score_rejected": [0.0],
            "correct": [True],
            "shard": [0],
        }
    )
    old = old.drop_columns(["scores_chosen", "scores_rejected", "source_id"])
    path = tmp_path / "records/benchmark=reward-bench/model=m/run=20260101T000000Z-a/shard-00000.parquet"
    path.parent.mkdir(parents=True)
    pq.write_table(old, path)
    write_manifest(
        tmp_path,
        {
            "run_id": "20260101T000000Z-a",
            "job": "t",
            "models": [
                {
                    "model": "m",
                    "benchmark": "reward-bench",
                    "kind": "classifier",
                    "status": "ok",
                    "n_records": 1,
                }
            ],
        },
    )
    con = connect(tmp_path)
    assert con.execute("SELECT points, scores_chosen FROM record_points").fetchall() == [(1.0, None)]
    write_lists(tmp_path, "20260101T000000Z-b", "n", V2_ROWS[:1])
    con = connect(tmp_path)
    assert con.execute("SELECT count(*), count(scores_chosen) FROM records").fetchall() == [(2, 1)]
    assert pa.types.is_list(con.sql("SELECT scores_chosen FROM records").to_arrow_table().schema[0].type)


def test_paper_prior_sets_were_the_mean_of_all_seven(tmp_path):
    """The reference code (analysis/get_benchmark_results.py) averages 4 prior sets; the March 2024 paper's Table 12
    averaged all 7. With the weights as data, scoring the other 3 with weight 1 reproduces the paper."""
    from tests.conftest import RESULTS_TABLES
    from tests.query.test_db import _sections_from_given

    table = pq.read_table(RESULTS_TABLES / "paper_v1_2024-03_per_subset_tables.parquet").to_pylist()
    table = [r for r in table if r["paper_table"] == 12 and r["accuracy_pct"] is not None]
    given = {(r["model"], r["column"]): r["accuracy_pct"] / 100 for r in table if not r["is_section_average"]}
    paper = {r["model"]: r["accuracy_pct"] / 100 for r in table if r["is_section_average"]}
    con = connect(tmp_path)
    four = _sections_from_given(con, given)
    model = "openbmb/UltraRM-13b"
    assert four[(model, "Prior Sets")] == pytest.approx(
        sum(given[(model, s)] for s in ("anthropic_helpful", "anthropic_hhh", "shp", "summarize")) / 4
    )
    con.execute(
        "UPDATE benchmark_subsets SET section = 'Prior Sets', weight = 1 "
        "WHERE subset IN ('anthropic_harmless', 'mtbench_gpt4', 'mtbench_human')"
    )
    seven = dict(
        con.execute("SELECT model, score FROM section_scores WHERE section = 'Prior Sets'").fetchall()
    )
    matched = [m for m in paper if m in seven]
    assert len(matched) >= 30
    for m in matched:
        assert seven[m] == pytest.approx(paper[m], abs=0.0008), m
