"""CLI error paths: exit codes and messages a user sees."""

import json
import os
import subprocess
import sys

from tests.conftest import REPO, write_job


def _rayward(*args, cwd=REPO):
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "COLUMNS": "200"}
    return subprocess.run(
        [sys.executable, "-m", "orchestrator.cli", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )


def test_bad_job_key_exits_2_with_key_path(tmp_path):
    job = tmp_path / "bad.yaml"
    job.write_text(
        "name: x\nbenchmarks: [{name: reward-bench}]\nmodels:\n  - name: a\n    path: p\n    batch_sise: 3\n"
    )
    out = _rayward("run", str(job), "--results", str(tmp_path / "r"))
    assert out.returncode == 2
    assert "models[0].batch_sise: unknown key" in out.stderr
    assert not (tmp_path / "r").exists()


def test_missing_column_exits_2_and_writes_nothing(tmp_path, filtered_path):
    import pyarrow.parquet as pq

    data = tmp_path / "d.parquet"
    pq.write_table(pq.read_table(filtered_path).slice(0, 5).drop_columns(["chosen"]), data)
    job = tmp_path / "j.yaml"
    job.write_text(
        f"name: x\nbenchmarks: [{{name: reward-bench, source: {data}}}]\nmodels: [{{name: a, path: p}}]\nresources: {{gpus_per_actor: 0}}\n"
    )
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
    # a directory that is no model (a local path that does not exist at all is a job-file error, exit 2:
    # tests/test_bad_inputs.py)
    (tmp_path / "nowhere").mkdir()
    job = write_job(
        tmp_path / "j.yaml",
        "mixed",
        filtered_path,
        {"good": tiny_models["tiny-rm"], "broken": tmp_path / "nowhere"},
        limit=2,
    )
    out = _rayward("run", str(job), "--results", str(tmp_path / "r"))
    assert out.returncode == 1, out.stderr[-2000:]
    assert "broken" in out.stderr and "no config.json" in out.stderr
    rows = json.loads(_rayward("leaderboard", "--results", str(tmp_path / "r"), "--format", "json").stdout)
    assert [r["model"] for r in rows] == ["good"]
    n = json.loads(
        _rayward(
            "sql",
            "SELECT count(*) AS n FROM records WHERE model = 'good'",
            "--results",
            str(tmp_path / "r"),
            "--format",
            "json",
        ).stdout
    )
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
        [
            os.path.join(os.path.dirname(sys.executable), "ray"),
            "start",
            "--head",
            f"--port={port}",
            "--num-cpus=2",
            "--include-dashboard=false",
            "--block",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        time.sleep(8)
        job = write_job(
            tmp_path / "j.yaml", "remote", filtered_path, {"good": tiny_models["tiny-rm"]}, limit=1
        )
        out = _rayward("run", str(job), "--results", str(tmp_path / "r"), "--address", f"127.0.0.1:{port}")
        assert out.returncode == 0, out.stderr[-2000:]
        rows = json.loads(
            _rayward("leaderboard", "--results", str(tmp_path / "r"), "--format", "json").stdout
        )
        assert [r["model"] for r in rows] == ["good"]
    finally:
        os.killpg(head.pid, signal.SIGTERM)
        head.wait(timeout=60)


def test_import_export_and_leaderboard_per_benchmark(tmp_path, filtered_path):
    from tests.results.test_interop import score_file
    from tests.test_benchmarks import V2_ROWS, write_lists

    f = tmp_path / "scores.json"
    score_file(filtered_path, f, range(0, 300))
    data = json.loads(f.read_text())
    data["id"][5] = 123456789
    f.write_text(json.dumps(data))
    results = tmp_path / "r"
    out = _rayward(
        "import",
        str(f),
        "--format",
        "rewardbench",
        "--model",
        "org/m",
        "--source",
        str(filtered_path),
        "--results",
        str(results),
    )
    assert out.returncode == 0, out.stderr
    assert (
        "299 of 300 rows imported" in out.stderr
        and "row 5: no example (alpacaeval-easy, 123456789)" in out.stderr
    )
    out = _rayward("leaderboard", "--results", str(results), "--format", "json")
    (row,) = json.loads(out.stdout)
    assert (
        row["model"] == "org/m"
        and row["complete"] is False
        and "alpacaeval-easy 99/100" in row["incomplete_subsets"]
    )
    out = _rayward(
        "export",
        "--format",
        "rewardbench",
        "--model",
        "org/m",
        "--out",
        str(tmp_path / "x"),
        "--results",
        str(results),
    )
    assert out.returncode == 0, out.stderr
    assert (tmp_path / "x/eval-set-scores/org/m.json").is_file() and (
        tmp_path / "x/eval-set/org/m.json"
    ).is_file()
    # RewardBench 2: its own sections, in its order
    write_lists(results, "20260101T000000Z-a", "m2", V2_ROWS)
    out = _rayward(
        "leaderboard", "--results", str(results), "--benchmark", "reward-bench-2", "--format", "csv"
    )
    header = out.stdout.splitlines()[0].split(",")
    assert header[:9] == [
        "model",
        "kind",
        "Factuality",
        "Precise IF",
        "Math",
        "Safety",
        "Focus",
        "Ties",
        "score",
    ]
    assert "incomplete_subsets" in header
    out = _rayward("leaderboard", "--results", str(results), "--benchmark", "reward-bench-2", "--ci")
    assert out.returncode == 2 and "pairwise benchmarks only" in out.stderr
    out = _rayward(
        "import",
        str(f),
        "--model",
        "x",
        "--source",
        str(tmp_path / "nope.parquet"),
        "--results",
        str(results),
    )
    assert out.returncode == 2 and "not found" in out.stderr


def test_benchmarks_lists_the_data_tables():
    out = _rayward("benchmarks", "--format", "json")
    rows = json.loads(out.stdout)
    ties = next(r for r in rows if r["benchmark"] == "reward-bench-2" and r["subset"] == "Ties")
    assert ties["rule"] == "ties" and ties["n_expected"] == "102"
    shp = next(r for r in rows if r["subset"] == "shp")
    assert (shp["section"], shp["section_weight"], shp["optional"]) == ("Prior Sets", "1", "true")


def test_table_names_a_few_incomplete_subsets_and_counts_the_rest():
    from orchestrator.cli import _abbreviate

    assert _abbreviate(None) is None
    assert _abbreviate("a 2/100, b 2/95") == "a 2/100, b 2/95"
    assert _abbreviate("a 2/100, b 2/95, c 2/95, d 2/28, e 1/9") == (
        "a 2/100, b 2/95, c 2/95 (+2 more; --format json lists all)"
    )
