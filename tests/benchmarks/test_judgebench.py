"""JudgeBench: the loader on both real splits, the two-game SQL against hand-computed numbers, against
JudgeBench's own compute_final_metrics on fixture scores and judge games, and against a published two-game
reward-model run (Skywork-Reward-Gemma-2-27B's own per-pair scores, ties included) on the real gpt split."""

import json

import pytest

from orchestrator.config import BenchmarkSpec
from orchestrator.data import load_examples
from orchestrator.errors import DataError
from orchestrator.query.db import connect, leaderboard, run_query
from tests.benchmarks._records import write_records
from tests.conftest import FIXTURES, SHARED_DATA

JUDGEBENCH = SHARED_DATA / "judgebench"
CROSS = json.loads((FIXTURES / "benchmarks" / "crosscheck.json").read_text())
FAMILIES = ("mmlu-pro", "livebench", "livecodebench")


def test_loads_both_real_splits():
    gpt = load_examples(BenchmarkSpec(name="judgebench", source=str(JUDGEBENCH)))
    claude = load_examples(BenchmarkSpec(name="judgebench-claude", source=str(JUDGEBENCH)))
    assert len(gpt) == 350 and len(claude) == 270
    raw = [
        json.loads(line)
        for line in (JUDGEBENCH / "dataset=judgebench,response_model=gpt-4o-2024-05-13.jsonl").open()
    ]
    t = gpt.table.to_pylist()
    for r, e in zip(raw, t):
        winner, loser = (
            (r["response_A"], r["response_B"]) if r["label"] == "A>B" else (r["response_B"], r["response_A"])
        )
        assert (e["chosen"], e["rejected"], e["subset"], e["source_id"]) == (
            winner,
            loser,
            r["source"],
            r["pair_id"],
        )
        assert e["chosen_position"] == (0 if r["label"] == "A>B" else 1)


def test_bad_label_names_row(tmp_path):
    rows = [
        json.loads(line)
        for line in (JUDGEBENCH / "dataset=judgebench,response_model=gpt-4o-2024-05-13.jsonl").open()
    ][:3]
    rows[1]["label"] = "A=B"
    path = tmp_path / "jb.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in rows))
    with pytest.raises(DataError, match=r"jb.jsonl: row 1 .*label 'A=B' must be 'A>B' or 'B>A'"):
        load_examples(BenchmarkSpec(name="judgebench", source=str(path)))


def _rm_rows(pairs):
    rows = []
    for p in pairs:
        pos = 0 if p["label"] == "A>B" else 1
        sc, sr = (p["score_A"], p["score_B"]) if pos == 0 else (p["score_B"], p["score_A"])
        rows.append(
            {
                "subset": p["source"],
                "score_chosen": sc,
                "score_rejected": sr,
                "chosen_position": pos,
                "source_id": p["pair_id"],
                "correct": sc > sr,
            }
        )
    return rows


def _judge_rows(pairs):
    """JudgeBench's games -> our judge outputs: game 1 shows A first, game 2 shows B first; parsed = 1 when the
    game's verdict picks the chosen (the label's winner), 0 when the other, null when unparseable."""
    rows = []
    for p in pairs:
        pos = 0 if p["label"] == "A>B" else 1
        outputs = []
        for game, decision in enumerate(p["judge_games"]):
            first, second = ("A", "B") if game == 0 else ("B", "A")
            winner = None if decision is None else (first if decision == "A>B" else second)
            chosen_letter = "A" if pos == 0 else "B"
            outputs.append(
                {
                    "target": "pair",
                    "order": "AB" if first == chosen_letter else "BA",
                    "sample": 0,
                    "text": str(decision),
                    "parsed": None if winner is None else float(winner == chosen_letter),
                }
            )
        rows.append(
            {
                "subset": p["source"],
                "judge_outputs": outputs,
                "chosen_position": pos,
                "parse_failures": sum(o["parsed"] is None for o in outputs),
            }
        )
    return rows


def test_two_games_by_hand(tmp_path):
    # 4 pairs of livebench-math. Reward model: 3 > 1 right; 2 = 2 tie wrong (both games split); 0 < 5 wrong;
    # chosen B with 4 > 1 right -> 2/4. Judge: (chosen, chosen) right; (chosen, other) inconsistent, wrong;
    # (chosen, unparseable) sum 1 right; (unparseable, unparseable) wrong -> 2/4.
    rm = [
        {"subset": "livebench-math", "score_chosen": c, "score_rejected": r, "chosen_position": p}
        for c, r, p in ((3.0, 1.0, 0), (2.0, 2.0, 1), (0.0, 5.0, 0), (4.0, 1.0, 1))
    ]
    write_records(tmp_path, "run-rm", "judgebench", "rm", rm)
    games = [(1.0, 1.0), (1.0, 0.0), (1.0, None), (None, None)]
    judge = [
        {
            "subset": "livebench-math",
            "chosen_position": 0,
            "judge_outputs": [
                {"target": "pair", "order": o, "sample": 0, "text": "x", "parsed": v}
                for o, v in zip(("AB", "BA"), g)
            ],
        }
        for g in games
    ]
    write_records(tmp_path, "run-judge", "judgebench", "judge", judge, kind="judge")
    rows = {r["model"]: r for r in leaderboard(tmp_path, "judgebench")}
    assert rows["rm"]["livebench"] == 0.5 and rows["judge"]["livebench"] == 0.5
    assert rows["rm"]["mmlu-pro"] is None and rows["rm"]["complete"] is False
    con = connect(tmp_path)
    [single] = run_query(con, "SELECT * FROM judgebench_single_game").to_pylist()
    assert single["single_game_accuracy"] == 0.75  # the tie with chosen B goes to B in one game
    assert single["two_game_accuracy"] == 0.5


@pytest.mark.parametrize("model", ["rm_two_games", "judge_two_games"])
def test_matches_judgebench_metrics(tmp_path, model):
    pairs = CROSS["judgebench"]["pairs"]
    rows = _rm_rows(pairs) if model.startswith("rm") else _judge_rows(pairs)
    write_records(
        tmp_path, "run-1", "judgebench", model, rows, kind="classifier" if model.startswith("rm") else "judge"
    )
    con = connect(tmp_path)
    ref = CROSS["judgebench"]["reference"][model]
    got = {r["section"]: r["score"] for r in run_query(con, "SELECT * FROM section_scores").to_pylist()}
    n = {
        r["section"]: r["n"]
        for r in run_query(
            con, "SELECT s.section, sum(n) AS n FROM subset_accuracy s GROUP BY s.section"
        ).to_pylist()
    }
    for family in FAMILIES:
        # sections weight subsets by their expected counts; pooled accuracy over the fixture's pairs:
        pooled = run_query(
            con, f"SELECT avg(points) AS a FROM record_points WHERE subset LIKE '{family}%'"
        ).to_pylist()[0]["a"]
        assert 100 * pooled == pytest.approx(ref[family], abs=1e-9), family
        assert family in got and n[family] > 0
    overall = run_query(con, "SELECT avg(points) AS a FROM record_points").to_pylist()[0]["a"]
    assert 100 * overall == pytest.approx(ref["overall"], abs=1e-9)


def test_single_game_matches_judgebench_metrics(tmp_path):
    pairs = CROSS["judgebench"]["pairs"]
    write_records(tmp_path, "run-1", "judgebench", "rm", _rm_rows(pairs))
    con = connect(tmp_path)
    ref = CROSS["judgebench"]["reference"]["rm_single_game"]
    per = run_query(
        con, "SELECT subset, n, single_game_accuracy AS a FROM judgebench_single_game"
    ).to_pylist()
    for family in FAMILIES:
        rows = [r for r in per if r["subset"].startswith(family)]
        pooled = sum(r["a"] * r["n"] for r in rows) / sum(r["n"] for r in rows)
        assert 100 * pooled == pytest.approx(ref[family], abs=1e-9)


def test_published_reward_model_run_on_the_real_split(tmp_path):
    """The repository's own two-game outputs of a real reward model: same per-source numbers from our SQL,
    on the full gpt split (complete), with its three tied pairs counted wrong."""
    pub = CROSS["judgebench_published"]
    scores = {s["pair_id"]: s["scores"] for s in pub["scores"]}
    ex = load_examples(BenchmarkSpec(name="judgebench", source=str(JUDGEBENCH))).table.to_pylist()
    rows = []
    for e in ex:
        a, b = scores[e["source_id"]]
        sc, sr = (a, b) if e["chosen_position"] == 0 else (b, a)
        rows.append(
            {
                "subset": e["subset"],
                "score_chosen": sc,
                "score_rejected": sr,
                "chosen_position": e["chosen_position"],
                "source_id": e["source_id"],
            }
        )
    assert sum(r["score_chosen"] == r["score_rejected"] for r in rows) == 3
    write_records(tmp_path, "run-1", "judgebench", "skywork-gemma-27b", rows)
    [row] = leaderboard(tmp_path, "judgebench")
    assert row["complete"] is True
    for family in FAMILIES:
        assert 100 * row[family] == pytest.approx(pub["reference"][family], abs=1e-9)
    assert 100 * row["score"] == pytest.approx(pub["reference"]["overall"], abs=1e-9)
