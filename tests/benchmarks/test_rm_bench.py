"""RM-Bench: the loader on the real per-domain files, the style-matrix SQL against hand-computed numbers and
against RM-Bench's own compute_accuracy (tests/fixtures/benchmarks/crosscheck.json, made by
benchmarks/reference/more_benchmarks.py), and a real job on a tiny model."""

import json

import pytest

from orchestrator.config import BenchmarkSpec
from orchestrator.data import load_examples
from orchestrator.errors import DataError
from orchestrator.query.db import connect, leaderboard, run_query
from tests.benchmarks._records import write_records
from tests.conftest import FIXTURES, SHARED_DATA

RM_BENCH = SHARED_DATA / "rm-bench"
CROSSCHECK = json.loads((FIXTURES / "benchmarks" / "crosscheck.json").read_text())["rm_bench"]


def test_loads_the_real_per_domain_files():
    ex = load_examples(BenchmarkSpec(name="rm-bench", source=str(RM_BENCH)))
    t = ex.table
    counts = {s: t.column("subset").to_pylist().count(s) for s in set(t.column("subset").to_pylist())}
    assert counts == {"chat": 129, "code": 228, "safety-refuse": 284, "safety-response": 157}
    assert all(
        len(c) == 3 and len(r) == 3
        for c, r in zip(t.column("chosen").to_pylist(), t.column("rejected").to_pylist())
    )
    assert ex.fingerprint.startswith("sha256:") and len(ex) == 798


def test_total_dataset_with_domain_field(tmp_path):
    rows = json.loads((RM_BENCH / "chat_filtered.json").read_text())[:2]
    math = [{**r, "id": 900 + i} for i, r in enumerate(rows)]
    total = [{**r, "domain": "chat"} for r in rows] + [{**r, "domain": "math"} for r in math]
    (tmp_path / "total_dataset.json").write_text(json.dumps(total))
    (tmp_path / "chat_filtered.json").write_text(
        json.dumps(rows)
    )  # ignored: total_dataset.json has every row
    ex = load_examples(BenchmarkSpec(name="rm-bench", source=str(tmp_path)))
    assert ex.table.column("subset").to_pylist() == ["chat", "chat", "math", "math"]


def test_bad_rows_name_file_and_row(tmp_path):
    rows = json.loads((RM_BENCH / "chat_filtered.json").read_text())[:3]
    rows[2]["chosen"] = rows[2]["chosen"][:2]
    (tmp_path / "chat_filtered.json").write_text(json.dumps(rows))
    with pytest.raises(
        DataError, match=r"chat_filtered.json: row 2 .*'chosen' must hold 3 completions, found 2"
    ):
        load_examples(BenchmarkSpec(name="rm-bench", source=str(tmp_path)))
    (tmp_path / "chat_filtered.json").unlink()
    (tmp_path / "poetry_filtered.json").write_text(json.dumps(rows[:1]))
    with pytest.raises(DataError, match="unknown RM-Bench domain 'poetry'"):
        load_examples(BenchmarkSpec(name="rm-bench", source=str(tmp_path)))


def _store(tmp_path, records):
    rows = [
        {
            "subset": r["domain"],
            "scores_chosen": r["score_chosen"],
            "scores_rejected": r["score_rejected"],
            "score_chosen": r["score_chosen"][0],
            "score_rejected": max(r["score_rejected"]),
        }
        for r in records
    ]
    write_records(tmp_path, "run-1", "rm-bench", "m", rows)
    return tmp_path


def test_matrix_by_hand(tmp_path):
    # chat, two prompts. Prompt 1: chosen (1, 2, 3) vs rejected (0, 2, 5): c1>r1; c2>r1; c3>r1, c3>r2; (c2 = r2 tie)
    #   cells: [1,0,0],[1,0,0],[1,1,0]. Prompt 2: chosen all 9, rejected all 0: every cell 1.
    # M = [[1, .5, .5], [1, .5, .5], [1, 1, .5]]: hard = (.5+.5+.5)/3 = .5, normal = (1+.5+.5)/3 = 2/3,
    # easy = (1+1+1)/3 = 1; Chat = (.5 + 2/3 + 1)/3 = 13/18.
    # code, one prompt: chosen (0,0,0), rejected (0,0,0): all ties, all 0.
    records = [
        {"domain": "chat", "score_chosen": [1.0, 2.0, 3.0], "score_rejected": [0.0, 2.0, 5.0]},
        {"domain": "chat", "score_chosen": [9.0, 9.0, 9.0], "score_rejected": [0.0, 0.0, 0.0]},
        {"domain": "code", "score_chosen": [0.0, 0.0, 0.0], "score_rejected": [0.0, 0.0, 0.0]},
    ]
    con = connect(_store(tmp_path, records))
    m = {
        (r["chosen_style"], r["rejected_style"]): r["accuracy"]
        for r in run_query(con, "SELECT * FROM style_matrix WHERE domain = 'Chat'").to_pylist()
    }
    assert m == {
        (1, 1): 1.0,
        (1, 2): 0.5,
        (1, 3): 0.5,
        (2, 1): 1.0,
        (2, 2): 0.5,
        (2, 3): 0.5,
        (3, 1): 1.0,
        (3, 2): 1.0,
        (3, 3): 0.5,
    }
    [row] = leaderboard(tmp_path, "rm-bench")
    assert row["Chat"] == pytest.approx(13 / 18) and row["Code"] == 0.0 and row["Math"] is None
    assert row["Hard"] == pytest.approx((0.5 + 0) / 2) and row["Normal"] == pytest.approx((2 / 3) / 2)
    assert row["Easy"] == pytest.approx(0.5)
    assert row["score"] == pytest.approx((13 / 18 + 0) / 2)  # the mean of the domains present
    assert row["complete"] is False and "math 0/529" in row["incomplete_subsets"]


def test_matches_rm_bench_compute_accuracy(tmp_path):
    _store(tmp_path, CROSSCHECK["records"])
    [row] = leaderboard(tmp_path, "rm-bench")
    ref = CROSSCHECK["reference"]
    for section, domain in (("Chat", "chat"), ("Math", "math"), ("Code", "code"), ("Safety", "safety")):
        assert row[section] == pytest.approx(ref["total"][domain], abs=1e-12)
        con = connect(tmp_path)
        [d] = run_query(con, f"SELECT * FROM style_matrix_domains WHERE domain = '{section}'").to_pylist()
        for level in ("hard", "normal", "easy"):
            assert d[level] == pytest.approx(ref["per_domain"][domain][f"{level}_acc"], abs=1e-12)
    assert row["Hard"] == pytest.approx(ref["total"]["hard_acc"], abs=1e-12)
    assert row["Normal"] == pytest.approx(ref["total"]["normal_acc"], abs=1e-12)
    assert row["Easy"] == pytest.approx(ref["total"]["easy_acc"], abs=1e-12)
    assert row["score"] == pytest.approx(ref["total"]["total_avg_acc"], abs=1e-12)
