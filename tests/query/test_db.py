"""Views and leaderboard math on synthetic records with known answers, and the paper's tables."""

import pyarrow.parquet as pq
import pytest

from orchestrator.errors import QueryError
from orchestrator.query.db import check_read_only, connect, leaderboard, run_query, stored_query
from orchestrator.results.records import SCHEMA_VERSION, make_table, write_manifest, write_shard
from tests.conftest import RESULTS_TABLES

V1_SECTIONS = ["Chat", "Chat Hard", "Safety", "Reasoning"]


def _write_run(root, filtered_path, model, run_id, correct_subsets, status="ok", limit=None):
    src = pq.read_table(filtered_path)
    subsets = src.column("subset").to_pylist()
    rows = range(len(subsets)) if limit is None else range(limit)
    n = len(rows)
    correct = [subsets[i] in correct_subsets for i in rows]
    table = make_table(
        {
            "schema_version": [SCHEMA_VERSION] * n,
            "run_id": [run_id] * n,
            "benchmark": ["reward-bench"] * n,
            "model": [model] * n,
            "kind": ["classifier"] * n,
            "subset": [subsets[i] for i in rows],
            "example_id": [src.column("id")[i].as_py() for i in rows],
            "row_index": list(rows),
            "score_chosen": [1.0 if c else 0.0 for c in correct],
            "score_rejected": [0.5] * n,
            "correct": correct,
            "shard": [0] * n,
        }
    )
    write_shard(root, table, benchmark="reward-bench", model=model, run_id=run_id, shard=0)
    write_manifest(
        root,
        {
            "run_id": run_id,
            "job": "t",
            "models": [
                {
                    "model": model,
                    "benchmark": "reward-bench",
                    "kind": "classifier",
                    "status": status,
                    "n_records": n,
                }
            ],
        },
    )


KNOWN = {
    "alpacaeval-easy",
    "llmbar-natural",
    "mt-bench-hard",
    "llmbar-adver-neighbor",
    "llmbar-adver-GPTInst",
    "llmbar-adver-GPTOut",
    "llmbar-adver-manual",
    "xstest-should-respond",
    "math-prm",
}


def test_leaderboard_known_numbers(tmp_path, filtered_path):
    _write_run(tmp_path, filtered_path, "org/model-a", "20260101T000000Z-a", KNOWN)
    (row,) = leaderboard(tmp_path)
    assert row["model"] == "org/model-a"
    assert row["Chat"] == pytest.approx(100 / 358)
    assert row["Chat Hard"] == pytest.approx(1.0)
    assert row["Safety"] == pytest.approx(250 / 740)
    assert row["Reasoning"] == pytest.approx(984 / (984 + 6 * 164))  # math-prm upweighted to 984
    assert row["score"] == pytest.approx((100 / 358 + 1.0 + 250 / 740 + 0.5) / 4)
    assert row["complete"] is True


def test_latest_successful_run_wins(tmp_path, filtered_path):
    _write_run(tmp_path, filtered_path, "m", "20260101T000000Z-a", set(), status="ok")
    _write_run(tmp_path, filtered_path, "m", "20260102T000000Z-b", KNOWN, status="failed")
    assert leaderboard(tmp_path)[0]["run_id"] == "20260101T000000Z-a"
    _write_run(tmp_path, filtered_path, "m", "20260103T000000Z-c", KNOWN, status="ok")
    (row,) = leaderboard(tmp_path)
    assert row["run_id"] == "20260103T000000Z-c" and row["Chat Hard"] == 1.0
    con = connect(tmp_path)
    assert run_query(con, "SELECT count(*) AS n FROM records").to_pylist() == [{"n": 3 * 2985}]
    assert run_query(con, "SELECT count(*) AS n FROM latest_records").to_pylist() == [{"n": 2985}]


def test_incomplete_subsets_flagged(tmp_path, filtered_path):
    _write_run(tmp_path, filtered_path, "partial", "20260101T000000Z-a", KNOWN, limit=150)
    con = connect(tmp_path)
    rows = stored_query(con, "subset_accuracy", benchmark="reward-bench").to_pylist()
    by = {r["subset"]: r for r in rows}
    assert by["alpacaeval-easy"]["complete"] is True and by["alpacaeval-hard"]["complete"] is False
    assert leaderboard(tmp_path)[0]["complete"] is False


def _sections_from_given(con, accuracies):
    """Run the real section/leaderboard views over a given per-subset accuracy table."""
    con.execute("DROP VIEW subset_accuracy")
    con.execute(
        "CREATE TABLE subset_accuracy (model VARCHAR, kind VARCHAR, benchmark VARCHAR, subset VARCHAR,"
        " run_id VARCHAR, accuracy DOUBLE, complete BOOLEAN)"
    )
    con.executemany(
        "INSERT INTO subset_accuracy VALUES (?, 'classifier', 'reward-bench', ?, 'paper', ?, true)",
        [(m, s, a) for (m, s), a in accuracies.items()],
    )
    rows = con.execute("SELECT model, section, score FROM section_scores").fetchall()
    return {(m, s): v for m, s, v in rows}


def test_paper_table_sections_recompute(tmp_path):
    table = pq.read_table(RESULTS_TABLES / "paper_v1_2024-03_per_subset_tables.parquet").to_pylist()
    con = connect(tmp_path)
    v1 = {r[0] for r in con.execute("SELECT subset FROM benchmark_subsets").fetchall()}
    given = {
        (r["model"], r["column"]): r["accuracy_pct"] / 100
        for r in table
        if not r["is_section_average"] and r["column"] in v1 and r["accuracy_pct"] is not None
    }
    paper = {(r["model"], r["column"]): r["accuracy_pct"] / 100 for r in table if r["is_section_average"]}
    ours = _sections_from_given(con, given)
    checked = 0
    for (model, section), value in paper.items():
        if section in ("Chat", "Chat Hard", "Reasoning") and (model, section) in ours:
            assert ours[(model, section)] == pytest.approx(value, abs=0.0007), (model, section)
            checked += 1
    assert checked >= 90
    # The v1 paper's Safety averages were made with the two XSTest weights swapped (SOURCES.md):
    # with the weights as data, swapping them in the table reproduces the paper exactly.
    con.execute(
        "UPDATE benchmark_subsets SET weight = CASE subset WHEN 'xstest-should-refuse' THEN 250 "
        "WHEN 'xstest-should-respond' THEN 154 ELSE weight END"
    )
    rows = con.execute("SELECT model, score FROM section_scores WHERE section = 'Safety'").fetchall()
    safety = dict(rows)
    matched = [m for (m, s), v in paper.items() if s == "Safety" and m in safety]
    assert len(matched) >= 25
    for model in matched:
        assert safety[model] == pytest.approx(paper[(model, "Safety")], abs=0.0007), model


def test_gpm_full_precision_accuracies_fit_subset_counts(tmp_path):
    """Reference per-subset accuracies are k / n for the actual subset sizes of our table."""
    rows = pq.read_table(RESULTS_TABLES / "gpm_eval_set_per_subset.parquet").to_pylist()
    con = connect(tmp_path)
    n_expected = dict(con.execute("SELECT subset, n_expected FROM benchmark_subsets").fetchall())
    assert len(rows) == 92
    for r in rows:
        k = r["accuracy"] * n_expected[r["subset"]]
        assert abs(k - round(k)) < 1e-6, (r["model"], r["subset"])


@pytest.mark.parametrize(
    "sql",
    [
        "DROP VIEW records",
        "COPY (SELECT 1) TO 'x.csv'",
        "INSERT INTO run_models VALUES (1)",
        "SELECT 1; DELETE FROM run_models",
        "ATTACH 'x.db'",
    ],
)
def test_sql_is_read_only(sql):
    with pytest.raises(QueryError, match="read-only"):
        check_read_only(sql)


def test_bad_sql_is_a_clear_error(tmp_path):
    con = connect(tmp_path)
    with pytest.raises(QueryError, match="nosuchtable"):
        run_query(con, "SELECT * FROM nosuchtable")
    check_read_only("SELECT * FROM leaderboard")
