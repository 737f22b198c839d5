"""PPE: both loaders on fixtures in the published hub schemas (a local source, and the hub-id default loaded
offline from a directory named like the hub id), bad rows named, and the SQL metrics against hand-computed
numbers (ties in `winner` left out, ties in scores, all-correct / all-incorrect prompts, the exact best-of-K
expectation checked against brute-force enumeration of every draw) and against an independent numpy /
scikit-learn computation (perf/reference/ppe_reference.py, tests/fixtures/reference/ppe_crosscheck.json)."""

import itertools
import json
from fractions import Fraction

import pytest

from orchestrator.benchmarks import expected_counts
from orchestrator.config import BenchmarkSpec
from orchestrator.data import load_examples
from orchestrator.errors import DataError
from orchestrator.query.db import connect, leaderboard, run_query
from tests.benchmarks._records import write_records
from tests.conftest import REPO

FIXTURE = REPO / "tests/fixtures/benchmarks/ppe"
HUMAN = FIXTURE / "human"
CORRECTNESS = FIXTURE / "correctness"
CROSSCHECK = REPO / "tests/fixtures/reference/ppe_crosscheck.json"


def _fixture_rows(path):
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_human_loader_keeps_the_winner_and_marks_ties():
    t = load_examples(BenchmarkSpec(name="ppe-human", source=str(HUMAN))).table.to_pylist()
    raw = _fixture_rows(next(HUMAN.rglob("*.jsonl")))
    assert len(t) == len(raw) == 24
    for r, x in zip(t, raw):
        assert r["subset"] == "human-preference" and r["source_id"] == x["question_id"]
        assert r["prompt"] == x["prompt"]
        if x["winner"] == "model_a":
            assert (r["chosen"], r["rejected"], r["chosen_position"]) == (x["response_1"], x["response_2"], 0)
        elif x["winner"] == "model_b":
            assert (r["chosen"], r["rejected"], r["chosen_position"]) == (x["response_2"], x["response_1"], 1)
        else:  # tie, tie (bothbad): the battle's order, no position
            assert (r["chosen"], r["rejected"], r["chosen_position"]) == (
                x["response_1"],
                x["response_2"],
                None,
            )
    assert {"用一句话解释量子纠缠。", "ما هي عاصمة أستراليا؟"} <= {r["prompt"] for r in t}
    assert sum(r["chosen_position"] is None for r in t) == 10


def test_correctness_loader_splits_by_correctness():
    t = load_examples(BenchmarkSpec(name="ppe-correctness", source=str(CORRECTNESS))).table.to_pylist()
    assert len(t) == 20
    by_id = {(r["subset"], r["source_id"]): r for r in t}
    for name, subset in (
        ("MMLU-Pro", "mmlu-pro"),
        ("MATH", "math"),
        ("GPQA", "gpqa"),
        ("IFEval", "ifeval"),
        ("MBPP-Plus", "mbpp-plus"),
    ):
        for x in _fixture_rows(
            CORRECTNESS / f"lmarena-ai/PPE-{name}-Best-of-K/data/train-00000-of-00001.jsonl"
        ):
            r = by_id[(subset, f"{x['question_id']}/{x['model_name']}")]
            texts = [x[f"response_{i + 1}"] for i in range(32)]
            assert r["chosen"] == [s for s, ok in zip(texts, x["scores"]) if ok]
            assert r["rejected"] == [s for s, ok in zip(texts, x["scores"]) if not ok]
    assert any(not r["rejected"] for r in t) and any(not r["chosen"] for r in t)  # all right / all wrong
    # one set, by a comma-separated list of two of them
    two = f"{CORRECTNESS}/lmarena-ai/PPE-MATH-Best-of-K,{CORRECTNESS}/lmarena-ai/PPE-GPQA-Best-of-K"
    t2 = load_examples(BenchmarkSpec(name="ppe-correctness", source=two)).table
    assert sorted(set(t2.column("subset").to_pylist())) == ["gpqa", "math"]


def test_hub_id_defaults_load_offline_from_a_directory_named_like_the_hub(monkeypatch):
    monkeypatch.chdir(HUMAN)  # datasets reads ./lmarena-ai/PPE-Human-Preference-V1 as that hub dataset
    human = load_examples(BenchmarkSpec(name="ppe-human")).table
    assert human.num_rows == 24 and human.column("chosen_position").null_count == 10
    monkeypatch.chdir(CORRECTNESS)  # the default names all five lmarena-ai/PPE-*-Best-of-K ids
    t = load_examples(BenchmarkSpec(name="ppe-correctness")).table
    assert t.num_rows == 20 and len(set(t.column("subset").to_pylist())) == 5
    assert expected_counts("ppe-correctness") == {
        "mmlu-pro": 512,
        "math": 512,
        "gpqa": 512,
        "ifeval": 512,
        "mbpp-plus": 507,
    }
    assert expected_counts("ppe-human") == {"human-preference": 16038}


def _one_row_file(tmp_path, source, edit, name="PPE-MATH-Best-of-K.jsonl"):
    row = _fixture_rows(source)[2]
    edit(row)
    (tmp_path / name).write_text(json.dumps(row) + "\n")
    return tmp_path / name


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda r: r.update(mean_score=0.99), r"'mean_score' 0.99 is not the mean of 'scores'"),
        (lambda r: r.pop("response_7"), r"'response_7' must be text"),
        (
            lambda r: r.update(sampled_conflict_pairs=[[0, 0]]),
            r"sampled_conflict_pairs\[0\] = \[0, 0\] pairs two",
        ),
        (lambda r: r.update(scores=[]), r"'scores' must be a non-empty list"),
    ],
)
def test_bad_correctness_rows_are_named(tmp_path, edit, message):
    path = _one_row_file(
        tmp_path, CORRECTNESS / "lmarena-ai/PPE-MATH-Best-of-K/data/train-00000-of-00001.jsonl", edit
    )
    with pytest.raises(
        DataError, match=rf"PPE-MATH-Best-of-K.jsonl: row 0 \(question_id 'math-0'\): {message}"
    ):
        load_examples(BenchmarkSpec(name="ppe-correctness", source=str(path)))


def test_bad_human_rows_and_unknown_sets_are_named(tmp_path):
    row = _fixture_rows(next(HUMAN.rglob("*.jsonl")))[0]
    row["winner"] = "both"
    (tmp_path / "h.jsonl").write_text(json.dumps(row) + "\n")
    with pytest.raises(
        DataError, match=r"h.jsonl: row 0 \(question_id 'q0000'\): winner 'both' must be one of"
    ):
        load_examples(BenchmarkSpec(name="ppe-human", source=str(tmp_path / "h.jsonl")))
    (tmp_path / "x.jsonl").write_text("{}\n")
    with pytest.raises(DataError, match="x.jsonl: which PPE correctness set is it?"):
        load_examples(BenchmarkSpec(name="ppe-correctness", source=str(tmp_path / "x.jsonl")))
    with pytest.raises(DataError, match="someone/other: not a PPE correctness set"):
        load_examples(BenchmarkSpec(name="ppe-correctness", source="someone/other"))


def test_human_preference_by_hand(tmp_path):
    rows = [
        {
            "subset": "human-preference",
            "score_chosen": 2.0,
            "score_rejected": 1.0,
            "chosen_position": 0,
        },  # right
        {
            "subset": "human-preference",
            "score_chosen": 1.0,
            "score_rejected": 1.0,
            "chosen_position": 1,
        },  # tie: wrong
        {
            "subset": "human-preference",
            "score_chosen": 0.5,
            "score_rejected": 3.0,
            "chosen_position": 1,
        },  # wrong
        {
            "subset": "human-preference",
            "score_chosen": 0.0,
            "score_rejected": 9.0,
            "chosen_position": None,
        },  # tie
        {
            "subset": "human-preference",
            "score_chosen": 4.0,
            "score_rejected": 1.0,
            "chosen_position": 0,
        },  # right
    ]
    write_records(tmp_path, "run-1", "ppe-human", "m", rows)
    [row] = leaderboard(tmp_path, "ppe-human")
    assert row["Human Preference"] == row["score"] == 0.5  # 2 right of the 4 decided battles; the tie is out
    assert row["complete"] is False and row["incomplete_subsets"] == "human-preference 5/16038"


def _brute_force(correct, incorrect, k):
    """Every K-draw equally likely, the pick uniform among the draw's top scores."""
    items = [(s, 1) for s in correct] + [(s, 0) for s in incorrect]
    total = Fraction(0)
    draws = list(itertools.combinations(items, k))
    for draw in draws:
        top = max(s for s, _ in draw)
        tied = [y for s, y in draw if s == top]
        total += Fraction(sum(tied), len(tied))
    return total / len(draws)


def test_best_of_k_by_hand(tmp_path):
    rows = [
        # math: a mixed row with ties (N = 5) and an all-incorrect row (N = 5)
        {"subset": "math", "scores_chosen": [3.0, 1.0], "scores_rejected": [2.0, 1.0, 3.0]},
        {"subset": "math", "scores_chosen": [], "scores_rejected": [1.0, 2.0, 0.0, 0.0, 5.0]},
        # gpqa: an all-correct row and a mixed row, N = 3 each
        {"subset": "gpqa", "scores_chosen": [0.0, 0.0, 1.0], "scores_rejected": []},
        {"subset": "gpqa", "scores_chosen": [2.0], "scores_rejected": [1.0, 2.0]},
        # ifeval: a scored row (one pair, won) and one that failed to score (2 x 1 pairs by its texts, all wrong)
        {"subset": "ifeval", "scores_chosen": [1.0], "scores_rejected": [0.0]},
        {"subset": "ifeval", "texts_chosen": ["a", "b"], "texts_rejected": ["c"], "error": "scorer crashed"},
    ]
    write_records(tmp_path, "run-1", "ppe-correctness", "m", rows)
    con = connect(tmp_path)
    curve = {
        (r["subset"], r["k"]): r["accuracy"]
        for r in run_query(con, "SELECT * FROM ppe_best_of_k_curve").to_pylist()
    }
    scores = {r["subset"]: r for r in run_query(con, "SELECT * FROM ppe_correctness_scores").to_pylist()}
    # by hand, math row 1 (correct 3, 1; incorrect 2, 1, 3): K=1: 2/5; K=5: the top is 3 (one correct, one not): 1/2;
    # K=2 of 10 draws: {3c,1c} 1, {3c,2} 1, {3c,1i} 1, {3c,3i} 1/2, {1c,2} 0, {1c,1i} 1/2, {1c,3i} 0, {2,1i} 0,
    # {2,3i} 0, {1i,3i} 0 -> 4/10
    assert _brute_force([3, 1], [2, 1, 3], 1) == Fraction(2, 5)
    assert _brute_force([3, 1], [2, 1, 3], 2) == Fraction(2, 5)
    assert _brute_force([3, 1], [2, 1, 3], 5) == Fraction(1, 2)
    for k in range(1, 6):  # the all-incorrect row adds 0
        assert curve[("math", k)] == pytest.approx(float(_brute_force([3, 1], [2, 1, 3], k) / 2), abs=1e-12)
    # gpqa: the all-correct row is 1 at every K; row 2 (correct 2; incorrect 1, 2): K=1 1/3, K=2 {2c,1}1 {2c,2i}1/2
    # {1,2i}0 -> 1/2, K=3 1/2
    for k, row2 in ((1, Fraction(1, 3)), (2, Fraction(1, 2)), (3, Fraction(1, 2))):
        assert _brute_force([2], [1, 2], k) == row2
        assert curve[("gpqa", k)] == pytest.approx(float((1 + row2) / 2), abs=1e-12)
    # conflict pairs, pooled: math row 1: 3c beats 2, 1 (ties 3: wrong), 1c beats none (ties 1) -> 2 of 6; row 2 has
    # none. gpqa row 2: 2c beats 1, ties 2 -> 1 of 2
    assert scores["math"]["n_pairs"] == 6 and scores["math"]["accuracy"] == pytest.approx(2 / 6)
    assert scores["gpqa"]["n_pairs"] == 2 and scores["gpqa"]["accuracy"] == 0.5
    # max and end of the curves: math K=5 1/4 vs K=1 1/5 ... by the enumeration above
    math_curve = [float(_brute_force([3, 1], [2, 1, 3], k) / 2) for k in range(1, 6)]
    assert scores["math"]["best_of_k_max"] == pytest.approx(max(math_curve))
    assert scores["math"]["best_of_k_end"] == pytest.approx(0.25)
    assert scores["gpqa"]["best_of_k_max"] == pytest.approx(0.75) and scores["gpqa"][
        "best_of_k_end"
    ] == pytest.approx(0.75)
    # ROC AUC pooled over the subset (a tie counts 1/2): math: correct {3, 1} vs incorrect {2, 1, 3, 1, 2, 0, 0, 5}:
    # 3 beats 2,1,1,2,0,0 and ties 3 -> 6.5; 1 beats 0,0 and ties 1,1 -> 3 => 9.5 / 16
    assert scores["math"]["roc_auc"] == pytest.approx(9.5 / 16)
    # gpqa: correct {0, 0, 1, 2} vs incorrect {1, 2}: 0,0 -> 0; 1 ties 1 -> .5; 2 beats 1, ties 2 -> 1.5 => 2 / 8
    assert scores["gpqa"]["roc_auc"] == pytest.approx(2 / 8)
    assert scores["ifeval"]["n_pairs"] == 3 and scores["ifeval"]["accuracy"] == pytest.approx(1 / 3)
    assert curve[("ifeval", 1)] == pytest.approx(0.25) and curve[("ifeval", 2)] == pytest.approx(0.5)
    assert scores["ifeval"]["roc_auc"] == 1.0  # the failed row is left out
    [row] = leaderboard(tmp_path, "ppe-correctness")
    assert row["MATH"] == pytest.approx(1 / 3) and row["GPQA"] == 0.5 and row["MMLU-Pro"] is None
    assert row["IFEval"] == pytest.approx(1 / 3)
    assert row["score"] == pytest.approx((1 / 3 + 0.5 + 1 / 3) / 3)  # the sets present, weight 1 each
    assert row["Best-of-K End"] == pytest.approx((0.25 + 0.75 + 0.5) / 3)
    assert row["ROC AUC"] == pytest.approx((9.5 / 16 + 2 / 8 + 1) / 3)
    assert row["complete"] is False


def test_crosscheck_against_numpy_and_sklearn(tmp_path):
    ref = json.loads(CROSSCHECK.read_text())
    rows = [{"subset": s, **rec} for s, x in ref["correctness"].items() for rec in x["records"]]
    write_records(tmp_path, "run-1", "ppe-correctness", "m", rows)
    con = connect(tmp_path)
    got = {r["subset"]: r for r in run_query(con, "SELECT * FROM ppe_correctness_scores").to_pylist()}
    curve = run_query(
        con, "SELECT subset, k, accuracy FROM ppe_best_of_k_curve ORDER BY subset, k"
    ).to_pylist()
    for subset, want in ref["correctness"].items():
        g = got[subset]
        assert g["n_pairs"] == want["n_pairs"]
        assert g["accuracy"] == pytest.approx(want["accuracy"], abs=1e-12)
        assert g["roc_auc"] == pytest.approx(want["roc_auc"], abs=1e-12)
        assert g["best_of_k_max"] == pytest.approx(want["best_of_k_max"], abs=1e-12)
        assert g["best_of_k_end"] == pytest.approx(want["best_of_k_end"], abs=1e-12)
        mine = [r["accuracy"] for r in curve if r["subset"] == subset]
        assert mine == pytest.approx(want["curve"], abs=1e-12)
        # the seeded Monte Carlo draws agree with the exact expectation to sampling error (4 rows x 4000 draws)
        for k, mc in zip((1, 4, 16), want["monte_carlo_k1_k4_k16"]):
            assert abs(mine[k - 1] - mc) < 0.02
    h = ref["human"]
    recs = []
    for a, b, w in zip(h["scores_1"], h["scores_2"], h["winners"]):
        pos = {"model_a": 0, "model_b": 1}.get(w)
        chosen, rejected = (b, a) if pos == 1 else (a, b)
        recs.append(
            {
                "subset": "human-preference",
                "score_chosen": chosen,
                "score_rejected": rejected,
                "chosen_position": pos,
            }
        )
    write_records(tmp_path / "h", "run-1", "ppe-human", "m", recs)
    [row] = leaderboard(tmp_path / "h", "ppe-human")
    assert row["Human Preference"] == pytest.approx(h["accuracy"], abs=1e-12)
