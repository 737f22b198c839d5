"""Bootstrap p-values and CIs are refused below MIN_RESAMPLING_UNITS, and the verdict says so."""

from __future__ import annotations

import json
import math

from orchestrator.query.compare import compare_models
from orchestrator.query.db import connect
from orchestrator.query.stats import MIN_RESAMPLING_UNITS, leaderboard_cis, verdict
from tests._synth import bools, write_run
from tests.query.test_compare import _cli


def test_two_examples_never_give_a_bootstrap_p(tmp_path):
    # the reproduced case: one example per subset, a right on both, b wrong on both
    write_run(
        tmp_path,
        "20260101T000000Z-a",
        {
            "a": {"alpacaeval-easy": [True], "donotanswer": [True]},
            "b": {"alpacaeval-easy": [False], "donotanswer": [False]},
        },
    )
    comp = compare_models(connect(tmp_path), "a", "b")
    assert math.isnan(comp.overall.p) and "2 resampling unit(s)" in comp.overall.note
    text = verdict(comp, "a", "b", n_boot=2000)
    assert "better overall" not in text
    assert text.startswith(
        "overall not tested: bootstrap refused: 2 resampling unit(s) (prompts), fewer than the 20"
    )
    assert "exact McNemar over all 2 pairs: p = 0.5" in text
    out = _cli("compare", "a", "b", "--results", str(tmp_path), "--format", "json")
    assert out.returncode == 0, out.stderr
    assert "overall not tested" in json.loads(out.stdout)["verdict"]


def test_enough_units_still_get_a_p_value(tmp_path):
    n = MIN_RESAMPLING_UNITS
    write_run(
        tmp_path,
        "20260101T000000Z-a",
        {"a": {"donotanswer": bools(n, n)}, "b": {"donotanswer": bools(0, n)}},
    )
    comp = compare_models(connect(tmp_path), "a", "b")
    assert comp.overall.note is None and comp.overall.p < 0.001
    assert "a better overall" in verdict(comp, "a", "b", n_boot=2000)


def test_leaderboard_cis_are_nan_with_a_note_below_the_minimum(tmp_path):
    write_run(
        tmp_path, "20260101T000000Z-a", {"a": {"alpacaeval-easy": bools(3, 5), "donotanswer": bools(30, 40)}}
    )
    cis = leaderboard_cis(connect(tmp_path))["a"]
    chat = cis.subsets["alpacaeval-easy"]
    assert (
        math.isnan(chat.low) and math.isnan(chat.high) and chat.score == 0.6 and "5 resampling" in chat.note
    )
    safety = cis.subsets["donotanswer"]
    assert safety.note is None and safety.low < 0.75 < safety.high
    assert cis.overall.note is None  # 45 units over both
