"""RewardBench 2 with judges: the four-way protocol and the 1-10 ratings (Ties, and ``protocol: rewardbench``
rubric judges), end to end on Ray against a local endpoint whose answers the completions dictate, on fixtures in
the hub's exact schema. Every expected number below is worked out by hand in the comments."""

from __future__ import annotations

import math
import re

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from orchestrator.config import JobConfig
from orchestrator.query.db import connect, run_query
from orchestrator.runtime.driver import run_job
from orchestrator.scoring.judge_records import JudgeSettings, four_way_order
from orchestrator.scoring.verdicts import parse_label, parse_rating
from tests._openai_server import FakeOpenAI

_REPLY = re.compile(r"\[Reply ([ABCD])\]\n(.*?)\n\[End of Reply \1\]", re.S)


def answer(content: str) -> str:
    """Four-way: name every reply marked GOOD (none: no verdict); ratings: the reply's ``(r=N)`` (none: no number
    at the end)."""
    if "[[D]]" in content:
        good = [label for label, text in _REPLY.findall(content) if "GOOD" in text]
        return "I compared them. " + " ".join(f"[[{x}]]" for x in good) if good else "They are all fine."
    m = re.search(r"\(r=(\d+)\)", content)
    return f"Solid reply.\n{m.group(1)}" if m else "I cannot rate this one."


def _row(i, subset, chosen, rejected, rid=None):
    return {
        "id": rid or str(i),
        "prompt": f"Question {i} ({subset})?",
        "chosen": chosen,
        "rejected": rejected,
        "num_correct": len(chosen),
        "num_incorrect": len(rejected),
        "total_completions": len(chosen) + len(rejected),
        "models": ["m"] * (len(chosen) + len(rejected)),
        "subset": subset,
        "additional_metadata": {"note": "fixture"},
    }


ROWS = [
    # four-way: picks the chosen -> 1       | ratings: 9 tops alone -> 1
    _row(0, "Factuality", ["GOOD a (r=9)"], ["x (r=3)", "y (r=4)", "z"]),
    # four-way: picks a rejected -> 0       | ratings: 7 (a rejected) tops -> 0
    _row(1, "Factuality", ["a (r=5)"], ["GOOD x (r=7)", "y (r=5)", "z (r=1)"]),
    # four-way: no verdict -> 0.25          | ratings: 6 shared by 3 incl. the chosen -> 1/3
    _row(2, "Math", ["a (r=6)"], ["x (r=6)", "y (r=6)", "z (r=2)"]),
    # four-way: picks the chosen -> 1       | ratings: none parse (all -1) -> 0.25
    _row(3, "Focus", ["GOOD a"], ["x", "y", "z"]),
    # Ties (rated alone by both judges; a failed rating is -1):
    # ref:0 ratings [8] vs [3, 5]: accurate, cim 3
    _row(4, "Ties", ["2 (r=8)"], ["4 (r=3)", "Nine (r=5)"], "ref:0"),
    # tied:0 [9, 8, 8] vs [2, 6]: accurate, cim 8 - 6 = 2, dcm 9 - 8 = 1
    _row(5, "Ties", ["2 (r=9)", "3 (r=8)", "5 (r=8)"], ["4 (r=2)", "9 (r=6)"], "tied:0"),
    # ref:1 [-1] vs [2, 1]: not accurate, cim -3
    _row(6, "Ties", ["3"], ["4 (r=2)", "x (r=1)"], "ref:1"),
    # tied:1 [5, 5] vs [5]: not accurate, cim 0, dcm 0
    _row(7, "Ties", ["2 (r=5)", "3 (r=5)"], ["4 (r=5)"], "tied:1"),
]
# Ties = 0.30 tied_acc (1/2) + 0.30 ref_acc (1/2) + 0.20 cp (id 0: 2 > 1 yes, id 1: 0 > 0 no -> 1/2)
#      + 0.20 cph (id 0: min(3, 2) = 2 > 1 yes, id 1: min(-3, 0) > 0 no -> 1/2)
#      + 0.01 mean tanh(min(ref cim, tied cim) / dcm - 1) over dcm > 0 (id 0 only: tanh(2 / 1 - 1) = tanh 1)
TIES = 0.15 + 0.15 + 0.1 + 0.1 + 0.01 * math.tanh(1.0)
FOUR_WAY = {"Factuality": 0.5, "Math": 0.25, "Focus": 1.0, "Ties": TIES}
RATINGS = {"Factuality": 0.5, "Math": 1 / 3, "Focus": 0.25, "Ties": TIES}


def test_parsers_strict_and_reference_order():
    assert parse_label("[[C]]", ("A", "B", "C", "D")) == "C"
    assert parse_label("[[B]] then [[A]]", ("A", "B")) is None  # strict: both named
    assert parse_label("[[B]] then [[A]]", ("A", "B"), first_wins=True) == "A"  # the reference checks A first
    assert parse_label("[[D]] [[C]]", ("A", "B", "C", "D"), first_wins=True) == "C"
    assert parse_rating("Good.\n10") == 10.0 and parse_rating("7 ") == 7.0
    assert parse_rating("I give it 7 out of 10.") is None  # the number must end the output
    assert parse_rating("11") is None and parse_rating("0") is None


def test_four_way_order_puts_the_chosen_on_each_label_a_quarter_of_the_time():
    settings = JudgeSettings(mode="four-way")
    orders = [four_way_order(settings, f"q{i}", "c", ["r0", "r1", "r2"]) for i in range(4000)]
    assert set(orders) == {"0123", "1023", "2103", "3120"}  # a swap of position 0 with k, as the reference
    share = {o: orders.count(o) / len(orders) for o in set(orders)}
    assert all(abs(v - 0.25) < 0.03 for v in share.values()), share


@pytest.fixture
def rb2(tmp_path):
    path = tmp_path / "rb2.parquet"
    pq.write_table(pa.Table.from_pylist(ROWS), path)
    return path


def test_rewardbench_2_four_way_and_ratings(ray_cluster, rb2, tmp_path):
    with FakeOpenAI(answer=answer) as server:
        common = {
            "kind": "judge",
            "backend": "openai",
            "path": "judge-model-1",
            "base_url": server.base_url,
            "api_key_env": "RAYWARD_TEST_API_KEY",
        }
        job = JobConfig.from_dict(
            {
                "name": "rb2-judges",
                "benchmarks": [{"name": "reward-bench-2", "source": str(rb2)}],
                "models": [
                    {"name": "four-way", "mode": "four-way", **common},
                    {"name": "ratings", "mode": "rubric", "protocol": "rewardbench", **common},
                ],
                "resources": {"gpus_per_actor": 0, "shard_size": 3},
                "results": str(tmp_path / "r"),
            }
        )
        result = run_job(job)
    assert result.ok, [(o.model, o.error) for o in result.outcomes]
    con = connect(tmp_path / "r")
    sections = run_query(con, "SELECT model, section, score FROM section_scores ORDER BY ALL").to_pylist()
    got = {(r["model"], r["section"]): r["score"] for r in sections}
    for model, expected in (("four-way", FOUR_WAY), ("ratings", RATINGS)):
        for section, value in expected.items():
            assert got[(model, section)] == pytest.approx(value, abs=1e-12), (model, section)
    # the four-way records: one request per non-Ties row, the chosen shown at the seeded label
    rows = run_query(
        con,
        "SELECT source_id, judge_credit, judge_outputs, scores_chosen, scores_rejected FROM records "
        "WHERE model = 'four-way' ORDER BY row_index",
    ).to_pylist()
    settings = JudgeSettings(mode="four-way")
    for row, src in zip(rows[:4], ROWS[:4]):
        (out,) = row["judge_outputs"]
        assert out["target"] == "four-way"
        assert out["order"] == four_way_order(settings, src["prompt"], src["chosen"][0], src["rejected"])
    assert [r["judge_credit"] for r in rows[:4]] == [1.0, 0.0, 0.25, 1.0]
    assert rows[4]["scores_chosen"] == [8.0] and rows[4]["scores_rejected"] == [3.0, 5.0]
    assert rows[6]["scores_chosen"] == [-1.0] and rows[6]["judge_credit"] is None
    ratings = run_query(
        con, "SELECT judge_credit FROM records WHERE model = 'ratings' ORDER BY row_index"
    ).to_pylist()
    assert [r["judge_credit"] for r in ratings[:4]] == pytest.approx([1.0, 0.0, 1 / 3, 0.25])
