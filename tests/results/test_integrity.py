"""Damaged shards and manifests are skipped with warnings naming them and their runs; `rayward store check`
lists every damaged or orphaned file and quarantines them only when asked (real Parquet, DuckDB, the CLI)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

from orchestrator.results.integrity import check_store
from tests._synth import bools, write_run
from tests.conftest import REPO

OLD, NEW = "20260101T000000000Z-aaaaaa", "20260102T000000000Z-bbbbbb"


def _rayward(*args):
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "COLUMNS": "250"}
    return subprocess.run(
        [sys.executable, "-m", "orchestrator.cli", *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def _store(tmp_path):
    root = tmp_path / "r"
    write_run(root, OLD, {"m": {"alpacaeval-easy": bools(4, 10)}, "n": {"alpacaeval-easy": bools(6, 10)}})
    write_run(root, NEW, {"m": {"alpacaeval-easy": bools(5, 10)}, "n": {"alpacaeval-easy": bools(7, 10)}})
    return root


def _shard(root, model, run):
    return root / f"records/benchmark=reward-bench/model={model}/run={run}/shard-00000.parquet"


def _board(root):
    out = _rayward(
        "sql",
        "SELECT model, score FROM leaderboard ORDER BY model",
        "--results",
        str(root),
        "--format",
        "json",
    )
    return out, {r["model"]: r["score"] for r in json.loads(out.stdout or "[]")}


def test_truncated_shard_is_skipped_with_a_warning_naming_it(tmp_path):
    root = _store(tmp_path)
    shard = _shard(root, "n", NEW)
    shard.write_bytes(shard.read_bytes()[:100])  # a copy cut short
    out, board = _board(root)
    assert out.returncode == 0, out.stderr
    assert board["m"] == 0.5
    assert "skipping damaged record file" in out.stderr and "model=n/run=" + NEW in out.stderr
    assert f"run {NEW}: model 'n' on 'reward-bench' loses shard 0" in out.stderr
    for args in (("leaderboard",), ("compare", "m", "n"), ("sql", "SELECT count(*) FROM records")):
        res = _rayward(*args, "--results", str(root))
        assert "Traceback" not in res.stderr and "skipping damaged record file" in res.stderr, (
            args,
            res.stderr,
        )


def test_garbage_manifest_is_named_with_the_rows_that_fall_back(tmp_path):
    root = _store(tmp_path)
    (root / f"runs/{NEW}.json").write_text('{"run_id": "' + NEW + '", "models": [')
    out, board = _board(root)
    assert out.returncode == 0 and board == {"m": 0.4, "n": 0.6}  # the older run, and the warning says why
    assert f"skipping damaged run manifest {root}/runs/{NEW}.json: invalid JSON" in out.stderr
    assert (
        f"run {NEW} is left out of every view, so its records for 'm' on 'reward-bench', 'n' on" in out.stderr
    )
    assert "fall back to an older run" in out.stderr


def test_manifest_with_wrong_types_is_skipped_not_a_traceback(tmp_path):
    root = _store(tmp_path)
    path = root / f"runs/{NEW}.json"
    data = json.loads(path.read_text())
    data["models"][0]["n_records"] = "ten"
    path.write_text(json.dumps(data))
    out, board = _board(root)
    assert out.returncode == 0 and "Traceback" not in out.stderr
    assert "models[0].n_records is 'ten', not a whole number" in out.stderr
    assert board == {"m": 0.4, "n": 0.6}


def test_store_check_lists_then_quarantines_without_deleting(tmp_path):
    root = _store(tmp_path)
    shard = _shard(root, "n", NEW)
    shard.write_bytes(b"PAR1 not really")
    (root / f"runs/{OLD}.json").write_bytes(b"\xff\xfe")
    ghost = root / "records/benchmark=reward-bench/model=m/run=ghost"
    shutil.copytree(_shard(root, "m", NEW).parent, ghost)
    (_shard(root, "m", NEW).parent / ".shard-00001.parquet.x1.tmp").write_bytes(b"half")
    before = sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())

    report = check_store(root)
    kinds = sorted((p.kind, p.path) for p in report.problems)
    assert kinds == sorted(
        [
            ("damaged-manifest", f"runs/{OLD}.json"),
            ("damaged-records", f"records/benchmark=reward-bench/model=n/run={NEW}/shard-00000.parquet"),
            ("orphaned-records", f"records/benchmark=reward-bench/model=m/run={OLD}/shard-00000.parquet"),
            ("orphaned-records", f"records/benchmark=reward-bench/model=n/run={OLD}/shard-00000.parquet"),
            ("orphaned-records", "records/benchmark=reward-bench/model=m/run=ghost/shard-00000.parquet"),
            ("stale-temp", f"records/benchmark=reward-bench/model=m/run={NEW}/.shard-00001.parquet.x1.tmp"),
        ]
    )
    out = _rayward("store", "check", "--results", str(root), "--format", "json")
    assert out.returncode == 1
    assert {r["kind"] for r in json.loads(out.stdout)} == {k for k, _ in kinds}
    after_check = sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())
    assert after_check == before  # checking changes nothing

    out = _rayward("store", "check", "--results", str(root), "--quarantine")
    assert out.returncode == 0, out.stderr
    moved = sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())
    assert len(moved) == len(before)  # nothing deleted: every file is still there, six of them set aside
    assert sum(m.startswith("quarantine/") for m in moved) == 6
    assert _rayward("store", "check", "--results", str(root)).returncode == 0
    out, board = _board(root)
    assert out.returncode == 0 and "skipping" not in out.stderr and board == {"m": 0.5}


def test_store_check_on_a_missing_store(tmp_path):
    out = _rayward("store", "check", "--results", str(tmp_path / "nope"))
    assert out.returncode == 2 and "no such directory" in out.stderr
