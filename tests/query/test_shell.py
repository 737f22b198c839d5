"""The interactive read-only SQL session: dot commands, multi-line statements, row cap, errors."""

import os
import pty
import select
import subprocess
import sys
import time

from orchestrator.query.db import connect
from orchestrator.query.shell import SqlShell
from tests._synth import bools, write_run
from tests.conftest import REPO


def _store(tmp_path):
    write_run(
        tmp_path,
        "20260101T000000Z-a",
        {"a": {"alpacaeval-easy": bools(3, 4)}, "b": {"alpacaeval-easy": bools(1, 4)}},
    )
    return tmp_path


def test_shell_statements_and_commands(tmp_path):
    shell = SqlShell(connect(_store(tmp_path)), max_rows=5)
    assert shell.feed("SELECT model, score") is None and shell.pending
    reply = shell.feed("FROM leaderboard ORDER BY model;")
    assert reply.kind == "rows" and reply.table.to_pylist() == [
        {"model": "a", "score": 0.75},
        {"model": "b", "score": 0.25},
    ]
    assert not shell.pending
    reply = shell.feed("SELECT * FROM records;")
    assert reply.table.num_rows == 5 and reply.truncated and "first 5 rows" in reply.text
    assert shell.feed(".limit 100").text == "row cap: 100"
    assert shell.feed("SELECT * FROM records;").table.num_rows == 8
    names = shell.feed(".tables").table.column("name").to_pylist()
    assert {"records", "leaderboard", "refusal_balance", "length_bias"} <= set(names)
    schema = shell.feed(".schema leaderboard").table.column("column").to_pylist()
    assert schema[:3] == ["model", "kind", "benchmark"]


def test_shell_errors_are_clear_and_nothing_changes(tmp_path):
    con = connect(_store(tmp_path))
    shell = SqlShell(con)
    for sql in (
        "DELETE FROM run_models;",
        "DROP VIEW records;",
        "CREATE TABLE x AS SELECT 1;",
        "SELECT 1; DELETE FROM run_models;",
    ):
        reply = shell.feed(sql)
        assert reply.kind == "error" and "read-only" in reply.text, sql
    reply = shell.feed("SELECT * FROM nosuchtable;")
    assert reply.kind == "error" and "nosuchtable" in reply.text
    assert shell.feed(".schema nosuch").kind == "error"
    assert shell.feed(".limit zero").kind == "error" and shell.feed(".format xml").kind == "error"
    assert shell.feed(".frobnicate").text == "unknown command '.frobnicate' (try .help)"
    assert ".tables" in shell.feed(".help").text
    assert shell.feed(".quit").kind == "quit"
    assert con.sql("SELECT count(*) FROM run_models").fetchall() == [(2,)]


def _cli_env():
    return {**os.environ, "COLUMNS": "200"}


def test_cli_session_from_piped_stdin(tmp_path):
    script = ".format json\nSELECT model, score\n  FROM leaderboard ORDER BY model;\nDELETE FROM records;\nSELECT 1 AS x;\n.quit\nSELECT 2;\n"
    out = subprocess.run(
        [sys.executable, "-m", "orchestrator.cli", "sql", "--results", str(_store(tmp_path))],
        input=script,
        cwd=REPO,
        env=_cli_env(),
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0, out.stderr
    assert '"model": "a"' in out.stdout and '"score": 0.75' in out.stdout and '"x": 1' in out.stdout
    assert '"2"' not in out.stdout  # nothing after .quit runs
    assert "read-only" in out.stderr


def test_cli_session_on_a_terminal(tmp_path):
    """On a tty: a prompt, readline history written on exit."""
    master, slave = pty.openpty()
    env = {**_cli_env(), "RAYWARD_HISTORY": str(tmp_path / "hist"), "TERM": "dumb"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "orchestrator.cli", "sql", "--results", str(_store(tmp_path))],
        stdin=slave,
        stdout=slave,
        stderr=slave,
        cwd=REPO,
        env=env,
        close_fds=True,
    )
    os.close(slave)
    output = b""

    def read_until(token, timeout=60):
        nonlocal output
        end = time.time() + timeout
        while token not in output and time.time() < end:
            ready, _, _ = select.select([master], [], [], 0.5)
            if ready:
                try:
                    output += os.read(master, 65536)
                except OSError:
                    break
        return token in output

    try:
        assert read_until(b"rayward> "), output
        os.write(master, b"SELECT 40 + 2 AS answer;\n")
        assert read_until(b"42"), output
        os.write(master, b".quit\n")
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
        os.close(master)
    assert proc.returncode == 0
    assert "SELECT 40 + 2 AS answer;" in (tmp_path / "hist").read_text()
