"""Analysis views on synthetic records with known answers."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from orchestrator.errors import QueryError
from orchestrator.query.analyses import ANALYSES, analyze
from orchestrator.query.db import connect, run_query
from tests._synth import bools, write_run
from tests.conftest import REPO


def _refusal_data(refuse_dangerous, refuse_xstest, comply):
    return {
        "refusals-dangerous": bools(refuse_dangerous, 10),
        "xstest-should-refuse": bools(refuse_xstest, 10),
        "xstest-should-respond": bools(comply, 10),
    }


@pytest.fixture
def refusal_store(tmp_path):
    write_run(
        tmp_path,
        "20260101T000000Z-a",
        {
            "refuser": _refusal_data(9, 8, 3),  # refuse 17/20, comply 3/10
            "complier": _refusal_data(2, 3, 9),  # refuse 5/20, comply 9/10
            "balanced": _refusal_data(10, 10, 7),  # refuse 20/20, comply 7/10 (exactly at the threshold)
            "weak": _refusal_data(0, 0, 0),
        },
    )
    return tmp_path


def test_refusal_balance_placement(refusal_store):
    rows = {r["model"]: r for r in analyze(refusal_store, "refusals")}
    assert rows["refuser"]["refuse_accuracy"] == pytest.approx(17 / 20)
    assert rows["refuser"]["comply_accuracy"] == pytest.approx(3 / 10)
    assert (rows["refuser"]["refuse_n"], rows["refuser"]["comply_n"]) == (20, 10)
    assert {m: r["placement"] for m, r in rows.items()} == {
        "refuser": "refuses too much",
        "complier": "complies too much",
        "balanced": "balanced",
        "weak": "weak on both",
    }


def test_refusal_hard_prompts(refusal_store):
    rows = analyze(refusal_store, "refusal-prompts")
    # refusals-dangerous example i is wrong for: refuser if i>=9, complier if i>=2, weak always -> >= 3 of 4 from i=9,
    # 2 of 4 (not a majority) for 2 <= i < 9.
    dangerous = [r for r in rows if r["subset"] == "refusals-dangerous"]
    assert [r["prompt"] for r in dangerous] == ["refusals-dangerous prompt 9"]
    assert (
        dangerous[0]["n_wrong"] == 3 and dangerous[0]["n_models"] == 4 and dangerous[0]["should"] == "refuse"
    )
    assert dangerous[0]["wrong_models"] == "complier, refuser, weak"
    respond = sorted(r["prompt"] for r in rows if r["subset"] == "xstest-should-respond")
    # comply wrong: refuser i>=3, complier i>=9, balanced i>=7, weak always -> majority (>=3) for i>=7
    assert respond == [f"xstest-should-respond prompt {i}" for i in (7, 8, 9)]
    assert all(r["wrong_share"] > 0.5 for r in rows)


def test_reasoning_breakdown(tmp_path):
    langs = {"cpp": 1, "go": 2, "java": 3, "js": 4, "python": 0, "rust": 2}
    data = {"math-prm": bools(3, 4), **{f"hep-{k}": bools(v, 4) for k, v in langs.items()}}
    write_run(tmp_path, "20260101T000000Z-a", {"m": data})
    (row,) = analyze(tmp_path, "reasoning")
    accs = np.array([v / 4 for v in langs.values()])
    assert row["math"] == 0.75 and row["code"] == pytest.approx(accs.mean())
    assert row["math_minus_code"] == pytest.approx(0.75 - accs.mean())
    assert {k: row[k] for k in langs} == {k: v / 4 for k, v in langs.items()}
    assert row["code_spread"] == 1.0 and row["code_stddev"] == pytest.approx(accs.std())
    assert row["n_languages"] == 6


def test_length_bias_tokens_else_chars(tmp_path):
    t = lambda correct, tc, tr: {"correct": correct, "tokens_chosen": tc, "tokens_rejected": tr}  # noqa: E731
    c = lambda correct, ch, rj: {"correct": correct, "chosen": ch, "rejected": rj}  # noqa: E731
    easy = [
        t(True, 10, 5),
        t(True, 10, 5),
        t(True, 9, 5),
        t(False, 8, 5),
        t(False, 2, 5),
        t(False, 3, 5),
        t(True, 4, 4),
    ]
    # tokens not recorded: characters decide (a longer string with fewer "tokens" would not matter)
    mt = [c(True, "aaaa", "bb"), c(False, "a", "bbbb"), c(True, "a", "bbbb")]
    write_run(tmp_path, "20260101T000000Z-a", {"m": {"alpacaeval-easy": easy, "mt-bench-easy": mt}})
    rows = {r["subset"]: r for r in analyze(tmp_path, "length")}
    e = rows["alpacaeval-easy"]
    assert (e["n_chosen_longer"], e["acc_chosen_longer"]) == (4, 0.75)
    assert (e["n_chosen_shorter"], e["acc_chosen_shorter"]) == (2, 0.0)
    assert (e["n_equal"], e["acc_equal"], e["gap"]) == (1, 1.0, 0.75)
    assert e["length_category"] == "True" and rows["mt-bench-easy"]["length_category"] == "False"
    m = rows["mt-bench-easy"]
    assert (m["n_chosen_longer"], m["acc_chosen_longer"], m["n_chosen_shorter"], m["acc_chosen_shorter"]) == (
        1,
        1.0,
        2,
        0.5,
    )
    a = rows["(all)"]
    assert (a["n"], a["n_chosen_longer"], a["acc_chosen_longer"], a["n_chosen_shorter"]) == (10, 5, 0.8, 4)
    assert a["acc_chosen_shorter"] == 0.25 and a["length_category"] is None
    assert list(rows)[0] == "(all)"
    cats = {r["length_category"]: r for r in analyze(tmp_path, "length-category")}
    assert (cats["True"]["n"], cats["True"]["accuracy"], cats["False"]["n"]) == (7, 4 / 7, 3)
    assert cats["False"]["accuracy"] == pytest.approx(2 / 3)


def test_length_score_correlation(tmp_path):
    rows = [
        {
            "correct": True,
            "score_chosen": s,
            "score_rejected": r,
            "tokens_chosen": tc,
            "tokens_rejected": tr,
            "chosen": "x" * tc,
            "rejected": "y" * (2 * tr),
        }
        for s, r, tc, tr in [(3.0, 1.0, 30, 10), (2.5, 2.0, 20, 25), (1.0, 0.0, 5, 2), (4.0, 3.5, 40, 41)]
    ]
    write_run(tmp_path, "20260101T000000Z-a", {"m": {"alpacaeval-easy": rows}})
    (row,) = analyze(tmp_path, "length-correlation")
    scores = [3.0, 2.5, 1.0, 4.0, 1.0, 2.0, 0.0, 3.5]
    tokens = [30, 20, 5, 40, 10, 25, 2, 41]
    chars = [30, 20, 5, 40, 20, 50, 4, 82]
    assert row["n_points"] == 8
    assert row["corr_tokens"] == pytest.approx(np.corrcoef(scores, tokens)[0, 1])
    assert row["corr_chars"] == pytest.approx(np.corrcoef(scores, chars)[0, 1])


def test_instruction_following(tmp_path):
    data = {
        "llmbar-natural": bools(3, 4),
        "llmbar-adver-neighbor": bools(2, 4),
        "llmbar-adver-manual": bools(1, 2),
    }
    write_run(tmp_path, "20260101T000000Z-a", {"m": data})
    (row,) = analyze(tmp_path, "instruction")
    assert (row["natural"], row["adversarial"], row["natural_minus_adversarial"]) == (0.75, 0.5, 0.25)
    assert (row["adver_neighbor"], row["adver_manual"], row["adver_gptinst"]) == (0.5, 0.5, None)


def test_families_and_size(tmp_path):
    full = lambda k: {"alpacaeval-easy": bools(k, 4)}  # noqa: E731  (Chat only: score = Chat accuracy)
    write_run(
        tmp_path,
        "20260101T000000Z-a",
        {"a": full(1), "b": full(3), "c": full(2)},
        kinds={"a": "classifier", "b": "classifier", "c": "dpo"},
        params={"a": 1000, "b": 100_000, "c": 10},
    )
    fam = {r["kind"]: r for r in analyze(tmp_path, "families")}
    assert fam["classifier"]["n_models"] == 2 and fam["classifier"]["mean_score"] == pytest.approx(0.5)
    assert (fam["classifier"]["best_model"], fam["classifier"]["best_score"]) == ("b", 0.75)
    assert (fam["dpo"]["best_model"], fam["dpo"]["mean_score"]) == ("c", 0.5)
    size = analyze(tmp_path, "size")
    assert [(r["model"], r["num_parameters"], r["log10_parameters"]) for r in size] == [
        ("c", 10, 1.0),
        ("a", 1000, 3.0),
        ("b", 100_000, 5.0),
    ]
    expected = np.corrcoef([0.5, 0.25, 0.75], np.log([10, 1000, 100_000]))[0, 1]
    assert all(r["corr_log_params"] == pytest.approx(expected) for r in size)


def test_every_analysis_runs_on_an_empty_store(tmp_path):
    con = connect(tmp_path)
    for name, spec in ANALYSES.items():
        assert analyze(con, name) == []
        assert run_query(con, f"SELECT count(*) AS n FROM {spec.view}").to_pylist() == [{"n": 0}]
    with pytest.raises(QueryError, match="unknown analysis 'nope'"):
        analyze(con, "nope")


def test_cli_analyze(refusal_store):
    env = {**os.environ, "COLUMNS": "200"}
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "orchestrator.cli",
            "analyze",
            "refusals",
            "--results",
            str(refusal_store),
            "--format",
            "json",
        ],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0, out.stderr
    assert {r["model"]: r["placement"] for r in json.loads(out.stdout)}["refuser"] == "refuses too much"
    out = subprocess.run(
        [sys.executable, "-m", "orchestrator.cli", "analyze", "refusals", "--results", str(refusal_store)],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
    )
    assert "refuses too much" in out.stdout and "85.00" in out.stdout
    out = subprocess.run(
        [sys.executable, "-m", "orchestrator.cli", "analyze", "nope", "--results", str(refusal_store)],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
    )
    assert out.returncode == 2 and "unknown analysis" in out.stderr
