"""The nightly job submitted as a Ray Job to a `ray start --head` cluster on this machine (two nights: the second,
worse one fails with the regression exit code)."""

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
import yaml

from orchestrator.results.records import read_manifests
from tests.conftest import REPO

HEAD_PORT = 6391  # unique to this test on the shared machine
RAY_BIN = Path(sys.executable).parent


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "RAY_ADDRESS")}
    env.update(RAY_AUTH_MODE="token", RAY_USAGE_STATS_ENABLED="0", HF_HUB_OFFLINE="1")
    return env


@pytest.fixture(scope="module")
def ray_head():
    """A head with the dashboard (the job server), 8 CPUs; killed (its process group) afterwards, never `ray stop`."""
    pytest.importorskip("aiohttp", reason="ray job submit needs ray[default] (the dashboard's job server)")
    temp = tempfile.mkdtemp(prefix="rw-h7-", dir="/tmp")
    dashboard = _free_port()
    cmd = [
        str(RAY_BIN / "ray"),
        "start",
        "--head",
        f"--port={HEAD_PORT}",
        "--num-cpus=8",
        "--disable-usage-stats",
        "--include-dashboard=true",
        "--dashboard-host=127.0.0.1",
        f"--dashboard-port={dashboard}",
        f"--dashboard-agent-listen-port={_free_port()}",
        f"--metrics-export-port={_free_port()}",
        f"--ray-client-server-port={_free_port()}",
        f"--runtime-env-agent-port={_free_port()}",
        f"--temp-dir={temp}",
        "--block",
    ]
    head = subprocess.Popen(
        cmd, env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    address = f"http://127.0.0.1:{dashboard}"
    try:
        deadline = time.time() + 120
        while time.time() < deadline:
            probe = subprocess.run(
                [str(RAY_BIN / "ray"), "job", "list", "--address", address],
                env=_env(),
                capture_output=True,
                text=True,
                timeout=60,
            )
            if probe.returncode == 0:
                break
            assert head.poll() is None, "ray start --head exited"
            time.sleep(3)
        else:
            pytest.fail(f"the job server at {address} did not come up: {probe.stderr[-2000:]}")
        yield address
    finally:
        os.killpg(head.pid, signal.SIGTERM)
        try:
            head.wait(timeout=20)
        except subprocess.TimeoutExpired:
            pass
        try:  # whatever of the head's process group is still up (raylet, GCS, dashboard)
            os.killpg(head.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        head.wait(timeout=30)
        shutil.rmtree(temp, ignore_errors=True)


def _nightly(path: Path, model: Path, data: Path, results: str) -> Path:
    """jobs/nightly.yaml with the given model under one name, a 1-row-per-subset limit and the results store."""
    job = yaml.safe_load((REPO / "jobs" / "nightly.yaml").read_text())
    job["benchmarks"] = [{"name": "reward-bench", "source": str(data), "limit": 1}]
    job["models"] = [{"name": "nightly-rm", "path": str(model)}]
    job["results"] = results
    path.write_text(yaml.safe_dump(job, sort_keys=False))
    return path


def _submit(address: str, job: Path) -> subprocess.CompletedProcess:
    runtime_env = yaml.safe_load(
        (REPO / "deploy" / "nightly-runtime-env.yaml").read_text()
    )  # the documented one
    runtime_env["env_vars"]["HF_HUB_OFFLINE"] = "1"
    return subprocess.run(
        [
            str(RAY_BIN / "ray"),
            "job",
            "submit",
            "--address",
            address,
            "--working-dir",
            str(REPO),
            "--runtime-env-json",
            json.dumps(runtime_env),
            "--",
            "python",
            "-m",
            "orchestrator.cli",
            "run",
            str(job),
        ],
        cwd=REPO,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=600,
    )


def test_nightly_as_ray_job(tmp_path, ray_head, filtered_path, tiny_models):
    store = tmp_path / "store"
    uri = f"file://{store}"
    # night 1
    night1 = _submit(ray_head, _nightly(tmp_path / "n1.yaml", tiny_models["tiny-rm"], filtered_path, uri))
    assert night1.returncode == 0, night1.stdout[-4000:] + night1.stderr[-2000:]
    assert "succeeded" in night1.stdout.lower()
    (run1,) = read_manifests(store)
    assert run1["status"] == "ok" and run1["models"][0]["n_records"] == 23
    board = json.loads((store / "leaderboards" / "reward-bench.json").read_text())
    assert [(r["model"], r["run_id"]) for r in board] == [("nightly-rm", run1["run_id"])]
    assert "regression check skipped: nightly-rm on reward-bench: no previous successful run" in night1.stdout
    # the scoring actor ran in the cluster the job was submitted to, not in a local cluster of the job's own
    actors = subprocess.run(
        [
            str(RAY_BIN / "ray"),
            "list",
            "actors",
            "--address",
            ray_head,
            "--format",
            "json",
            "--filter",
            "class_name=ScoringWorker",
            "--limit",
            "100",
        ],
        env=_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert actors.returncode == 0, actors.stderr[-2000:]
    assert len(json.loads(actors.stdout)) == 1
    # night 2: the same name now holds a worse model -> the job fails with exit code 3 and says what fell
    night2 = _submit(ray_head, _nightly(tmp_path / "n2.yaml", tiny_models["tiny-rm-b"], filtered_path, uri))
    runs = sorted(read_manifests(store), key=lambda m: m["run_id"])
    assert len(runs) == 2 and runs[1]["status"] == "ok"
    board2 = json.loads((store / "leaderboards" / "reward-bench.json").read_text())
    old, new = board[0]["score"], board2[0]["score"]
    if 100 * (old - new) > 1.0:
        assert night2.returncode != 0 and "exit code 3" in (night2.stdout + night2.stderr).lower()
        assert (
            f"regression: nightly-rm on reward-bench: overall {100 * old:.2f} -> {100 * new:.2f}"
            in night2.stdout
        )
    else:
        pytest.fail(f"night 2 was expected to score lower: {old} -> {new}")


def test_relative_results_inside_a_ray_job_is_an_error(monkeypatch, tmp_path):
    """Inside a Ray Job the working directory is a temporary copy: a relative store would vanish with it."""
    from orchestrator.config import JobConfig
    from orchestrator.errors import ConfigError
    from orchestrator.runtime.cluster import in_ray_job
    from orchestrator.runtime.driver import run_job

    job = JobConfig.from_dict(
        {"name": "n", "benchmarks": [{"name": "reward-bench"}], "models": [{"name": "m", "path": "p"}]}
    )
    monkeypatch.setenv("RAY_JOB_CONFIG_JSON_ENV_VAR", "{}")
    monkeypatch.chdir(tmp_path)
    assert in_ray_job()
    with pytest.raises(ConfigError, match="temporary copy"):
        run_job(job, results="results/")
    assert not (tmp_path / "results").exists()
