"""CLI error paths: exit codes and messages a user sees."""

import json
import os
import subprocess
import sys

from conftest import REPO


def _rayward(*args, cwd=REPO):
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "COLUMNS": "200"}
    return subprocess.run([sys.executable, "-m", "orchestrator.cli", *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=600)


def test_bad_job_key_exits_2_with_key_path(tmp_path):
    job = tmp_path / "bad.yaml"
    job.write_text("name: x\nbenchmarks: [{name: reward-bench}]\nmodels:\n  - name: a\n    path: p\n    batch_sise: 3\n")
    out = _rayward("run", str(job), "--results", str(tmp_path / "r"))
    assert out.returncode == 2
    assert "models[0].batch_sise: unknown key" in out.stderr
    assert not (tmp_path / "r").exists()


def test_missing_column_exits_2_and_writes_nothing(tmp_path, filtered_path):
    import pyarrow.parquet as pq

    data = tmp_path / "d.parquet"
    pq.write_table(pq.read_table(filtered_path).slice(0, 5).drop_columns(["chosen"]), data)
    job = tmp_path / "j.yaml"
    job.write_text(f"name: x\nbenchmarks: [{{name: reward-bench, source: {data}}}]\nmodels: [{{name: a, path: p}}]\nresources: {{gpus_per_actor: 0}}\n")
    out = _rayward("run", str(job), "--results", str(tmp_path / "r"))
    assert out.returncode == 2
    assert "missing column(s) 'chosen'" in out.stderr
    assert not (tmp_path / "r").exists()


def test_sql_rejects_writes_and_reports_bad_sql(tmp_path):
    out = _rayward("sql", "DELETE FROM records", "--results", str(tmp_path))
    assert out.returncode == 2 and "read-only" in out.stderr
    out = _rayward("sql", "SELEC nonsense", "--results", str(tmp_path))
    assert out.returncode == 2 and "error" in out.stderr.lower()


def test_sql_and_leaderboard_on_empty_store(tmp_path):
    out = _rayward("sql", "SELECT count(*) AS n FROM records", "--results", str(tmp_path), "--format", "json")
    assert out.returncode == 0 and json.loads(out.stdout) == [{"n": 0}]
    out = _rayward("leaderboard", "--results", str(tmp_path), "--format", "json")
    assert out.returncode == 0 and json.loads(out.stdout) == []


def test_run_with_broken_model_exits_1_and_keeps_good_records(tmp_path, filtered_path, tiny_models):
    job = tmp_path / "j.yaml"
    job.write_text(
        "name: mixed\n"
        f"benchmarks: [{{name: reward-bench, source: {filtered_path}, limit: 2}}]\n"
        f"models: [{{name: good, path: {tiny_models['tiny-rm']}}}, {{name: broken, path: {tmp_path / 'nowhere'}}}]\n"
        "resources: {gpus_per_actor: 0}\n"
    )
    out = _rayward("run", str(job), "--results", str(tmp_path / "r"))
    assert out.returncode == 1, out.stderr[-2000:]
    assert "broken" in out.stderr and "not found" in out.stderr
    rows = json.loads(_rayward("leaderboard", "--results", str(tmp_path / "r"), "--format", "json").stdout)
    assert [r["model"] for r in rows] == ["good"]
    n = json.loads(_rayward("sql", "SELECT count(*) AS n FROM records WHERE model = 'good'", "--results", str(tmp_path / "r"), "--format", "json").stdout)
    assert n == [{"n": 46}]


def test_run_on_existing_cluster_with_address(tmp_path, filtered_path, tiny_models):
    """`--address` connects to a head started with `ray start` (token auth as Ray sets it up)."""
    import signal
    import socket
    import time

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    head = subprocess.Popen(
        [os.path.join(os.path.dirname(sys.executable), "ray"), "start", "--head", f"--port={port}", "--num-cpus=2",
         "--include-dashboard=false", "--block"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )
    try:
        time.sleep(8)
        job = tmp_path / "j.yaml"
        job.write_text(
            "name: remote\n"
            f"benchmarks: [{{name: reward-bench, source: {filtered_path}, limit: 1}}]\n"
            f"models: [{{name: good, path: {tiny_models['tiny-rm']}}}]\n"
            "resources: {gpus_per_actor: 0}\n"
        )
        out = _rayward("run", str(job), "--results", str(tmp_path / "r"), "--address", f"127.0.0.1:{port}")
        assert out.returncode == 0, out.stderr[-2000:]
        rows = json.loads(_rayward("leaderboard", "--results", str(tmp_path / "r"), "--format", "json").stdout)
        assert [r["model"] for r in rows] == ["good"]
    finally:
        os.killpg(head.pid, signal.SIGTERM)
        head.wait(timeout=60)
