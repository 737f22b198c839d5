"""`rayward demo` as a user runs it, checked per example against the reference implementation.

The fixtures in tests/fixtures/reference were produced by rewardbench 0.1.4's scripts/run_rm.py
(see perf/reference/) on the same deterministic tiny models over the full v1 split.
"""

import hashlib
import json
import os
import re
import subprocess
import sys

import numpy as np
import pyarrow.parquet as pq
import pytest

from tests.conftest import FIXTURES, REPO

pytestmark = pytest.mark.slow


def _rayward(*args, cwd=REPO):
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "COLUMNS": "200"}
    return subprocess.run(
        [sys.executable, "-m", "orchestrator.cli", *args], cwd=cwd, env=env, capture_output=True, text=True
    )


@pytest.fixture(scope="module")
def demo_results(tmp_path_factory, filtered_path):
    results = tmp_path_factory.mktemp("demo") / "results"
    out = _rayward("demo", "--results", str(results))
    assert out.returncode == 0, out.stderr[-3000:]
    return results, out


def test_demo_prints_leaderboard(demo_results):
    _, out = demo_results
    assert "leaderboard" in out.stdout
    assert "tiny-rm-b" in out.stdout and "Chat Hard" in out.stdout


@pytest.mark.parametrize("model", ["tiny-rm", "tiny-rm-b"])
def test_records_match_reference_per_example(demo_results, model):
    results, _ = demo_results
    summary = json.loads((FIXTURES / "reference" / f"{model}.rewardbench-0.1.4.summary.json").read_text())
    weights = (REPO / "models" / model / "model.safetensors").read_bytes()
    assert hashlib.sha256(weights).hexdigest() == summary["weights_sha256"], (
        "tiny model build is not the reference's"
    )
    ref = (
        pq.read_table(FIXTURES / "reference" / f"{model}.rewardbench-0.1.4.parquet")
        .sort_by("row_index")
        .to_pydict()
    )
    out = _rayward(
        "sql",
        f"SELECT row_index, subset, example_id, score_chosen, score_rejected, correct FROM latest_records "
        f"WHERE model = '{model}' ORDER BY row_index",
        "--results",
        str(results),
        "--format",
        "json",
    )
    assert out.returncode == 0, out.stderr
    ours = json.loads(out.stdout)
    assert [r["row_index"] for r in ours] == ref["row_index"] == list(range(2985))
    assert [r["subset"] for r in ours] == ref["subset"]
    assert [r["example_id"] for r in ours] == ref["id"]
    np.testing.assert_allclose([r["score_chosen"] for r in ours], ref["score_chosen"], atol=1e-4, rtol=1e-4)
    np.testing.assert_allclose(
        [r["score_rejected"] for r in ours], ref["score_rejected"], atol=1e-4, rtol=1e-4
    )
    assert [int(r["correct"]) for r in ours] == ref["result"]


def test_leaderboard_json_matches_reference_sections(demo_results):
    results, _ = demo_results
    out = _rayward("leaderboard", "--results", str(results), "--format", "json")
    assert out.returncode == 0, out.stderr
    rows = {r["model"]: r for r in json.loads(out.stdout)}
    for model in ("tiny-rm", "tiny-rm-b"):
        ref = json.loads((FIXTURES / "reference" / f"{model}.rewardbench-0.1.4.summary.json").read_text())[
            "sections"
        ]
        for section in ("Chat", "Chat Hard", "Safety", "Reasoning"):
            assert rows[model][section] == pytest.approx(ref[section], abs=1e-12)
            assert 0.0 <= rows[model][section] <= 1.0
        assert rows[model]["score"] == pytest.approx(sum(ref.values()) / 4, abs=1e-12)


def test_leaderboard_formats_and_by_subset(demo_results):
    results, _ = demo_results
    csv_out = _rayward("leaderboard", "--results", str(results), "--format", "csv")
    assert csv_out.stdout.splitlines()[0] == "model,kind,Chat,Chat Hard,Safety,Reasoning,score"
    md = _rayward("leaderboard", "--results", str(results), "--format", "markdown")
    assert md.stdout.startswith("| model | kind | Chat |")
    sub = _rayward("leaderboard", "--results", str(results), "--by", "subset", "--format", "json")
    rows = json.loads(sub.stdout)
    assert len(rows) == 2 and len(rows[0]) == 24  # model + 23 subsets


@pytest.mark.parametrize(
    "name",
    [
        "refusals",
        "refusal-prompts",
        "reasoning",
        "length",
        "length-category",
        "length-correlation",
        "instruction",
        "families",
        "size",
    ],
)
def test_every_analysis_runs_on_demo_results(demo_results, name):
    results, _ = demo_results
    out = _rayward("analyze", name, "--results", str(results), "--format", "json")
    assert out.returncode == 0, out.stderr[-2000:]
    rows = json.loads(out.stdout)
    assert rows, f"analysis {name} returned no rows on the demo results"
    if name in ("refusals", "reasoning", "instruction", "size"):
        assert {r["model"] for r in rows} == {"tiny-rm", "tiny-rm-b"}
    if name == "families":
        assert rows == [rows[0]] and rows[0]["kind"] == "classifier" and rows[0]["n_models"] == 2


def test_refusal_analysis_agrees_with_records(demo_results):
    """The refusal view's comply accuracy is xstest-should-respond's accuracy (checked against raw records)."""
    results, _ = demo_results
    rows = {
        r["model"]: r
        for r in json.loads(
            _rayward("analyze", "refusals", "--results", str(results), "--format", "json").stdout
        )
    }
    sub = json.loads(
        _rayward(
            "sql",
            "SELECT model, avg(correct::INT) AS acc FROM latest_records WHERE subset = 'xstest-should-respond' "
            "GROUP BY model",
            "--results",
            str(results),
            "--format",
            "json",
        ).stdout
    )
    for r in sub:
        comply = [v for k, v in rows[r["model"]].items() if k.startswith("comply") and "acc" in k]
        assert comply and comply[0] == pytest.approx(r["acc"])


def test_report_and_compare_on_demo_results(demo_results, tmp_path):
    results, _ = demo_results
    out = _rayward("report", "--results", str(results), "--out", str(tmp_path / "r.html"))
    assert out.returncode == 0, out.stderr[-2000:]
    html = (tmp_path / "r.html").read_text()
    assert "tiny-rm-b" in html and "<script" in html
    assert re.search(r"<script[^>]*\bsrc=", html) is None  # every script inlined: viewable offline
    cmp = _rayward("compare", "tiny-rm", "tiny-rm-b", "--results", str(results))
    assert cmp.returncode == 0 and "overall" in cmp.stdout
