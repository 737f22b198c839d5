"""after_run: leaderboard files and the regression check against each model's previous successful run."""

import csv
import json

import pytest

from orchestrator.config import AfterRun, JobConfig
from orchestrator.errors import ConfigError
from orchestrator.outputs.after_run import (
    REGRESSION_EXIT_CODE,
    after_run,
    check_regressions,
    write_leaderboards,
)
from orchestrator.query.db import leaderboard
from tests._synth import bools, write_run

OLD, NEW = "20260101T000000000Z-aaaaaa", "20260102T000000000Z-bbbbbb"


@pytest.fixture
def two_nights(tmp_path):
    root = tmp_path / "r"
    write_run(
        root,
        OLD,
        {
            "m": {"alpacaeval-easy": bools(10, 10), "hep-go": bools(4, 4)},
            "steady": {"alpacaeval-easy": bools(5, 10)},
        },
    )
    write_run(
        root,
        NEW,
        {
            "m": {"alpacaeval-easy": bools(8, 10), "hep-go": bools(4, 4)},
            "steady": {"alpacaeval-easy": bools(5, 10)},
            "newcomer": {"alpacaeval-easy": bools(1, 10)},
        },
    )
    return root


def test_regression_names_model_section_and_scores(two_nights):
    report = check_regressions(
        two_nights,
        NEW,
        [("m", "reward-bench"), ("steady", "reward-bench"), ("newcomer", "reward-bench")],
        max_drop_points=15,
    )
    assert sorted(c[0] for c in report.compared) == ["m", "steady"]
    assert all(c[2:] == (OLD, NEW) for c in report.compared)
    assert report.skipped == ["newcomer on reward-bench: no previous successful run"]
    (drop,) = (
        report.drops
    )  # Chat fell 20 points; overall (mean of Chat and Reasoning) 10: under the threshold
    assert (drop.model, drop.section, drop.old, drop.new) == ("m", "Chat", 1.0, 0.8)
    assert str(drop) == f"m on reward-bench: Chat 100.00 -> 80.00 (-20.00 points; run {OLD} -> {NEW})"
    lower = check_regressions(two_nights, NEW, [("m", "reward-bench")], max_drop_points=5)
    assert sorted(d.section for d in lower.drops) == ["Chat", "overall"]
    assert check_regressions(two_nights, NEW, [("m", "reward-bench")], max_drop_points=20).drops == []


def test_regression_compares_with_the_run_before_this_one(two_nights):
    """A run checked later (or a newer run by a concurrent driver) is not its own 'previous night'."""
    write_run(two_nights, "20260103T000000000Z-cccccc", {"m": {"alpacaeval-easy": bools(0, 10)}})
    report = check_regressions(two_nights, NEW, [("m", "reward-bench")], max_drop_points=15)
    assert report.compared == [("m", "reward-bench", OLD, NEW)]


def test_leaderboard_files_match_the_leaderboard(two_nights):
    paths = write_leaderboards(two_nights, ["reward-bench"], ["json", "csv"])
    assert [p.relative_to(two_nights).as_posix() for p in paths] == [
        "leaderboards/reward-bench.json",
        "leaderboards/reward-bench.csv",
    ]
    rows = json.loads(paths[0].read_text())
    board = leaderboard(two_nights)
    assert [(r["model"], r["score"], r["run_id"]) for r in rows] == [
        (r["model"], r["score"], r["run_id"]) for r in board
    ]
    with open(paths[1], newline="") as fh:
        table = list(csv.DictReader(fh))
    assert [r["model"] for r in table] == [r["model"] for r in board]
    assert [float(r["score"]) for r in table] == [r["score"] for r in board]


def test_after_run_report_exit_code(two_nights):
    cfg = AfterRun(leaderboard_files=["json"], regression_check={"max_drop_points": 1.0})
    report = after_run(cfg, two_nights, NEW, [("m", "reward-bench")], ["reward-bench"])
    assert report.exit_code == REGRESSION_EXIT_CODE == 3
    assert (two_nights / "leaderboards/reward-bench.json").is_file()
    calm = after_run(
        AfterRun(regression_check={"max_drop_points": 50}),
        two_nights,
        NEW,
        [("m", "reward-bench")],
        ["reward-bench"],
    )
    assert calm.exit_code == 0 and calm.files == []


def test_after_run_config_is_strict():
    base = {"name": "n", "benchmarks": [{"name": "reward-bench"}], "models": [{"name": "m", "path": "p"}]}
    with pytest.raises(ConfigError, match="after_run.regression_check.max_drop: unknown key"):
        JobConfig.from_dict({**base, "after_run": {"regression_check": {"max_drop": 1}}})
    with pytest.raises(
        ConfigError, match="after_run.regression_check.max_drop_points: required key is missing"
    ):
        JobConfig.from_dict({**base, "after_run": {"regression_check": {}}})
    with pytest.raises(ConfigError, match=r"after_run.leaderboard_files\[0\]"):
        JobConfig.from_dict({**base, "after_run": {"leaderboard_files": ["xlsx"]}})
    with pytest.raises(ConfigError, match="max_drop_points"):
        JobConfig.from_dict({**base, "after_run": {"regression_check": {"max_drop_points": -1}}})


def test_shipped_nightly_job_is_valid():
    from orchestrator.config import from_yaml
    from tests.conftest import REPO

    job = from_yaml(REPO / "jobs" / "nightly.yaml")
    assert job.after_run.regression_check.max_drop_points == 1.0
    assert {b.record_name for b in job.benchmarks} == {"reward-bench", "my-prefs"}
    assert not any(m.trust_remote_code for m in job.models)
