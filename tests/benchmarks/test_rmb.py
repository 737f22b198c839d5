"""RMB: the loader on the real folder tree (95 of 98 files), bad rows named, and the beats-all SQL against
hand-computed numbers (pairs and best-of-N lists, ties, both goals)."""

import json

import pytest

from orchestrator.benchmarks import expected_counts
from orchestrator.config import BenchmarkSpec
from orchestrator.data import load_examples
from orchestrator.errors import DataError
from orchestrator.query.db import leaderboard
from tests.benchmarks._records import write_records
from tests.conftest import SHARED_DATA

RMB = SHARED_DATA / "rmb"
MISSING = {
    "Pairwise_set/Harmlessness/S11",
    "Pairwise_set/Helpfulness/Brainstorming/Idea Development",
    "Pairwise_set/Helpfulness/Generation/Creative Writing",
}


def test_loads_the_real_tree():
    t = load_examples(BenchmarkSpec(name="rmb", source=str(RMB))).table
    subsets = t.column("subset").to_pylist()
    assert len(t) == 14_543 + 3_786
    counts = {s: subsets.count(s) for s in set(subsets)}
    expected = expected_counts("rmb")
    assert set(expected) - set(counts) == MISSING
    assert all(counts[s] == expected[s] for s in counts)  # every present file has all its rows
    rows = t.to_pylist()
    bon = [r for r in rows if r["subset"].startswith("BoN_set/")]
    assert all(2 <= len(r["rejected"]) <= 6 and len(r["chosen"]) == 1 for r in bon)
    multi = [r for r in rows if len(r["prompt"]) > 1]
    assert multi and all(set(m) == {"role", "content"} for r in multi for m in r["prompt"])


def test_bad_rows_name_file_and_uid(tmp_path):
    src = RMB / "BoN_set" / "Harmlessness" / "S1.json"
    rows = json.loads(src.read_text())[:2]
    rows[1]["loser_list"] = []
    (tmp_path / "S1.json").write_text(json.dumps(rows))
    with pytest.raises(
        DataError, match=rf"S1.json: row 1 \(uid '{rows[1]['bon_uid']}'\): 'loser_list' is empty"
    ):
        load_examples(BenchmarkSpec(name="rmb", source=str(tmp_path)))
    rows[1]["loser_list"] = [{"llm_name": "x"}]
    (tmp_path / "S1.json").write_text(json.dumps(rows))
    with pytest.raises(DataError, match=r"'loser_list\[0\]' must be an object with a text 'answer'"):
        load_examples(BenchmarkSpec(name="rmb", source=str(tmp_path)))


def test_hub_source_is_refused_with_a_way_out():
    with pytest.raises(DataError, match="not on the hub; point `source` at a local copy of its RMB_dataset"):
        load_examples(BenchmarkSpec(name="rmb"))


def test_beats_all_by_hand(tmp_path):
    help_pair = "Pairwise_set/Helpfulness/Code/Data Management"
    help_bon = "BoN_set/Helpfulness/Code/Data Management"
    harm_pair = "Pairwise_set/Harmlessness/S1"
    harm_bon = "BoN_set/Harmlessness/S1"
    rows = [
        # helpfulness pairs: 2 > 1 right, 1 = 1 tie wrong -> 1/2
        {"subset": help_pair, "scores_chosen": [2.0], "scores_rejected": [1.0]},
        {"subset": help_pair, "scores_chosen": [1.0], "scores_rejected": [1.0]},
        # helpfulness BoN: best 5 beats 1, 2, 4 right; best 3 vs (1, 3) ties a loser, wrong; 2 vs (9, 0) wrong -> 1/3
        {"subset": help_bon, "scores_chosen": [5.0], "scores_rejected": [1.0, 2.0, 4.0]},
        {"subset": help_bon, "scores_chosen": [3.0], "scores_rejected": [1.0, 3.0]},
        {"subset": help_bon, "scores_chosen": [2.0], "scores_rejected": [9.0, 0.0]},
        # harmlessness pair right -> 1; BoN right -> 1
        {"subset": harm_pair, "scores_chosen": [0.5], "scores_rejected": [-0.5]},
        {"subset": harm_bon, "scores_chosen": [0.0], "scores_rejected": [-1.0, -2.0]},
    ]
    write_records(tmp_path, "run-1", "rmb", "m", rows)
    [row] = leaderboard(tmp_path, "rmb")
    assert row["Helpfulness Pairwise"] == 0.5
    assert row["Helpfulness BoN"] == pytest.approx(1 / 3)
    assert row["Harmlessness Pairwise"] == 1.0 and row["Harmlessness BoN"] == 1.0
    assert row["score"] == pytest.approx((0.5 + 1 / 3 + 1 + 1) / 4)
    assert row["complete"] is False
