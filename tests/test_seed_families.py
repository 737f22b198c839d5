"""The shipped `jobs/seed-families.yaml` end to end: every reward-model family side by side, offline on CPU."""

import math
import os
import subprocess
import sys
from pathlib import Path

import yaml

from tests.conftest import REPO


def _localised_job(tmp_path: Path, filtered_path: Path, tiny_models: dict[str, Path]) -> Path:
    """The shipped job with its model paths pointing at the session's tiny models and its store in tmp."""
    data = yaml.safe_load((REPO / "jobs" / "seed-families.yaml").read_text())
    data["benchmarks"][0]["source"] = str(filtered_path)

    def local(p: str) -> str:
        return str(tiny_models[Path(p).name])

    for model in data["models"]:
        for key in ("path", "reference"):
            if key in model:
                model[key] = local(model[key])
        if "iterations" in model:
            model["iterations"] = [local(p) for p in model["iterations"]]
    data["results"] = str(tmp_path / "results")
    job = tmp_path / "seed-families.yaml"
    job.write_text(yaml.safe_dump(data, sort_keys=False))
    return job


def test_seed_families_job_runs_every_family_side_by_side(tmp_path, filtered_path, tiny_models):
    from orchestrator.query.db import connect

    job = _localised_job(tmp_path, filtered_path, tiny_models)
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "COLUMNS": "200"}
    out = subprocess.run(
        [sys.executable, "-m", "orchestrator.cli", "run", str(job)],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=1200,
    )
    assert out.returncode == 0, out.stdout + out.stderr

    con = connect(tmp_path / "results")
    n_examples = 46  # 2 rows x 23 subsets
    counts = dict(con.execute("SELECT model, count(*) FROM latest_records GROUP BY model").fetchall())
    assert counts == {
        m: n_examples
        for m in (
            "tiny-rm",
            "tiny-dpo",
            "spin@1",
            "spin@2",
            "spin@3",
            "tiny-judge-rubric",
            "tiny-judge-pairwise",
        )
    }

    # the leaderboard holds the three families side by side; judges carry their protocol columns
    board = {
        r[0]: r[1:]
        for r in con.execute(
            "SELECT model, kind, score, parse_failure_rate, position_consistency FROM leaderboard"
        ).fetchall()
    }
    assert {kind for kind, *_ in board.values()} == {"classifier", "dpo", "judge"}
    for model, (kind, score, failure_rate, consistency) in board.items():
        assert 0.0 <= score <= 1.0, model
        if kind == "judge":
            assert failure_rate is not None and 0.0 <= failure_rate <= 1.0
        else:
            assert failure_rate is None and consistency is None
    # order: both checks position consistency wherever both verdicts parsed (NULL when none did, as here)
    checked, both_parsed = con.execute(
        "SELECT (SELECT n_position_checked FROM judge_stats WHERE model = 'tiny-judge-pairwise'), "
        "count(*) FILTER (WHERE parse_failures = 0) FROM latest_records WHERE model = 'tiny-judge-pairwise'"
    ).fetchall()[0]
    assert checked == both_parsed
    assert (board["tiny-judge-pairwise"][3] is None) == (both_parsed == 0)
    families = {r[0]: r[1] for r in con.execute("SELECT kind, n_models FROM family_leaderboard").fetchall()}
    assert families == {"classifier": 1, "dpo": 4, "judge": 2}

    # DPO: the implicit reward is the log-prob difference (beta 1), the four sums kept
    for sc, sr, lc, lr, rc, rr, ref in con.execute(
        "SELECT score_chosen, score_rejected, logp_chosen, logp_rejected, ref_logp_chosen, ref_logp_rejected, "
        "reference FROM latest_records WHERE kind = 'dpo'"
    ).fetchall():
        assert math.isclose(sc, lc - rc, rel_tol=1e-9, abs_tol=1e-6)
        assert math.isclose(sr, lr - rr, rel_tol=1e-9, abs_tol=1e-6)
        assert ref
    # SPIN: iteration t against t-1, one row per iteration
    chain = con.execute(
        "SELECT iteration, model FROM iteration_progress WHERE chain = 'spin' ORDER BY iteration"
    ).fetchall()
    assert chain == [(1, "spin@1"), (2, "spin@2"), (3, "spin@3")]

    # judges: every raw output stored with its sample index and order; garbage = parse failures, never a crash
    rubric = con.execute(
        "SELECT judge_outputs, parse_failures FROM latest_records WHERE model = 'tiny-judge-rubric'"
    ).fetchall()
    for outputs, failures in rubric:
        assert sorted((o["target"], o["sample"]) for o in outputs) == [
            (t, s) for t in ("chosen", "rejected") for s in range(3)
        ]
        assert failures == sum(o["parsed"] is None for o in outputs)
    pairwise = con.execute(
        "SELECT judge_outputs, score_chosen FROM latest_records WHERE model = 'tiny-judge-pairwise'"
    ).fetchall()
    for outputs, credit in pairwise:
        assert sorted(o["order"] for o in outputs) == ["AB", "BA"]
        assert credit in (0.0, 0.5, 1.0)
