"""PPE's model-level ranking metrics (orchestrator/query/ppe_ranking.py): Bradley-Terry ratings against a closed form
and an independent fit (Zermelo's iteration), every metric by hand on small cases, and against Arena-Hard's own code
run on the same battles and the same bootstrap resamples: tests/fixtures/reference/ppe_ranking_crosscheck.json,
written by perf/reference/ppe_ranking_reference.py (recipe perf/reference/run_reference_ppe_ranking.sh), which runs
arena-hard-auto's ``compute_mle_elo`` (utils_math.py at a06dde2) and the separability / agreement / Brier cells of
its notebook/benchmark_statistics.ipynb (at bd52a78) unchanged in a throwaway venv."""

import json
import math

import numpy as np
import pytest
from typer.testing import CliRunner

from orchestrator.cli import app
from orchestrator.errors import QueryError
from orchestrator.query.db import connect
from orchestrator.query.ppe_ranking import (
    Battles,
    _credit,
    _verdict,
    brier,
    bt_ratings,
    confidence_agreement,
    kendall_tau_b,
    rank_metrics,
    ranking_rows,
    separability,
    spearman,
)
from tests.benchmarks._records import write_records
from tests.benchmarks.test_ppe import _pick, _scored_fixture
from tests.conftest import REPO

CROSSCHECK = json.loads((REPO / "tests/fixtures/reference/ppe_ranking_crosscheck.json").read_text())
HUMAN = {"model_a": 1.0, "model_b": 0.0, "tie": 0.5, "tie (bothbad)": 0.5}
FIXTURE = (
    REPO
    / "tests/fixtures/benchmarks/ppe/human/lmarena-ai/PPE-Human-Preference-V1/data/test-00000-of-00001.jsonl"
)
# compute_mle_elo's lbfgs stops at tol 1e-8 (and scikit-learn's newton-cholesky at its own criterion): the likelihood
# gradient at its solution is ~1e-7, at ours ~1e-14, so the ratings agree to this, not to 1e-9 (see
# docs/benchmark-rules.md); the ranks, correlations and interval metrics agree exactly.
ELO_TOL = 1e-5


def _fixture_battles():
    rows = [json.loads(line) for line in FIXTURE.read_text(encoding="utf-8").splitlines()]
    human = Battles.from_rows(
        [r["model_a"] for r in rows], [r["model_b"] for r in rows], [HUMAN[r["winner"]] for r in rows]
    )
    picks = [{1: 1.0, 2: 0.0, None: 0.5}[_pick(i)] for i in range(len(rows))]
    return human, np.array(picks)


def _synthetic():
    s = CROSSCHECK["synthetic"]
    b = s["battles"]
    human = Battles.from_rows(b["model_a"], b["model_b"], [HUMAN[w] for w in b["winner"]])
    return s, human, np.array([HUMAN[w] for w in b["rm_winner"]])


def _centred(ratings: dict, models: list[str]) -> np.ndarray:
    x = np.array([ratings[m] for m in models])
    return x - x.mean() + 1000.0


def test_two_models_closed_form():
    # a beats b 3 times, loses once, one tie: BT gives P(a beats b) = 3.5 / 5, so 400 log10(3.5 / 1.5) Elo apart
    b = Battles.from_rows(["a"] * 5, ["b"] * 5, [1, 1, 1, 0, 0.5])
    r = bt_ratings(b)
    assert r[0] - r[1] == pytest.approx(400 * math.log10(3.5 / 1.5), abs=1e-9)
    assert r.mean() == pytest.approx(1000.0, abs=1e-12)


def test_bt_is_the_mle_by_zermelo():
    """An independent fit: Zermelo's (1929) fixed-point iteration pi_i <- W_i / sum_j N_ij / (pi_i + pi_j) on the
    same win credits, run to convergence, equals our Newton fit to 1e-9 Elo."""
    for human, rm in (_fixture_battles(), _synthetic()[1:]):
        for battles in (human, Battles(human.models, human.a, human.b, rm)):
            w, n = _credit(battles)
            pi = np.ones(len(w))
            for _ in range(100000):
                new = w.sum(axis=1) / (n / (pi[:, None] + pi[None, :])).sum(axis=1)
                new /= np.exp(np.log(new).mean())
                done = np.max(np.abs(new - pi)) < 1e-15
                pi = new
                if done:
                    break
            zermelo = 1000 + 400 * np.log10(pi)
            assert bt_ratings(battles) == pytest.approx(zermelo - zermelo.mean() + 1000, abs=1e-9)


def test_bt_and_rank_correlations_match_arena_hard():
    for human, rm, want in (
        (*_fixture_battles(), CROSSCHECK["fixture"]),
        (_synthetic()[1], _synthetic()[2], CROSSCHECK["synthetic"]),
    ):
        models = human.models
        assert sorted(want["human_ratings"]) == models
        mine_h, mine_r = bt_ratings(human), bt_ratings(Battles(models, human.a, human.b, rm))
        for key, mine in (("human_ratings", mine_h), ("rm_ratings", mine_r)):
            # compute_mle_elo as it ships, and solved by newton-cholesky
            assert mine == pytest.approx(_centred(want[key], models), abs=ELO_TOL)
            assert mine == pytest.approx(_centred(want[key + "_tight"], models), abs=ELO_TOL)
        r = rank_metrics("rm", "classifier", human, rm, n_boot=10)
        assert r.spearman == pytest.approx(want["spearman"], abs=1e-12)  # scipy.stats.spearmanr
        assert r.kendall == pytest.approx(want["kendall"], abs=1e-12)  # scipy.stats.kendalltau (tau-b)


def test_bootstrap_metrics_match_arena_hard_notebook():
    s, human, rm = _synthetic()
    idx = np.random.default_rng(s["seed"]).integers(0, len(human.a), size=(s["n_boot"], len(human.a)))
    assert int(idx.sum()) == s["idx_sum"]  # the reference resampled exactly these battles
    r = rank_metrics("rm", "classifier", human, rm, n_boot=s["n_boot"], seed=s["seed"])
    assert r.note is None and r.n_battle_models == 6 and r.n_battles == 300
    assert r.separability == pytest.approx(s["separability"], abs=1e-12)
    assert r.confidence_agreement == pytest.approx(s["confidence_agreement"], abs=1e-12)
    assert r.brier == pytest.approx(s["brier"], abs=1e-7)  # through the ratings' ~1e-6 Elo difference
    mine = Battles(human.models, human.a, human.b, rm)
    reps = np.array([bt_ratings(mine, take) for take in idx])
    for i, m in enumerate(human.models):
        assert np.percentile(reps[:, i], [2.5, 97.5]) == pytest.approx(s["rm_intervals"][m], abs=ELO_TOL)


def test_interval_metrics_by_hand():
    # three models; intervals (lower, upper)
    model = np.array([[0.0, 2.0], [1.0, 3.0], [5.0, 6.0]])  # 0-1 overlap; 2 is apart from both
    assert separability(model) == pytest.approx(2 / 3)
    # separability: touching counts as apart (the later lower bound must be strictly below the earlier upper)
    assert separability(np.array([[0.0, 1.0], [1.0, 2.0]])) == 1.0
    human = np.array([[0.0, 1.0], [2.0, 3.0], [4.0, 5.0]])  # every pair separated
    # pairs: (0,1) model overlaps -> 1/2; (0,2) apart, same order -> 1; (1,2) apart, same order -> 1
    assert confidence_agreement(model, human) == (pytest.approx(2.5 / 3), 3)
    flipped = np.array([[5.0, 6.0], [1.0, 3.0], [0.0, 0.5]])  # (0,1) apart, reversed -> 0; (0,2) 0; (1,2) 0
    assert confidence_agreement(flipped, human) == (0.0, 3)
    # the human pairs that overlap are left out; none separated -> NaN
    assert math.isnan(confidence_agreement(model, np.array([[0.0, 9.0]] * 3))[0])
    # Brier: two models, resampled ratings with means 0 and 1 and variances 0.25, 0.25 (ddof 0):
    # P(model 0 below model 1) = Phi(1 / sqrt(0.5)); the humans rate 0 below 1 -> label 1
    reps = np.array([[-0.5, 0.5], [0.5, 1.5]])
    p = 0.5 * (1 + math.erf(1 / math.sqrt(0.5) / math.sqrt(2)))
    assert brier(reps, np.array([0.0, 1.0])) == pytest.approx((p - 1) ** 2, abs=1e-15)
    assert brier(reps, np.array([1.0, 0.0])) == pytest.approx(p**2, abs=1e-15)


def test_rank_correlations_by_hand():
    x, y = np.array([1.0, 2.0, 3.0, 4.0]), np.array([1.0, 3.0, 2.0, 4.0])
    # Spearman: ranks differ by d = (0, 1, -1, 0): 1 - 6 * 2 / (4 * 15) = 0.8; Kendall: 5 concordant, 1 discordant
    assert spearman(x, y) == pytest.approx(0.8, abs=1e-15)
    assert kendall_tau_b(x, y) == pytest.approx(4 / 6, abs=1e-15)
    # a tie in y: pairs 6, ties in y 1: concordant 5, discordant 0 -> 5 / sqrt(6 * 5)
    assert kendall_tau_b(x, np.array([1.0, 2.0, 2.0, 4.0])) == pytest.approx(5 / math.sqrt(30), abs=1e-15)


def test_too_little_data_is_refused_with_a_note():
    two = Battles.from_rows(["a", "b"] * 15, ["b", "a"] * 15, [1.0, 0.0] * 15)
    r = rank_metrics("rm", "classifier", two, np.full(30, 0.5))
    assert math.isnan(r.spearman) and "2 battle model(s)" in r.note
    # model c never loses: no finite Bradley-Terry rating
    never = Battles.from_rows(["a", "b", "c", "c"] * 6, ["b", "a", "a", "b"] * 6, [1.0, 1.0, 1.0, 1.0] * 6)
    r = rank_metrics("rm", "classifier", never, np.full(24, 0.5))
    assert math.isnan(r.kendall) and "no finite Bradley-Terry ratings from the human votes" in r.note
    assert r.as_row()["kendall"] is None  # NaN never reaches a table as a number
    # the fixture: point estimates, but too few battles per model for every resample to have a finite fit
    human, rm = _fixture_battles()
    r = rank_metrics("rm", "classifier", human, rm, n_boot=200, seed=0)
    assert not math.isnan(r.spearman) and math.isnan(r.separability) and math.isnan(r.brier)
    assert "resamples have no finite Bradley-Terry fit" in r.note
    few = Battles(human.models, human.a[:18], human.b[:18], human.outcome[:18])
    r = rank_metrics("rm", "classifier", few, rm[:18])
    assert "18 battle(s), fewer than the 20" in (r.note or "")


def test_ranking_from_the_store_and_the_cli(tmp_path):
    _scored_fixture(tmp_path)
    [r] = ranking_rows(connect(tmp_path), n_boot=50, seed=0)
    want = CROSSCHECK["fixture"]
    assert (r.model, r.n_battles, r.n_battle_models, r.n_failed) == ("rm", 36, 6, 0)
    assert np.array(list(r.human_ratings.values())) == pytest.approx(
        _centred(want["human_ratings"], sorted(want["human_ratings"])), abs=ELO_TOL
    )
    assert r.spearman == pytest.approx(want["spearman"], abs=1e-12)
    assert r.kendall == pytest.approx(want["kendall"], abs=1e-12)
    out = CliRunner().invoke(
        app,
        [
            "leaderboard",
            "--benchmark",
            "ppe-human",
            "--ranking",
            "--n-boot",
            "50",
            "--results",
            str(tmp_path),
            "--format",
            "json",
        ],
    )
    assert out.exit_code == 0, out.output
    [row] = json.loads(out.output)
    assert row["spearman"] == pytest.approx(want["spearman"]) and row["separability"] is None
    assert "no finite Bradley-Terry fit" in row["note"]


def test_records_without_battle_metadata_cannot_be_ranked(tmp_path):
    rows = [
        {"subset": "human-preference", "score_chosen": 1.0, "score_rejected": 0.0, "chosen_position": 0}
    ] * 3
    write_records(tmp_path, "run-1", "ppe-human", "m", rows)
    with pytest.raises(QueryError, match=r"model 'm': 3 record\(s\) \(first row 0\) have no battle metadata"):
        ranking_rows(connect(tmp_path))


def test_verdicts_from_scores_and_judge_credits():
    """model_a's outcome: response_1 (model_a's) is the chosen one unless chosen_position is 1."""
    rm = {"kind": "classifier", "judge_credit": None}
    assert _verdict({**rm, "chosen_position": 0, "score_chosen": 2.0, "score_rejected": 1.0}) == 1.0
    assert _verdict({**rm, "chosen_position": 1, "score_chosen": 2.0, "score_rejected": 1.0}) == 0.0
    assert _verdict({**rm, "chosen_position": None, "score_chosen": 1.0, "score_rejected": 3.0}) == 0.0
    assert _verdict({**rm, "chosen_position": 1, "score_chosen": 1.0, "score_rejected": 1.0}) == 0.5
    assert _verdict({**rm, "chosen_position": 0, "score_chosen": None, "score_rejected": None}) is None
    judge = {"kind": "judge", "score_chosen": None, "score_rejected": None}
    assert _verdict({**judge, "chosen_position": 0, "judge_credit": 1.0}) == 1.0
    assert _verdict({**judge, "chosen_position": 1, "judge_credit": 1.0}) == 0.0  # chosen = model_b's, it won
    assert _verdict({**judge, "chosen_position": 1, "judge_credit": 0.5}) == 0.5
