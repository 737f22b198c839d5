"""PPE's model-level ranking metrics on the human preference battles (numpy only).

PPE (Frick et al., arXiv 2410.14872) scores a reward model not only per battle but by the ranking of the battle
models (``model_a`` / ``model_b``) its verdicts give, against the ranking the human votes give, with the metrics of
Arena-Hard (Li et al., arXiv 2406.11939; code: ``lmarena/arena-hard-auto``, ``utils_math.compute_mle_elo`` and
``notebook/benchmark_statistics.ipynb``). Per reward model, over the battles it has records of:

* **Verdicts.** The human verdict is the battle's ``winner`` (``model_a``, ``model_b``, a tie); the reward model's
  is the model whose response it scores higher (response_1 is ``model_a``'s), a tie when the two scores are equal or
  the record failed to score (no preference expressed); a judge's credit for the chosen response (1, 0, ½) gives its
  verdict the same way.
* **Bradley-Terry ratings** (:func:`bt_ratings`): the maximum-likelihood BT model with a tie counted as half a win
  for each side (what ``compute_mle_elo`` gets by duplicating every battle, a tie becoming one win each way), on
  the Elo scale ``1000 + 400 * log10-strength``, the strengths summing to zero (the solution ``compute_mle_elo``'s
  unpenalized logistic regression converges to from zero when no anchor model is present). Fitted by Newton's method
  to a step below 1e-12: deterministic. The MLE exists only when the battle models' "scored at least half a point
  against" graph is strongly connected (no group of models that never loses, or never wins, against the rest);
  otherwise there is no finite rating and the metrics are NaN with a note saying so.
* **Spearman** / **Kendall**: the rank correlation of the reward model's ratings with the human ones (Spearman =
  Pearson of average ranks; Kendall's tau-b, ties in either rating accounted for, as ``scipy.stats.kendalltau``).
* **Bootstrap** (the project's convention, :mod:`orchestrator.query.stats`): ``rng = numpy.random.default_rng(seed)``,
  ``idx = rng.integers(0, n, size=(n_boot, n))`` draws the battles of each resample (with replacement, the human
  and the reward-model ratings fitted on the same resample); the 95% interval of a model's rating is the
  ``numpy.percentile`` 2.5 / 97.5 of its resampled ratings (linear interpolation).
* **Separability**: the share of battle-model pairs whose reward-model intervals do not overlap; two intervals
  overlap when the one with the lower lower bound ends strictly above the other's lower bound (the notebook's
  ``get_unique_overlapping_interval_pairs``).
* **Confidence agreement**: over the pairs whose *human* intervals do not overlap (overlap length
  ``max(0, min(upper) - max(lower))`` zero), 1 when the reward model's intervals do not overlap either and order the
  pair as the humans do, ½ when they overlap, 0 when they order it the other way; the mean (the notebook's
  "Agreement With Confidence"; the ±1 form some write is 2x - 1 of it). NaN when no human pair is separated.
* **Brier score**: for every pair (a, b) of battle models (names sorted), the reward model's probability that a
  rates below b, ``Phi(-(mean_a - mean_b) / sqrt(var_a + var_b))`` from its resampled ratings' mean and variance
  (ddof 0), against the label 1 when the human rating of a is below that of b, else 0; the mean squared error (the
  notebook's ``calculate_predictions_and_labels`` + ``brier_score_loss``). Lower is better.

Too little data is refused, never a number: fewer than :data:`MIN_BATTLE_MODELS` battle models, no finite
Bradley-Terry fit, fewer than :data:`orchestrator.query.stats.MIN_RESAMPLING_UNITS` battles for the bootstrap, or a
resample without a finite fit gives NaN and a ``note``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from orchestrator.query.stats import DEFAULT_N_BOOT, DEFAULT_SEED, MIN_RESAMPLING_UNITS

MIN_BATTLE_MODELS = 3
"""Fewest battle models a ranking metric is given for (with two, every rank correlation is ±1)."""
SCALE = 400.0
INIT_RATING = 1000.0
_LN10 = math.log(10.0)


@dataclass(frozen=True)
class Battles:
    """Battles as indices into ``models`` (sorted names): ``a``, ``b`` and ``outcome`` (1 a won, 0 b won, ½ tie)."""

    models: list[str]
    a: np.ndarray
    b: np.ndarray
    outcome: np.ndarray

    @classmethod
    def from_rows(cls, model_a: list[str], model_b: list[str], outcome: list[float]) -> Battles:
        models = sorted(set(model_a) | set(model_b))
        index = {m: i for i, m in enumerate(models)}
        return cls(
            models,
            np.array([index[m] for m in model_a], dtype=np.int64),
            np.array([index[m] for m in model_b], dtype=np.int64),
            np.array(outcome, dtype=np.float64),
        )


def _credit(battles: Battles, take: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """``W[i, j]`` = points i scored against j (a tie ½ each), ``N[i, j]`` = battles between them, over the battles
    ``take`` (indices, with repeats) or all."""
    a, b, o = battles.a, battles.b, battles.outcome
    if take is not None:
        a, b, o = a[take], b[take], o[take]
    m = len(battles.models)
    flat = np.zeros(m * m)
    np.add.at(flat, a * m + b, o)
    np.add.at(flat, b * m + a, 1.0 - o)
    w = flat.reshape(m, m)
    return w, w + w.T


def _strongly_connected(w: np.ndarray) -> bool:
    """Whether every model reaches every other along "scored > 0 against" edges (the BT MLE then exists)."""
    m = len(w)
    edges = w > 0
    for graph in (edges, edges.T):
        seen = {0}
        todo = [0]
        while todo:
            i = todo.pop()
            for j in np.flatnonzero(graph[i]):
                if int(j) not in seen:
                    seen.add(int(j))
                    todo.append(int(j))
        if len(seen) < m:
            return False
    return True


def _fit(w: np.ndarray, n: np.ndarray) -> np.ndarray | None:
    """Strengths theta (natural log, sum zero) maximizing sum_ij W_ij log sigma(theta_i - theta_j), or None when the
    MLE does not exist (not strongly connected)."""
    m = len(w)
    if m < 2 or not _strongly_connected(w):
        return None
    theta = np.zeros(m)
    ones = np.ones((m, m)) / m
    for _ in range(200):
        d = theta[:, None] - theta[None, :]
        p = 1.0 / (1.0 + np.exp(-d))  # P(i beats j)
        grad = (w - n * p).sum(axis=1)  # d loglik / d theta_i
        c = n * p * (1.0 - p)
        hess = np.diag(c.sum(axis=1)) - c  # minus the Hessian: a weighted graph Laplacian
        step = np.linalg.solve(hess + ones, grad)  # the constant direction fixed by the sum-zero gauge
        theta = theta + step
        theta -= theta.mean()
        if np.max(np.abs(step)) < 1e-12:
            break
    return theta


def bt_ratings(battles: Battles, take: np.ndarray | None = None) -> np.ndarray | None:
    """Elo-scale BT ratings of ``battles.models`` (mean 1000), or None when no finite MLE exists."""
    w, n = _credit(battles, take)
    theta = _fit(w, n)
    if theta is None:
        return None
    return INIT_RATING + SCALE * theta / _LN10


def _average_ranks(x: np.ndarray) -> np.ndarray:
    order = np.argsort(x, kind="mergesort")
    ranks = np.empty(len(x))
    sx = x[order]
    i = 0
    while i < len(x):
        j = i
        while j + 1 < len(x) and sx[j + 1] == sx[i]:
            j += 1
        ranks[order[i : j + 1]] = (i + j) / 2.0 + 1.0
        i = j + 1
    return ranks


def spearman(x: np.ndarray, y: np.ndarray) -> float:
    """Pearson correlation of the average ranks (NaN when either side is constant)."""
    rx, ry = _average_ranks(x) - (len(x) + 1) / 2.0, _average_ranks(y) - (len(y) + 1) / 2.0
    den = math.sqrt(float((rx * rx).sum()) * float((ry * ry).sum()))
    return float((rx * ry).sum()) / den if den > 0 else math.nan


def kendall_tau_b(x: np.ndarray, y: np.ndarray) -> float:
    """Kendall's tau-b: (concordant - discordant) / sqrt((pairs - ties in x) * (pairs - ties in y))."""
    n = len(x)
    conc = disc = tx = ty = 0
    for i in range(n):
        for j in range(i + 1, n):
            sx, sy = np.sign(x[i] - x[j]), np.sign(y[i] - y[j])
            if sx == 0 and sy == 0:
                tx += 1
                ty += 1
            elif sx == 0:
                tx += 1
            elif sy == 0:
                ty += 1
            elif sx == sy:
                conc += 1
            else:
                disc += 1
    pairs = n * (n - 1) // 2
    den = math.sqrt((pairs - tx) * (pairs - ty))
    return (conc - disc) / den if den > 0 else math.nan


def _intervals(reps: np.ndarray) -> np.ndarray:
    """Per model (column) the 2.5 / 97.5 percentiles of its resampled ratings: shape (models, 2)."""
    return np.stack([np.percentile(reps, 2.5, axis=0), np.percentile(reps, 97.5, axis=0)], axis=1)


def separability(intervals: np.ndarray) -> float:
    """Share of model pairs whose intervals do not overlap (sorted by lower bound, stable: a pair overlaps when the
    later one's lower bound is strictly below the earlier one's upper bound)."""
    order = sorted(range(len(intervals)), key=lambda i: intervals[i][0])
    m = len(order)
    overlapping = 0
    for x in range(m):
        for y in range(x + 1, m):
            if intervals[order[y]][0] < intervals[order[x]][1]:
                overlapping += 1
    pairs = m * (m - 1) // 2
    return 1.0 - overlapping / pairs


def _overlap(p: np.ndarray, q: np.ndarray) -> float:
    return max(0.0, min(p[1], q[1]) - max(p[0], q[0]))


def confidence_agreement(model_iv: np.ndarray, human_iv: np.ndarray) -> tuple[float, int]:
    """(agreement, pairs the humans separate): 1 same confident order, ½ not separated, 0 the other order."""
    total, count = 0, 0.0
    m = len(model_iv)
    for i in range(m):
        for j in range(i + 1, m):
            if _overlap(human_iv[i], human_iv[j]) > 0:
                continue
            total += 1
            if _overlap(model_iv[i], model_iv[j]) > 0:
                count += 0.5
            elif (tuple(model_iv[i]) < tuple(model_iv[j])) == (tuple(human_iv[i]) < tuple(human_iv[j])):
                count += 1.0
    return (count / total if total else math.nan), total


def brier(model_reps: np.ndarray, human: np.ndarray) -> float:
    """Mean over model pairs i < j of (P(model rating i < j) - [human rating i < j])^2, P from a normal with the
    resampled ratings' mean and variance (ddof 0). NaN when a pair's variance is zero (no spread to score)."""
    mean, var = model_reps.mean(axis=0), model_reps.var(axis=0)
    errors = []
    m = len(human)
    for i in range(m):
        for j in range(i + 1, m):
            scale = math.sqrt(var[i] + var[j])
            if scale == 0:
                return math.nan
            z = (0.0 - (mean[i] - mean[j])) / scale
            p = 0.5 * (1.0 + math.erf(z / math.sqrt(2.0)))
            label = 1.0 if human[i] < human[j] else 0.0
            errors.append((p - label) ** 2)
    return float(np.mean(errors))


@dataclass
class Ranking:
    """One reward model's ranking metrics (NaN with a ``note`` where the data cannot give them)."""

    model: str
    kind: str
    n_battles: int
    n_battle_models: int
    n_failed: int = 0
    spearman: float = math.nan
    kendall: float = math.nan
    separability: float = math.nan
    confidence_agreement: float = math.nan
    n_human_separated_pairs: int = 0
    brier: float = math.nan
    n_boot: int = 0
    seed: int = 0
    note: str | None = None
    ratings: dict[str, float] = field(default_factory=dict)
    human_ratings: dict[str, float] = field(default_factory=dict)

    def as_row(self) -> dict[str, Any]:
        """The metrics as a leaderboard row (NaN as None: JSON has no NaN; ``note`` says why)."""
        return {
            k: None
            if isinstance(getattr(self, k), float) and math.isnan(getattr(self, k))
            else getattr(self, k)
            for k in (
                "model",
                "kind",
                "n_battles",
                "n_battle_models",
                "n_failed",
                "spearman",
                "kendall",
                "separability",
                "confidence_agreement",
                "n_human_separated_pairs",
                "brier",
                "n_boot",
                "seed",
                "note",
            )
        }


def rank_metrics(
    model: str,
    kind: str,
    human: Battles,
    verdicts: np.ndarray,
    *,
    n_boot: int = DEFAULT_N_BOOT,
    seed: int = DEFAULT_SEED,
    n_failed: int = 0,
) -> Ranking:
    """Every ranking metric of one reward model: ``human`` holds the battles with the human outcomes, ``verdicts``
    the reward model's outcomes of the same battles (1 model_a, 0 model_b, ½ tie)."""
    out = Ranking(model, kind, len(human.a), len(human.models), n_failed=n_failed, n_boot=n_boot, seed=seed)
    mine = Battles(human.models, human.a, human.b, np.asarray(verdicts, dtype=np.float64))
    if len(human.models) < MIN_BATTLE_MODELS:
        out.note = f"{len(human.models)} battle model(s), fewer than the {MIN_BATTLE_MODELS} a ranking needs"
        return out
    truth, ratings = bt_ratings(human), bt_ratings(mine)
    if truth is None or ratings is None:
        who = "the human votes" if truth is None else "the reward model's verdicts"
        out.note = (
            f"no finite Bradley-Terry ratings from {who}: some battle models never lose (or never win) against "
            "the rest"
        )
        return out
    out.ratings = dict(zip(human.models, ratings.tolist()))
    out.human_ratings = dict(zip(human.models, truth.tolist()))
    out.spearman = spearman(ratings, truth)
    out.kendall = kendall_tau_b(ratings, truth)
    n = len(human.a)
    if n < MIN_RESAMPLING_UNITS:
        out.note = f"bootstrap refused: {n} battle(s), fewer than the {MIN_RESAMPLING_UNITS} it needs"
        return out
    idx = np.random.default_rng(seed).integers(0, n, size=(n_boot, n))
    human_reps, model_reps, failed = [], [], 0
    for take in idx:
        h, r = bt_ratings(human, take), bt_ratings(mine, take)
        if h is None or r is None:
            failed += 1
            continue
        human_reps.append(h)
        model_reps.append(r)
    if failed:
        out.note = (
            f"bootstrap refused: {failed} of {n_boot} resamples have no finite Bradley-Terry fit (a battle model "
            "won or lost every battle drawn); more battles per model are needed"
        )
        return out
    h_reps, m_reps = np.array(human_reps), np.array(model_reps)
    model_iv, human_iv = _intervals(m_reps), _intervals(h_reps)
    out.separability = separability(model_iv)
    out.confidence_agreement, out.n_human_separated_pairs = confidence_agreement(model_iv, human_iv)
    out.brier = brier(m_reps, truth)
    if out.n_human_separated_pairs == 0:
        out.note = "confidence agreement: no pair of battle models is separated by the human votes' intervals"
    return out


def _verdict(row: dict[str, Any]) -> float | None:
    """The reward model's outcome for model_a (1 won, 0 lost, ½ tie); None when the record failed to score."""
    position = row["chosen_position"]
    if row["kind"] == "judge" and row.get("judge_credit") is not None:
        chosen = float(row["judge_credit"])  # the chosen response's credit: 1 won, 0 lost, ½ undecided
        return 1.0 - chosen if position == 1 else chosen
    c, r = row["score_chosen"], row["score_rejected"]
    if c is None or r is None:
        return None
    first, second = (r, c) if position == 1 else (c, r)  # response_1 is model_a's
    return 1.0 if first > second else 0.0 if first < second else 0.5


_HUMAN = {"model_a": 1.0, "model_b": 0.0, "tie": 0.5, "tie (bothbad)": 0.5}


def ranking_rows(
    con: Any, benchmark: str = "ppe-human", *, n_boot: int = DEFAULT_N_BOOT, seed: int = DEFAULT_SEED
) -> list[Ranking]:
    """Every model's :class:`Ranking` over its latest PPE human preference records (``ppe_battles`` query).
    Records without the battle metadata (written before the examples kept it) cannot be ranked: an error."""
    from orchestrator.errors import QueryError
    from orchestrator.query.db import stored_query

    rows = stored_query(con, "ppe_battles", benchmark=benchmark).to_pylist()
    by_model: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        by_model.setdefault(r["model"], []).append(r)
    out = []
    for model, recs in by_model.items():
        missing = [
            r["row_index"]
            for r in recs
            if r["model_a"] is None or r["model_b"] is None or r["winner"] is None
        ]
        if missing:
            raise QueryError(
                f"{benchmark}: model {model!r}: {len(missing)} record(s) (first row {missing[0]}) have no battle "
                "metadata (model_a, model_b, winner) in the examples table; score the benchmark again with this "
                "release to rank the battle models"
            )
        unknown = sorted({r["winner"] for r in recs} - set(_HUMAN))
        if unknown:
            raise QueryError(f"{benchmark}: model {model!r}: unknown winner value(s) {unknown}")
        verdicts = [_verdict(r) for r in recs]
        failed = sum(v is None for v in verdicts)
        human = Battles.from_rows(
            [r["model_a"] for r in recs], [r["model_b"] for r in recs], [_HUMAN[r["winner"]] for r in recs]
        )
        mine = np.array([0.5 if v is None else v for v in verdicts])
        out.append(
            rank_metrics(model, recs[0]["kind"], human, mine, n_boot=n_boot, seed=seed, n_failed=failed)
        )
    return out


__all__ = [
    "Battles",
    "Ranking",
    "bt_ratings",
    "spearman",
    "kendall_tau_b",
    "separability",
    "confidence_agreement",
    "brier",
    "rank_metrics",
    "ranking_rows",
    "MIN_BATTLE_MODELS",
]
