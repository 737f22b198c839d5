"""Runs that cannot be right are refused: NaN scores, resumes over changed data or models, zero-row
benchmarks, results paths that cannot hold a run. Real tiny models on the session's local Ray cluster."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from orchestrator.config import JobConfig
from orchestrator.errors import ConfigError, DataError
from orchestrator.query.db import connect
from orchestrator.results.records import read_manifests
from orchestrator.runtime.driver import run_job


def _job(data: Path, models: list[dict], results: Path, limit: int | None = 2, **failures) -> JobConfig:
    bench = {"name": "reward-bench", "source": str(data)}
    if limit is not None:
        bench["limit"] = limit
    return JobConfig.from_dict(
        {
            "name": "integrity",
            "benchmarks": [bench],
            "models": models,
            "resources": {"gpus_per_actor": 0, "shard_size": 16},
            "failures": failures or {},
            "results": str(results),
        }
    )


def _nan_head(src: Path, dst: Path) -> Path:
    """A copy of the tiny classifier whose score head is all NaN (what a diverged fine-tune leaves)."""
    import torch
    from safetensors.torch import load_file, save_file

    shutil.copytree(src, dst)
    (weights,) = dst.glob("*.safetensors")
    tensors = load_file(weights)
    tensors["score.weight"] = torch.full_like(tensors["score.weight"], float("nan"))
    save_file(tensors, weights, metadata={"format": "pt"})
    return dst


def test_nan_head_fails_the_model_naming_the_score(ray_cluster, filtered_path, tiny_models, tmp_path):
    nan = _nan_head(tiny_models["tiny-rm"], tmp_path / "nan-rm")
    models = [{"name": "good", "path": str(tiny_models["tiny-rm"])}, {"name": "nan", "path": str(nan)}]
    result = run_job(_job(filtered_path, models, tmp_path / "r"))
    status = {o.model: o for o in result.outcomes}
    assert status["good"].status == "ok"
    assert status["nan"].status == "failed"
    assert "NonFiniteScore: score_chosen is nan" in status["nan"].error
    assert "failures.max_error_rate 0.01" in status["nan"].error
    rows = connect(tmp_path / "r").sql("SELECT model FROM leaderboard").fetchall()
    assert rows == [("good",)]  # a failed model is no comparison


def test_nan_scores_below_the_error_rate_are_error_records(ray_cluster, filtered_path, tiny_models, tmp_path):
    nan = _nan_head(tiny_models["tiny-rm"], tmp_path / "nan-rm")
    result = run_job(
        _job(filtered_path, [{"name": "nan", "path": str(nan)}], tmp_path / "r", max_error_rate=1.0)
    )
    (outcome,) = result.outcomes
    assert outcome.status == "ok" and outcome.row_errors == outcome.n_records > 0
    con = connect(tmp_path / "r")
    errors = con.sql(
        "SELECT DISTINCT error, score_chosen IS NULL, score_rejected IS NULL, correct FROM records"
    ).fetchall()
    assert errors == [("NonFiniteScore: score_chosen is nan", True, True, False)]
    # and nothing NaN reached the score cache: a rerun scores again, and fails the same way
    again = run_job(_job(filtered_path, [{"name": "nan", "path": str(nan)}], tmp_path / "r"))
    assert again.outcomes[0].status == "failed" and again.outcomes[0].cached_records == 0


def _partial_run(filtered_path, tiny_models, tmp_path, data: Path, model_dir: Path) -> tuple[JobConfig, str]:
    """A finished model and a model that failed to load: the run ends `partial`, so `--resume` takes it up."""
    models = [{"name": "rm", "path": str(model_dir)}, {"name": "later", "path": str(tmp_path / "not-yet")}]
    job = _job(data, models, tmp_path / "r")
    first = run_job(job)
    assert {o.model: o.status for o in first.outcomes} == {"rm": "ok", "later": "failed"}
    return job, first.run_id


def test_resume_refuses_changed_data_then_starts_a_new_run(ray_cluster, filtered_path, tiny_models, tmp_path):
    data = tmp_path / "data.parquet"
    table = pq.read_table(filtered_path)
    pq.write_table(table, data)
    model_dir = tmp_path / "rm"
    shutil.copytree(tiny_models["tiny-rm"], model_dir)
    job, run_id = _partial_run(filtered_path, tiny_models, tmp_path, data, model_dir)
    # the data file changes (one chosen text edited) while the run is interrupted
    chosen = table.column("chosen").to_pylist()
    chosen[0] = chosen[0] + " (edited)"
    pq.write_table(table.set_column(table.column_names.index("chosen"), "chosen", [chosen]), data)
    with pytest.raises(ConfigError) as err:
        run_job(job, resume=True)
    text = str(err.value)
    assert f"run {run_id} cannot be resumed" in text
    assert "dataset of benchmark 'reward-bench'" in text and "--on-change new-run" in text
    assert [m["run_id"] for m in read_manifests(tmp_path / "r")] == [run_id]  # nothing written
    new = run_job(job, resume=True, on_change="new-run")
    assert new.run_id != run_id
    manifests = {m["run_id"]: m for m in read_manifests(tmp_path / "r")}
    assert manifests[new.run_id]["instead_of_resuming"]["run_id"] == run_id
    assert manifests[run_id]["status"] == "partial"  # the interrupted run stays as it was


def test_resume_refuses_a_changed_model(ray_cluster, filtered_path, tiny_models, tmp_path):
    model_dir = tmp_path / "rm"
    shutil.copytree(tiny_models["tiny-rm"], model_dir)
    job, run_id = _partial_run(filtered_path, tiny_models, tmp_path, filtered_path, model_dir)
    config = json.loads((model_dir / "config.json").read_text())
    config["rayward_note"] = "retrained"
    (model_dir / "config.json").write_text(json.dumps(config))
    with pytest.raises(ConfigError, match=r"model 'rm': path changed: .*rm \(fingerprint"):
        run_job(job, resume=True)


def test_zero_row_benchmark_is_an_error_naming_source_and_filters(filtered_path, tmp_path):
    empty = tmp_path / "empty.parquet"
    pq.write_table(pq.read_table(filtered_path).slice(0, 0), empty)
    job = _job(empty, [{"name": "m", "path": "org/any"}], tmp_path / "r")
    with pytest.raises(DataError, match=r"empty\.parquet, split 'filtered', limit 2\): no rows to evaluate"):
        run_job(job)
    assert not (tmp_path / "r").exists()


@pytest.mark.parametrize("kind", ["file", "below-a-file", "read-only"])
def test_results_path_that_cannot_hold_a_run(filtered_path, tmp_path, kind):
    target = tmp_path / "r"
    if kind == "file":
        target.write_text("not a directory")
        want = "is a file, not a directory"
    elif kind == "below-a-file":
        (tmp_path / "f").write_text("x")
        target = tmp_path / "f" / "r"
        want = "is a file, not a directory"
    else:
        target = Path("/proc/rayward-results")  # a filesystem nobody, not even root, can write
        want = "is not writable"
    job = _job(filtered_path, [{"name": "m", "path": "org/any"}], target)
    with pytest.raises(ConfigError, match=want):
        run_job(job)
