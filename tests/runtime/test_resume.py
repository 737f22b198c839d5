"""Kill the driver mid-run, then `rayward run --resume`: exactly one record per example, same scores."""

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pyarrow.parquet as pq

from tests.conftest import REPO, write_job

LIMIT, SHARD = 30, 30


def _cmd(*args):
    return [sys.executable, "-m", "orchestrator.cli", *args]


def _env():
    return {**os.environ, "HF_HUB_OFFLINE": "1", "COLUMNS": "200"}


def test_kill_driver_then_resume(tmp_path, filtered_path, tiny_models):
    job = write_job(
        tmp_path / "job.yaml",
        "resumable",
        filtered_path,
        {"tiny-rm": tiny_models["tiny-rm"]},
        limit=LIMIT,
        shard_size=SHARD,
    )
    job.write_text(job.read_text() + "compact: false\n")  # the shard files below are compared byte for byte
    results = tmp_path / "results"
    from collections import Counter

    counts = Counter(pq.read_table(filtered_path, columns=["subset"]).column("subset").to_pylist())
    n_pairs = sum(min(LIMIT, n) for n in counts.values())  # mt-bench-easy has only 28
    n_shards = -(-n_pairs // SHARD)
    proc = subprocess.Popen(
        _cmd("run", str(job), "--results", str(results)),
        cwd=REPO,
        env=_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    shards_dir = results / "records"
    deadline = time.time() + 240
    while time.time() < deadline and len(list(shards_dir.rglob("shard-*.parquet"))) < 3:
        time.sleep(0.02)
    os.killpg(proc.pid, signal.SIGKILL)  # the driver and its local Ray cluster die mid-run
    proc.wait()
    before = {p: p.read_bytes() for p in shards_dir.rglob("shard-*.parquet")}
    assert 3 <= len(before) < n_shards, "the kill must land mid-run"
    (manifest_file,) = (results / "runs").glob("*.json")
    assert json.loads(manifest_file.read_text())["status"] == "running"

    out = subprocess.run(
        _cmd("run", str(job), "--results", str(results), "--resume"),
        cwd=REPO,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    manifest = json.loads(manifest_file.read_text())
    assert manifest["status"] == "ok" and manifest["resumed_at"]
    assert list((results / "runs").glob("*.json")) == [manifest_file]  # the same run, finished
    for path, data in before.items():
        assert path.read_bytes() == data  # committed units were not redone
    files = sorted(shards_dir.rglob("shard-*.parquet"))
    assert len(files) == n_shards
    table = pq.read_table(files, partitioning=None).sort_by("row_index").to_pydict()
    assert len(table["row_index"]) == n_pairs == len(set(table["row_index"]))  # exactly once
    assert set(table["run_id"]) == {manifest["run_id"]}

    # scores identical to an uninterrupted computation of the same rows
    from orchestrator.config import model_spec
    from orchestrator.scoring.classifier import ClassifierScorer

    src = pq.read_table(filtered_path).take(table["row_index"]).to_pydict()
    direct = ClassifierScorer(model_spec(name="x", path=str(tiny_models["tiny-rm"]))).score_pairs(
        src["prompt"], src["chosen"], src["rejected"]
    )
    np.testing.assert_allclose(table["score_chosen"], direct.score_chosen, atol=1e-5)
    assert table["correct"] == direct.correct.tolist()

    again = subprocess.run(
        _cmd("run", str(job), "--results", str(results), "--resume"),
        cwd=REPO,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert again.returncode == 2 and "no incomplete run" in again.stderr


def test_resume_refuses_a_changed_job(tmp_path, filtered_path):
    import pytest

    from orchestrator.config import JobConfig
    from orchestrator.errors import ConfigError
    from orchestrator.results.records import write_manifest
    from orchestrator.runtime.driver import _resumable

    spec = {
        "name": "j",
        "benchmarks": [{"source": str(filtered_path)}],
        "models": [{"name": "m", "path": "p"}],
    }
    job = JobConfig.from_dict(spec)
    write_manifest(
        tmp_path, {"run_id": "r1", "job": "j", "status": "running", "config": job.model_dump(mode="json")}
    )
    assert [m["run_id"] for m in _resumable(tmp_path, job, True)] == ["r1"]
    changed = JobConfig.from_dict({**spec, "models": [{"name": "m", "path": "q"}]})
    with pytest.raises(ConfigError, match="changed since run r1"):
        _resumable(tmp_path, changed, True)
    with pytest.raises(ConfigError, match="no run of job 'j' with that id"):
        _resumable(tmp_path, job, "r9")
