"""Judge records in the SQL views: a pairwise judge's unparseable verdict is worth 0.5, judge health columns."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from orchestrator.query.db import connect, leaderboard, run_query
from orchestrator.results.records import SCHEMA_VERSION, make_table, write_manifest, write_shard


def _out(target, order, parsed, text="t", sample=0):
    return {"target": target, "order": order, "sample": sample, "text": text, "parsed": parsed}


def _write(root, model, kind, rows):
    n = len(rows)
    cols = {
        k: [r.get(k) for r in rows]
        for k in (
            "score_chosen",
            "score_rejected",
            "correct",
            "judge_outputs",
            "parse_failures",
            "position_consistent",
        )
    }
    table = make_table(
        {
            "schema_version": [SCHEMA_VERSION] * n,
            "run_id": ["r1"] * n,
            "benchmark": ["reward-bench"] * n,
            "model": [model] * n,
            "kind": [kind] * n,
            "subset": ["alpacaeval-easy"] * n,
            "example_id": list(range(n)),
            "row_index": list(range(n)),
            "shard": [0] * n,
            "prompt": ["p"] * n,
            "chosen": ["c"] * n,
            "rejected": ["r"] * n,
            **cols,
        }
    )
    write_shard(root, table, benchmark="reward-bench", model=model, run_id="r1", shard=0)
    return {"model": model, "benchmark": "reward-bench", "kind": kind, "status": "ok", "n_records": n}


@pytest.fixture()
def store(tmp_path):
    def pair(credit, outs, consistent):
        return {
            "score_chosen": credit,
            "score_rejected": 1 - credit,
            "correct": credit == 1.0,
            "judge_outputs": outs,
            "parse_failures": sum(o["parsed"] is None for o in outs),
            "position_consistent": consistent,
        }

    pairwise = [
        pair(1.0, [_out("pair", "AB", 1.0), _out("pair", "BA", 1.0)], True),
        pair(0.5, [_out("pair", "AB", 1.0), _out("pair", "BA", 0.0)], False),
        pair(0.5, [_out("pair", "AB", None), _out("pair", "BA", 1.0)], None),
        pair(0.0, [_out("pair", "AB", 0.0), _out("pair", "BA", 0.0)], True),
    ]
    rubric = [
        {
            "score_chosen": 4.0,
            "score_rejected": 2.0,
            "correct": True,
            "parse_failures": 0,
            "judge_outputs": [_out("chosen", None, 4.0), _out("rejected", None, 2.0)],
        },
        {
            "score_chosen": 3.0,
            "score_rejected": 3.0,
            "correct": False,
            "parse_failures": 0,
            "judge_outputs": [_out("chosen", None, 3.0), _out("rejected", None, 3.0)],
        },
        {
            "score_chosen": None,
            "score_rejected": 1.0,
            "correct": False,
            "parse_failures": 1,
            "judge_outputs": [_out("chosen", None, None), _out("rejected", None, 1.0)],
        },
        {
            "score_chosen": 5.0,
            "score_rejected": None,
            "correct": False,
            "parse_failures": 1,
            "judge_outputs": [_out("chosen", None, 5.0), _out("rejected", None, None)],
        },
    ]
    classifier = [
        {"score_chosen": 0.5, "score_rejected": 0.5, "correct": False},
        {"score_chosen": 2.0, "score_rejected": 1.0, "correct": True},
    ]
    entries = [
        _write(tmp_path, "pj", "judge", pairwise),
        _write(tmp_path, "rj", "judge", rubric),
        _write(tmp_path, "cls", "classifier", classifier),
    ]
    write_manifest(
        tmp_path,
        {"run_id": "r1", "job": "synthetic", "started_at": "2026-01-01T00:00:00+00:00", "models": entries},
    )
    return tmp_path


def test_points_win_credit_for_pairwise_judges_only(store):
    con = connect(store)
    acc = {
        r["model"]: r["accuracy"]
        for r in run_query(con, "SELECT model, accuracy FROM subset_accuracy").to_pylist()
    }
    assert acc == {"pj": (1 + 0.5 + 0.5 + 0) / 4, "rj": 1 / 4, "cls": 1 / 2}  # a classifier's tie stays wrong
    points = (
        run_query(con, "SELECT points FROM record_points WHERE model = 'pj' ORDER BY example_id")
        .column(0)
        .to_pylist()
    )
    assert points == [1.0, 0.5, 0.5, 0.0]


def test_judge_stats_and_leaderboard_columns(store):
    con = connect(store)
    stats = {r["model"]: r for r in run_query(con, "SELECT * FROM judge_stats").to_pylist()}
    assert set(stats) == {"pj", "rj"}
    assert stats["pj"]["pairwise"] and not stats["rj"]["pairwise"]
    assert stats["pj"]["n_outputs"] == 8 and stats["pj"]["parse_failure_rate"] == 1 / 8
    assert stats["pj"]["position_consistency"] == 2 / 3 and stats["pj"]["n_position_checked"] == 3
    assert stats["rj"]["parse_failure_rate"] == 2 / 8 and stats["rj"]["position_consistency"] is None
    view = {r["model"]: r for r in run_query(con, "SELECT * FROM leaderboard").to_pylist()}
    cols = run_query(con, "SELECT * FROM leaderboard LIMIT 0").column_names
    assert cols[:3] == ["model", "kind", "benchmark"] and cols[-6:] == [
        "run_id",
        "parse_failure_rate",
        "position_consistency",
        "sample_alpha",
        "member_alpha",
        "primary_parse_failure_rate",
    ]
    assert view["pj"]["parse_failure_rate"] == 1 / 8 and view["cls"]["parse_failure_rate"] is None
    # no fallback parser: the rate before it is the rate after it
    assert (
        view["pj"]["primary_parse_failure_rate"] == 1 / 8
        and view["cls"]["primary_parse_failure_rate"] is None
    )
    rows = {r["model"]: r for r in leaderboard(store)}
    assert rows["pj"]["position_consistency"] == 2 / 3 and rows["cls"]["position_consistency"] is None


def test_cli_leaderboard_shows_judge_columns(store):
    from orchestrator.cli import app

    result = CliRunner().invoke(app, ["leaderboard", "--results", str(store), "--format", "json"])
    assert result.exit_code == 0, result.output
    rows = {r["model"]: r for r in json.loads(result.output)}
    assert rows["pj"]["parse_failure_rate"] == 1 / 8 and rows["rj"]["kind"] == "judge"
    table = CliRunner().invoke(app, ["leaderboard", "--results", str(store), "--format", "csv"])
    header = table.output.splitlines()[0].split(",")
    assert (
        header[:2] == ["model", "kind"]
        and "parse_failure_rate" in header
        and "position_consistency" in header
    )


def test_ci_refuses_pairwise_judge_points(store):
    from orchestrator.cli import app

    result = CliRunner().invoke(app, ["leaderboard", "--results", str(store), "--ci", "--n-boot", "10"])
    assert result.exit_code == 2 and "pairwise-judge" in result.output


def test_compacted_subset_totals_give_the_same_judge_views(store):
    """Compaction's per-run totals feed subset_accuracy; the judge views read only partitions with judges."""
    from tests._synth import assert_totals_exact

    counts = assert_totals_exact(store)
    assert counts["judge_stats"] > 0 and counts["leaderboard"] > 0
