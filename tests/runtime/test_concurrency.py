"""Two `rayward run` processes writing to one results store at the same time."""

import json
import os
import subprocess
import sys

from orchestrator.results.records import read_manifests, record_files
from tests.conftest import REPO, start_cli, write_job


def test_two_runs_at_once_on_one_store(tmp_path, filtered_path, tiny_models):
    """The same job twice, started together (one names the store by a file:// URI): both runs complete, every record
    is readable, exactly one record per (run, model, example), and the leaderboard works."""
    import duckdb

    store = tmp_path / "store"
    models = {"a": tiny_models["tiny-rm"], "b": tiny_models["tiny-rm-b"]}
    same = write_job(tmp_path / "same.yaml", "same", filtered_path, models, limit=2, shard_size=8)
    procs = [
        start_cli("run", str(same), "--results", str(store)),
        start_cli("run", str(same), "--results", f"file://{store}"),
    ]
    outs = [p.communicate(timeout=600) for p in procs]
    for p, (_, err) in zip(procs, outs):
        assert p.returncode == 0, err[-3000:]

    manifests = read_manifests(store)
    assert sorted(m["job"] for m in manifests) == ["same", "same"]
    assert len({m["run_id"] for m in manifests}) == 2
    assert all(
        m["status"] == "ok" and all(e["status"] == "ok" and e["n_records"] == 46 for e in m["models"])
        for m in manifests
    )
    files = record_files(store)
    assert len(files) == 2 * 2  # 46 rows in shards of 8 per (run, model), compacted into one file each
    con = duckdb.connect()
    per_key = con.sql(
        f"SELECT run_id, model, example_id, count(*) AS n FROM read_parquet({[str(f) for f in files]}) "
        "GROUP BY ALL"
    ).fetchall()
    assert len(per_key) == 4 * 46 and {r[3] for r in per_key} == {1}
    assert not [p for p in store.rglob("*") if p.name.endswith(".tmp")]

    env = {**os.environ, "PYTHONPATH": str(REPO)}
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "orchestrator.cli",
            "leaderboard",
            "--results",
            str(store),
            "--format",
            "json",
        ],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    rows = json.loads(out.stdout)
    assert sorted(r["model"] for r in rows) == ["a", "b"]
    # both runs of the same job scored the same examples with the same models: identical scores
    scores = con.sql(
        f"SELECT model, example_id, list(DISTINCT score_chosen) AS s FROM read_parquet({[str(f) for f in files]}) "
        "GROUP BY ALL"
    ).fetchall()
    assert all(len(s) == 1 for _, _, s in scores)
