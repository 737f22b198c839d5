"""The query connection cannot write files or change settings; --timeout, --max-rows and Ctrl-C stop DuckDB."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from orchestrator.errors import QueryError
from orchestrator.query._sandbox import QueryTimeout, execute, is_locked
from orchestrator.query.db import check_read_only, connect
from tests._synth import bools, write_run
from tests.conftest import REPO, start_cli

RUN = {"alpacaeval-easy": bools(3, 4), "hep-go": bools(1, 2)}


def _tree(root: Path) -> dict[str, str]:
    """Every file under ``root`` with its content hash."""
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


@pytest.fixture()
def store(tmp_path):
    root = tmp_path / "r"
    write_run(root, "20260101T000000000Z-aaaaaa", {"m": RUN})
    # an IMPORT DATABASE directory whose script would overwrite the shard if it ran
    shard = next(root.rglob("shard-*.parquet"))
    imp = tmp_path / "imp"
    imp.mkdir()
    (imp / "schema.sql").write_text("CREATE TABLE t AS SELECT 1 AS a;\n")
    (imp / "load.sql").write_text(f"COPY (SELECT 2 AS a) TO '{shard}' (USE_TMP_FILE false);\n")
    return root


def _attacks(root: Path, tmp: Path) -> list[str]:
    shard = next(root.rglob("shard-*.parquet"))
    out = tmp / "out.parquet"
    return [
        f"COPY (SELECT 2 AS a) TO '{shard}' (FORMAT parquet, USE_TMP_FILE false)",
        f"COPY (SELECT 2 AS a) TO '{shard}'",
        f"EXPLAIN ANALYZE COPY (SELECT 2 AS a) TO '{shard}' (USE_TMP_FILE false)",
        f"EXPLAIN ANALYZE COPY (SELECT 2 AS a) TO '{out}'",
        f"COPY (SELECT * FROM records) TO '{tmp}/part' (FORMAT parquet, PARTITION_BY model)",
        f"COPY records TO '{out}'",
        f"EXPORT DATABASE '{tmp}/export'",
        f"IMPORT DATABASE '{tmp}/imp'",
        f"ATTACH '{tmp}/new.duckdb' AS other",
        f"ATTACH '{shard}' AS other",
        "INSTALL httpfs",
        "LOAD httpfs",
        "FORCE INSTALL json",
        "SET enable_external_access = true",
        "SET GLOBAL enable_external_access = true",
        "RESET enable_external_access",
        "SET lock_configuration = false",
        f"SET allowed_directories = ['{root}']",
        f"SET allowed_paths = ['{shard}']",
        f"SET temp_directory = '{tmp}/spill'",
        "SET threads = 1",
        "PRAGMA enable_profiling",
        f"SET profiling_output = '{tmp}/profile.json'",
        "PRAGMA memory_limit = '1GB'",
        "CREATE SECRET s (TYPE s3, KEY_ID 'x', SECRET 'y')",
        "CREATE PERSISTENT SECRET s2 (TYPE s3, KEY_ID 'x', SECRET 'y')",
        "SELECT * FROM read_csv('/etc/passwd')",
        "SELECT * FROM read_text('/etc/hostname')",
        f"SELECT * FROM read_parquet('{shard}')",
        f"SELECT * FROM read_blob('{shard}')",
        "SELECT * FROM glob('/etc/*')",
        f"SELECT * FROM '{shard}'",
        f"CREATE TABLE t AS SELECT * FROM read_json('{tmp}/imp/schema.sql')",
        "COPY (SELECT 1) TO '/dev/stdout'",
    ]


def test_every_writing_statement_is_refused_by_duckdb_itself(store, tmp_path):
    """Run straight on the connection, past the statement-type filter: DuckDB refuses each one and no file
    changes, none appears."""
    duckdb = pytest.importorskip("duckdb")
    before = _tree(tmp_path)
    con = connect(store)
    assert is_locked(con)
    ok = []
    for sql in _attacks(store, tmp_path):
        try:
            con.sql(sql)
            ok.append(sql)
        except duckdb.Error:
            pass
    assert ok == []
    assert _tree(tmp_path) == before
    # still answers queries, from the registered records
    assert con.sql("SELECT count(*) FROM records").fetchall() == [(6,)]
    assert con.sql("SELECT current_setting('enable_external_access')").fetchall() == [(False,)]


def test_statement_filter_refuses_all_but_queries():
    for sql in (
        "COPY records TO 'x.csv'",
        "ATTACH 'x.db'",
        "INSTALL httpfs",
        "SET threads = 1",
        "CREATE TABLE t AS SELECT 1",
        "DROP VIEW records",
        "EXPORT DATABASE 'x'",
    ):
        with pytest.raises(QueryError, match="read-only"):
            check_read_only(sql)
    # typed as EXPLAIN / PRAGMA: the filter lets them through, the locked connection refuses them (above)
    check_read_only("EXPLAIN ANALYZE COPY (SELECT 1) TO 'x.parquet'")
    check_read_only("IMPORT DATABASE 'x'")


def test_timeout_interrupts_a_cross_join(store):
    con = connect(store)
    t0 = time.monotonic()
    with pytest.raises(QueryTimeout, match="1 s time limit"):
        execute(con, "SELECT count(*) FROM range(1000000) a, range(1000000) b", timeout=1)
    assert time.monotonic() - t0 < 15
    assert execute(con, "SELECT count(*) AS n FROM records", timeout=5).table.to_pylist() == [{"n": 6}]


def test_row_cap_streams_only_what_it_keeps(store):
    con = connect(store)
    result = execute(con, "SELECT range AS i FROM range(3000000)", max_rows=10)
    assert result.truncated and result.table.num_rows == 10
    assert result.table.column("i").to_pylist() == list(range(10))
    whole = execute(con, "SELECT range AS i FROM range(25)", max_rows=25)
    assert not whole.truncated and whole.table.num_rows == 25


def _rayward(*args, **kw):
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "COLUMNS": "200"}
    return subprocess.run(
        [sys.executable, "-m", "orchestrator.cli", *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        **kw,
    )


def test_cli_max_rows_default_and_all(store):
    out = _rayward("sql", "SELECT range AS i FROM range(3000000)", "--results", str(store), "--format", "csv")
    assert out.returncode == 0, out.stderr
    assert len(out.stdout.splitlines()) == 1 + 10_000
    assert "cut at 10000 rows" in out.stderr
    out = _rayward(
        "sql",
        "SELECT range AS i FROM range(12000)",
        "--results",
        str(store),
        "--format",
        "csv",
        "--max-rows",
        "0",
    )
    assert len(out.stdout.splitlines()) == 1 + 12_000 and "cut at" not in out.stderr


def test_cli_timeout_and_ctrl_c(store):
    cross = "SELECT count(*) FROM range(1000000) a, range(1000000) b"
    t0 = time.monotonic()
    out = _rayward("sql", cross, "--results", str(store), "--timeout", "2")
    assert out.returncode == 124, out.stderr
    assert "time limit" in out.stderr and time.monotonic() - t0 < 60
    # Ctrl-C early (imports, the views being defined: DuckDB may be inside an Arrow scan of Python data) and
    # late (the join is running): each ends with 130 and the message, never a traceback or an abort
    for delay in (1.5, 8):
        proc = start_cli("sql", cross, "--results", str(store), "--timeout", "0")
        time.sleep(delay)
        assert proc.poll() is None
        proc.send_signal(signal.SIGINT)
        try:
            _, err = proc.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            raise AssertionError("rayward sql ignored Ctrl-C") from None
        assert proc.returncode == 130, (delay, err)
        assert "Traceback" not in err and "FATAL" not in err, (delay, err)
        assert delay < 8 or "cancelled" in err, err  # (before the command starts there is no message yet)


def test_cli_on_a_missing_store_exits_non_zero(tmp_path):
    for args in (("sql", "SELECT 1"), ("leaderboard",)):
        out = _rayward(*args, "--results", str(tmp_path / "nope"))
        assert out.returncode == 2, (args, out.stdout, out.stderr)
        assert "no such directory" in out.stderr
    (tmp_path / "file").write_text("x")
    out = _rayward("leaderboard", "--results", str(tmp_path / "file"))
    assert out.returncode == 2 and "is a file" in out.stderr
