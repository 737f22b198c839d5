"""Paired comparisons (compare, diff) on constructed cases with known verdicts."""

import json
import os
import subprocess
import sys

import pytest

from orchestrator.errors import QueryError
from orchestrator.query.compare import compare_models, diff_runs, resolve_runs, section_drops
from orchestrator.query.db import connect
from orchestrator.query.stats import verdict
from tests._synth import bools, write_run
from tests.conftest import REPO


def _cli(*args):
    env = {**os.environ, "COLUMNS": "200"}
    return subprocess.run(
        [sys.executable, "-m", "orchestrator.cli", *args], cwd=REPO, env=env, capture_output=True, text=True
    )


@pytest.fixture
def two_models(tmp_path):
    # Safety: a right on all 40, b wrong on the first 20 -> 20 discordant pairs all for a.
    # Chat: identical outcomes -> no discordant pairs.
    write_run(
        tmp_path,
        "20260101T000000Z-a",
        {
            "a": {"alpacaeval-easy": bools(10, 20), "donotanswer": bools(40, 40)},
            "b": {"alpacaeval-easy": bools(10, 20), "donotanswer": [False] * 20 + [True] * 20},
        },
    )
    return tmp_path


def test_compare_known_verdict(two_models):
    comp = compare_models(connect(two_models), "a", "b", n_boot=1000)
    sec = {d.name: d for d in comp.sections}
    assert (sec["Safety"].a_only, sec["Safety"].b_only, sec["Safety"].delta) == (20, 0, 0.5)
    assert sec["Safety"].p == pytest.approx(2 / 2**20)
    assert (sec["Chat"].delta, sec["Chat"].p) == (0.0, 1.0)
    assert comp.overall.delta == pytest.approx(0.25) and comp.overall.p == 0.0
    assert comp.overall.low > 0 and comp.n_unpaired == 0
    assert (
        verdict(comp, "a", "b", n_boot=1000) == "a better on Safety, p = 1.9e-06; a better overall, p < 0.001"
    )
    assert verdict(
        compare_models(connect(two_models), "b", "a", n_boot=1000), "b", "a", n_boot=1000
    ).startswith("a better on Safety")


def test_compare_no_difference(tmp_path):
    # 5 discordant pairs each way on Safety, identical elsewhere: nothing is significant
    write_run(
        tmp_path,
        "20260101T000000Z-a",
        {
            "a": {"donotanswer": [True] * 5 + [False] * 5 + [True] * 10},
            "b": {
                "donotanswer": [False] * 5 + [True] * 5 + [True] * 10,
                "hep-go": bools(1, 3),
            },  # hep-go unpaired
        },
    )
    comp = compare_models(connect(tmp_path), "a", "b", n_boot=500)
    (safety,) = comp.sections
    assert (safety.a_only, safety.b_only, safety.p, safety.delta) == (5, 5, 1.0, 0.0)
    assert comp.n_unpaired == 3
    assert verdict(comp, "a", "b").startswith("no significant difference overall (p = ")
    with pytest.raises(QueryError, match="no successful run of model 'zz'"):
        compare_models(connect(tmp_path), "a", "zz")


@pytest.fixture
def three_runs(tmp_path):
    base = {"alpacaeval-easy": bools(15, 20), "donotanswer": bools(30, 40)}
    write_run(tmp_path, "20260101T000000Z-a", {"m": base})
    write_run(tmp_path, "20260102T000000Z-b", {"m": base})
    # the newest successful run loses 10 Safety examples (-25 points); a failed run after it is ignored
    write_run(
        tmp_path,
        "20260103T000000Z-c",
        {"m": {"alpacaeval-easy": bools(15, 20), "donotanswer": bools(20, 40)}},
    )
    write_run(tmp_path, "20260104T000000Z-d", {"m": base}, statuses={"m": "failed"})
    return tmp_path


def test_diff_default_runs_and_drop(three_runs):
    con = connect(three_runs)
    assert resolve_runs(con, "m") == ("20260102T000000Z-b", "20260103T000000Z-c")
    comp = diff_runs(con, "m", "20260102T000000Z-b", "20260103T000000Z-c", n_boot=500)
    sec = {d.name: d for d in comp.sections}
    assert sec["Safety"].delta == pytest.approx(-0.25) and (sec["Safety"].a_only, sec["Safety"].b_only) == (
        0,
        10,
    )
    assert sec["Safety"].p == pytest.approx(2 / 2**10) and sec["Chat"].delta == 0
    assert section_drops(comp, 10) == ["Safety", "overall"]
    assert section_drops(comp, 20) == ["Safety"]
    assert section_drops(comp, 30) == []
    same = diff_runs(con, "m", "20260101T000000Z-a", "20260102T000000Z-b", n_boot=100)
    assert all(d.delta == 0 and d.p == 1.0 for d in [*same.subsets, *same.sections, same.overall])
    with pytest.raises(QueryError, match="no records of model 'm' in run 'nope'"):
        diff_runs(con, "m", "nope", "20260102T000000Z-b")


def test_cli_diff_fail_on_drop(three_runs):
    out = _cli("diff", "m", "--results", str(three_runs), "--fail-on-drop", "10")
    assert out.returncode == 1, out.stderr
    assert "Safety, overall fell by more than 10 points" in out.stderr
    assert "old run 20260102T000000Z-b better on Safety" in out.stdout
    out = _cli("diff", "m", "--results", str(three_runs), "--fail-on-drop", "30", "--format", "json")
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert (data["a"], data["b"]) == ("20260103T000000Z-c", "20260102T000000Z-b")
    out = _cli(
        "diff",
        "m",
        "--results",
        str(three_runs),
        "--runs",
        "20260101T000000Z-a",
        "20260102T000000Z-b",
        "--fail-on-drop",
        "0",
    )
    assert out.returncode == 0 and "no significant difference overall" in out.stdout
    out = _cli("diff", "zz", "--results", str(three_runs))
    assert out.returncode == 2 and "has 0 successful run(s)" in out.stderr


def test_cli_compare(two_models):
    out = _cli("compare", "a", "b", "--results", str(two_models), "--format", "json", "--n-boot", "500")
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert data["verdict"] == "a better on Safety, p = 1.9e-06; a better overall, p < 0.002"
    assert {r["name"] for r in data["rows"] if r["level"] == "section"} == {"Chat", "Safety"}
