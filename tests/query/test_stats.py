"""Bootstrap CIs against a brute-force recomputation, and the exact McNemar test."""

import math

import numpy as np
import pytest

from orchestrator.query.db import connect, leaderboard
from orchestrator.query.stats import Weights, bootstrap_scores, leaderboard_cis, mcnemar_exact
from tests._synth import bools, write_run


def _weights_from_store(tmp_path):
    from orchestrator.query.db import stored_query

    return Weights.from_rows(
        stored_query(connect(tmp_path), "stats_weights", benchmark="reward-bench").to_pylist()
    )


def _brute_force(rows, weights, n_boot, seed, level=0.95):
    """The documented scheme, written with plain loops: same rng draws, no vectorisation."""
    rng = np.random.default_rng(seed)
    subsets = sorted({r["subset"] for r in rows})
    clusters = {}
    for s in subsets:
        by_prompt = {}
        for r in rows:
            if r["subset"] == s:
                by_prompt.setdefault(r["prompt"], []).append(int(r["correct"]))
        clusters[s] = list(by_prompt.values())
    draws = {s: rng.integers(0, len(clusters[s]), size=(n_boot, len(clusters[s]))) for s in subsets}
    overall_reps, section_reps = [], {}
    for b in range(n_boot):
        acc = {}
        for s in subsets:
            picked = [clusters[s][j] for j in draws[s][b]]
            acc[s] = sum(sum(c) for c in picked) / sum(len(c) for c in picked)
        secs = {}
        for s, a in acc.items():
            sec = weights.subset_section[s]
            num, den = secs.get(sec, (0.0, 0.0))
            secs[sec] = (num + a * weights.subset_weight[s], den + weights.subset_weight[s])
        sec_scores = {k: n / d for k, (n, d) in secs.items()}
        for k, v in sec_scores.items():
            section_reps.setdefault(k, []).append(v)
        overall_reps.append(
            sum(v * weights.section_weight[k] for k, v in sec_scores.items())
            / sum(weights.section_weight[k] for k in sec_scores)
        )
    q = [100 * (1 - level) / 2, 100 * (1 + level) / 2]
    return {k: list(np.percentile(v, q)) for k, v in section_reps.items()}, list(
        np.percentile(overall_reps, q)
    )


def _rows():
    # math-prm: 3 prompts with several rows each (clusters); hep-go: one row per prompt; a Chat subset
    rows = []
    for p, outcomes in enumerate([[1, 1, 0], [0], [1, 0]]):
        rows += [{"subset": "math-prm", "prompt": f"m{p}", "correct": bool(c)} for c in outcomes]
    rows += [
        {"subset": "hep-go", "prompt": f"g{i}", "correct": c} for i, c in enumerate([True, False, True, True])
    ]
    rows += [
        {"subset": "alpacaeval-easy", "prompt": f"a{i}", "correct": c}
        for i, c in enumerate([True, False, False])
    ]
    return rows


def test_bootstrap_matches_brute_force(tmp_path):
    weights = _weights_from_store(tmp_path)
    # the resampling itself, draw by draw, on a few rows: the minimum-units refusal is off (min_units=1)
    ci = bootstrap_scores(_rows(), weights, n_boot=300, seed=7, min_units=1)
    sections, overall = _brute_force(_rows(), weights, n_boot=300, seed=7)
    assert [ci.overall.low, ci.overall.high] == pytest.approx(overall, abs=1e-12)
    for name, (low, high) in sections.items():
        assert (ci.sections[name].low, ci.sections[name].high) == pytest.approx((low, high), abs=1e-12)
    # points are the SQL's numbers: math-prm 3/6 weighted 984, hep-go 3/4 weighted 164
    assert ci.subsets["math-prm"].score == 0.5 and ci.subsets["hep-go"].score == 0.75
    assert ci.sections["Reasoning"].score == pytest.approx((0.5 * 984 + 0.75 * 164) / (984 + 164))
    assert ci.overall.score == pytest.approx((ci.sections["Reasoning"].score + 1 / 3) / 2)


def test_bootstrap_is_seeded_and_sane(tmp_path):
    weights = _weights_from_store(tmp_path)
    a = bootstrap_scores(_rows(), weights, n_boot=500, seed=1, min_units=1)
    assert a == bootstrap_scores(_rows(), weights, n_boot=500, seed=1, min_units=1)
    assert a != bootstrap_scores(_rows(), weights, n_boot=500, seed=2, min_units=1)
    for iv in [*a.subsets.values(), *a.sections.values(), a.overall]:
        assert 0 <= iv.low <= iv.high <= 1
    # a subset that is all right has a zero-width interval
    rows = [{"subset": "hep-go", "prompt": str(i), "correct": True} for i in range(5)]
    ci = bootstrap_scores(rows, weights, n_boot=50, min_units=1)
    assert (ci.subsets["hep-go"].low, ci.subsets["hep-go"].high) == (1.0, 1.0)


def test_leaderboard_cis_use_sql_scores(tmp_path):
    write_run(
        tmp_path,
        "20260101T000000Z-a",
        {
            "m": {
                "alpacaeval-easy": bools(30, 40),
                "hep-go": bools(10, 40),
                "math-prm": bools(20, 40),
                "donotanswer": bools(5, 40),
            }
        },
    )
    (row,) = leaderboard(tmp_path)
    cis = leaderboard_cis(connect(tmp_path), n_boot=400)["m"]
    for section in ("Chat", "Safety", "Reasoning"):
        assert cis.sections[section].score == pytest.approx(row[section])
        assert cis.sections[section].low < row[section] < cis.sections[section].high
    assert cis.overall.score == pytest.approx(row["score"])


def test_mcnemar_exact():
    assert mcnemar_exact(0, 0) == 1.0
    assert mcnemar_exact(5, 5) == 1.0
    assert mcnemar_exact(10, 0) == pytest.approx(2 / 2**10)
    # brute force: two-sided binomial(n, 1/2) tail
    for b, c in [(3, 12), (12, 3), (7, 9), (20, 5)]:
        n, k = b + c, min(b, c)
        expected = min(1.0, 2 * sum(math.comb(n, i) for i in range(k + 1)) / 2**n)
        assert mcnemar_exact(b, c) == pytest.approx(expected)
    assert mcnemar_exact(3, 12) == pytest.approx(0.03515625)


def test_cli_leaderboard_ci(tmp_path):
    import json
    import os
    import subprocess
    import sys

    from tests.conftest import REPO

    write_run(
        tmp_path, "20260101T000000Z-a", {"m": {"alpacaeval-easy": bools(30, 40), "donotanswer": bools(5, 40)}}
    )
    env = {**os.environ, "COLUMNS": "200"}
    base = [
        sys.executable,
        "-m",
        "orchestrator.cli",
        "leaderboard",
        "--results",
        str(tmp_path),
        "--ci",
        "--n-boot",
        "300",
    ]
    out = subprocess.run([*base, "--format", "json"], cwd=REPO, env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    (row,) = json.loads(out.stdout)
    ci = leaderboard_cis(connect(tmp_path), n_boot=300)["m"]
    assert (row["Chat"], row["Chat_low"], row["Chat_high"]) == (
        0.75,
        ci.sections["Chat"].low,
        ci.sections["Chat"].high,
    )
    assert (row["score_low"], row["score_high"]) == (ci.overall.low, ci.overall.high)
    out = subprocess.run([*base, "--by", "subset"], cwd=REPO, env=env, capture_output=True, text=True)
    low, high = ci.subsets["donotanswer"].low, ci.subsets["donotanswer"].high
    assert f"12.50 [{100 * low:.1f}, {100 * high:.1f}]" in out.stdout
