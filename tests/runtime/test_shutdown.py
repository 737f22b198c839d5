"""A second Ctrl-C while `rayward run` shuts its local Ray cluster down leaves no process behind."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from orchestrator.runtime.shutdown import descendants
from tests.conftest import REPO, write_job


def _session(sid: int) -> list[tuple[int, str]]:
    """Live processes of session ``sid`` (pid, command line)."""
    out = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmd = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        fields = stat[stat.rfind(")") + 2 :].split()
        if int(fields[3]) == sid and fields[0] != "Z":
            out.append((int(entry.name), cmd.strip()))
    return out


def test_descendants_sees_a_grandchild():
    child = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import subprocess,sys,time; p=subprocess.Popen([sys.executable,'-c','import time; time.sleep(30)']); time.sleep(30)",
        ]
    )
    try:
        deadline = time.time() + 10
        while time.time() < deadline and len(descendants()) < 2:
            time.sleep(0.05)
        assert child.pid in descendants() and len(descendants()) >= 2
    finally:  # only the child's own tree: the session's Ray cluster is a descendant of this process too
        for pid in [*descendants(child.pid), child.pid]:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        child.wait()


def test_second_ctrl_c_during_shutdown_leaves_no_ray_process(tmp_path, filtered_path, tiny_models):
    job = write_job(
        tmp_path / "job.yaml", "ctrl-c", filtered_path, {"tiny-rm": tiny_models["tiny-rm"]}, shard_size=8
    )
    results = tmp_path / "results"
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "COLUMNS": "200"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "orchestrator.cli", "run", str(job), "--results", str(results), "--no-cache"],
        cwd=REPO,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        deadline = time.time() + 300
        while time.time() < deadline and not list(results.rglob("shard-*.parquet")):
            time.sleep(0.1)
        assert list(results.rglob("shard-*.parquet")), "the run never got going"
        ray_procs = [p for p in _session(proc.pid) if p[0] != proc.pid]
        assert ray_procs, "a local Ray cluster runs in the driver's session"
        os.killpg(proc.pid, signal.SIGINT)  # Ctrl-C from the terminal reaches the whole foreground group
        time.sleep(0.5)
        os.killpg(proc.pid, signal.SIGINT)  # ... and again, while the driver shuts down
        time.sleep(0.3)
        os.kill(proc.pid, signal.SIGINT)  # and a third, to the driver alone
        _, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode in (130, 1), err[-2000:]
    deadline = time.time() + 30
    left = _session(proc.pid)
    while left and time.time() < deadline:
        time.sleep(0.2)
        left = _session(proc.pid)
    assert left == [], left
    (manifest,) = (results / "runs").glob("*.json")
    assert json.loads(manifest.read_text())["status"] == "interrupted"
