"""`rayward compact`, `rayward gc` and `rayward store upgrade` as a user runs them."""

import json

import pyarrow.parquet as pq

from tests.cli.test_cli import _rayward
from tests.results.test_layout import _night, _write_legacy


def _board(root):
    out = _rayward("leaderboard", "--results", str(root), "--format", "json")
    assert out.returncode == 0, out.stderr
    return [(r["model"], r["score"]) for r in json.loads(out.stdout)]


def test_upgrade_compact_and_gc_from_the_command_line(tmp_path, filtered_path):
    src = pq.read_table(filtered_path)
    _write_legacy(tmp_path, src, "old", "20251201T000000Z-a", seed=1)
    _write_legacy(tmp_path, src, "old", "20251202T000000Z-b", seed=2)
    _night(tmp_path, src, "20260101T000000Z-c", ["new"])
    board = _board(tmp_path)

    out = _rayward("store", "upgrade", "--results", str(tmp_path), "--no-compact", "--format", "json")
    assert out.returncode == 0, out.stderr
    (row,) = json.loads(out.stdout)
    assert row["rewritten_files"] == 6 and row["bytes_after"] < row["bytes_before"]
    assert _board(tmp_path) == board

    out = _rayward("compact", "--results", str(tmp_path), "--format", "json")
    assert out.returncode == 0, out.stderr
    assert [r["status"] for r in json.loads(out.stdout)] == ["compacted"] * 3
    assert not list((tmp_path / "records").rglob("shard-*"))
    assert _board(tmp_path) == board

    out = _rayward("gc", "--keep-last", "1", "--results", str(tmp_path), "--dry-run", "--format", "json")
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)[0]["removed_partitions"] == 1
    assert (tmp_path / "runs" / "20251201T000000Z-a.json").is_file()
    out = _rayward("gc", "--keep-last", "1", "--results", str(tmp_path), "--format", "json")
    assert out.returncode == 0, out.stderr
    (row,) = json.loads(out.stdout)
    assert row["removed_partitions"] == 1 and row["removed_runs"] == 1 and row["removed_bytes"] > 0
    assert not (tmp_path / "runs" / "20251201T000000Z-a.json").exists()
    assert _board(tmp_path) == board


def test_store_commands_name_a_missing_store(tmp_path):
    for args in (["compact"], ["gc", "--keep-last", "2"], ["store", "upgrade"]):
        out = _rayward(*args, "--results", str(tmp_path / "nope"))
        assert out.returncode == 2 and "no such directory" in out.stderr, (args, out.stderr)
    out = _rayward("gc", "--keep-last", "0", "--results", str(tmp_path))
    assert out.returncode == 2
