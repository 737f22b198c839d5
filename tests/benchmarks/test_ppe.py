"""PPE: both loaders on fixtures in the published hub schemas (a local source, and the hub-id default loaded
offline from a directory named like the hub id), bad rows named, and the SQL metrics against hand-computed
numbers (ties in `winner` left out, ties in scores, all-correct / all-incorrect prompts, the exact best-of-K
expectation checked against brute-force enumeration of every draw) and against an independent numpy /
scikit-learn computation (perf/reference/ppe_reference.py, tests/fixtures/reference/ppe_crosscheck.json)."""

import itertools
import json
from fractions import Fraction

import pytest
from typer.testing import CliRunner

from orchestrator.benchmarks import expected_counts
from orchestrator.cli import app
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
    assert len(t) == len(raw) == 36
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
    assert sum(r["chosen_position"] is None for r in t) == 11


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
    assert human.num_rows == 36 and human.column("chosen_position").null_count == 11
    local = load_examples(BenchmarkSpec(name="ppe-human", source=str(HUMAN))).table
    assert (
        human.column("metadata").to_pylist() == local.column("metadata").to_pylist()
    )  # the hub path keeps it too
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


def test_human_loader_keeps_the_battle_metadata():
    """Every published column but the texts and question_id is the example's metadata (text values; nested objects
    flattened to dotted keys), in the examples table and so in records / latest_records."""
    t = load_examples(BenchmarkSpec(name="ppe-human", source=str(HUMAN))).table.to_pylist()
    raw = _fixture_rows(next(HUMAN.rglob("*.jsonl")))
    m = dict(t[0]["metadata"])
    assert m["model_a"] == "model-0" and m["model_b"] == "model-1" and m["winner"] == "model_b"
    assert m["language"] == "English" and m["is_code"] == "true" and m["hard_prompt"] == "true"
    assert m["category_tag.math_v0.1.math"] == "true" and m["category_tag.if_v0.1.score"] == "0"
    assert m["conv_metadata.turns"] == "2" and m["longer_won"] == "A" and m["sim"] == str(raw[0]["sim"])
    assert not {"prompt", "response_1", "response_2", "question_id"} & set(m)
    assert dict(t[1]["metadata"])["language"] == "Chinese" and dict(t[1]["metadata"])["is_code"] == "false"
    c = load_examples(BenchmarkSpec(name="ppe-correctness", source=str(CORRECTNESS))).table.to_pylist()
    assert all(dict(r["metadata"])["model_name"] == r["source_id"].split("/")[1] for r in c)


def _pick(i):
    """The test reward model's verdict on fixture battle i: response_1, response_2, or equal scores (battle 9)."""
    return None if i == 9 else 1 if i % 3 != 1 else 2


def _scored_fixture(root, model="rm"):
    """Records of the human fixture as a run writes them (texts and metadata in the examples table), scored by
    _pick: the picked response 1.0, the other 0.0, battle 9 both 0.5."""
    ex = load_examples(BenchmarkSpec(name="ppe-human", source=str(HUMAN))).table.to_pylist()
    rows = []
    for i, r in enumerate(ex):
        s1, s2 = {1: (1.0, 0.0), 2: (0.0, 1.0), None: (0.5, 0.5)}[_pick(i)]
        chosen, rejected = (s2, s1) if r["chosen_position"] == 1 else (s1, s2)
        rows.append(
            {
                "subset": r["subset"],
                "prompt": r["prompt"],
                "chosen": r["chosen"],
                "rejected": r["rejected"],
                "source_id": r["source_id"],
                "chosen_position": r["chosen_position"],
                "score_chosen": chosen,
                "score_rejected": rejected,
                "correct": chosen > rejected,
                "metadata": dict(r["metadata"]),
            }
        )
    write_records(root, "run-1", "ppe-human", model, rows)


# By hand from the fixture (make_fixture.py: battle i's flags hard_prompt i % 3 == 0, is_code i % 4 == 0,
# if_prompt i % 5 == 0, math_prompt i % 6 == 0, language LANGUAGES[i % 7]; ties at i % 5 == 2 and i % 7 == 3) and
# _pick: (category, battles, decided, right), the right ones listed.
BY_HAND = {
    # right: 4 15 18 19 20 21 23 25 26 29 34; wrong: 0 1 5 6 8 9 11 13 14 16 28 30 33 35
    "overall": (36, 25, 11),
    "hard_prompt": (12, 8, 3),  # 0 3 6 ... 33; decided 0 6 9 15 18 21 30 33; right 15 18 21
    "easy_prompt": (24, 17, 8),  # right 4 19 20 23 25 26 29 34
    "if_prompt": (8, 7, 3),  # 0 5 10 15 20 25 30 35 (10 a tie); right 15 20 25
    "is_code": (9, 6, 2),  # 0 4 8 ... 32 (12 24 32 ties); right 4 20
    "math_prompt": (6, 4, 1),  # 0 6 12 18 24 30 (12 24 ties); right 18
    "english": (16, 13, 4),  # right 19 21 23 26 (9: equal scores, wrong)
    "non_english": (20, 12, 7),  # right 4 15 18 20 25 29 34
    "language=English": (16, 13, 4),
    "language=Chinese": (5, 4, 2),  # 1 8 15 22 29 (22 a tie); right 15 29
    "language=Russian": (5, 0, None),  # 3 10 17 24 31: every one a tie, no accuracy
    "language=Arabic": (5, 4, 3),  # 4 11 18 25 32 (32 a tie); right 4 18 25
    "language=Japanese": (5, 4, 2),  # 6 13 20 27 34 (27 a tie); right 20 34
}


def test_per_category_accuracy_by_hand(tmp_path):
    _scored_fixture(tmp_path)
    con = connect(tmp_path)
    got = {
        r["category"]: r
        for r in run_query(con, "SELECT * FROM ppe_preference_categories WHERE model = 'rm'").to_pylist()
    }
    assert set(got) == set(BY_HAND)
    for category, (n, decided, right) in BY_HAND.items():
        r = got[category]
        assert (r["n"], r["n_decided"]) == (n, decided), category
        want = None if right is None else pytest.approx(right / decided, abs=1e-15)
        assert r["accuracy"] == want, category
        assert r["grouping"] == ("language" if category.startswith("language=") else "category")
    [row] = leaderboard(tmp_path, "ppe-human")
    # the overall category is the leaderboard's accuracy
    assert row["Human Preference"] == pytest.approx(11 / 25)
    # the metadata reaches SQL through records / latest_records
    langs = run_query(
        con, "SELECT metadata['language'] AS l, count(*) AS n FROM latest_records GROUP BY l ORDER BY l"
    ).to_pylist()
    assert langs == [
        {"l": "Arabic", "n": 5},
        {"l": "Chinese", "n": 5},
        {"l": "English", "n": 16},
        {"l": "Japanese", "n": 5},
        {"l": "Russian", "n": 5},
    ]
    out = CliRunner().invoke(
        app,
        [
            "leaderboard",
            "--benchmark",
            "ppe-human",
            "--by",
            "category",
            "--results",
            str(tmp_path),
            "--format",
            "json",
        ],
    )
    assert out.exit_code == 0, out.output
    [cli] = json.loads(out.output)
    assert list(cli)[:10] == [
        "model",
        "kind",
        "overall",
        "hard_prompt",
        "easy_prompt",
        "if_prompt",
        "is_code",
        "math_prompt",
        "english",
        "non_english",
    ]
    assert list(cli)[10] == "language=English" and cli["language=Russian"] is None
    assert cli["math_prompt"] == pytest.approx(1 / 4)
    table = CliRunner().invoke(
        app,
        ["leaderboard", "--benchmark", "ppe-human", "--by", "category", "--results", str(tmp_path)],
        env={"COLUMNS": "300"},
    )
    assert table.exit_code == 0 and "hard_prompt" in table.output and "25.00" in table.output  # math_prompt


def test_records_without_metadata_have_only_the_overall_category(tmp_path):
    """A store written before the examples kept metadata: no flags, no language, only the overall category."""
    rows = [
        {"subset": "human-preference", "score_chosen": 2.0, "score_rejected": 1.0, "chosen_position": 0},
        {"subset": "human-preference", "score_chosen": 0.0, "score_rejected": 1.0, "chosen_position": 1},
        {"subset": "human-preference", "score_chosen": 0.0, "score_rejected": 1.0, "chosen_position": None},
    ]
    write_records(tmp_path, "run-1", "ppe-human", "m", rows)
    got = run_query(
        connect(tmp_path), "SELECT category, n, n_decided, accuracy FROM ppe_preference_categories"
    )
    assert got.to_pylist() == [{"category": "overall", "n": 3, "n_decided": 2, "accuracy": 0.5}]
