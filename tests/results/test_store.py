"""Results stores named by URIs (file://, fsspec memory://, a non-local pyarrow filesystem), atomic writes, run locks."""

import json
import secrets

import pyarrow.fs as pafs
import pyarrow.parquet as pq
import pytest

from orchestrator.errors import ConfigError
from orchestrator.query.db import connect, leaderboard
from orchestrator.results.records import (
    read_manifests,
    record_files,
    run_lock_name,
    shard_rows,
    write_manifest,
    write_shard,
)
from orchestrator.results.store import LockHeld, Store, open_store
from tests._synth import bools, write_run
from tests.results.test_records import _table

RUN = {"alpacaeval-easy": bools(8, 10), "hep-go": bools(3, 4)}


def _memory_uri() -> str:
    pytest.importorskip("fsspec")
    return f"memory://rayward-test-{secrets.token_hex(4)}/results"


def _subtree_store(root) -> Store:
    """The local directory through a non-local pyarrow filesystem: the object-store/HDFS code path on real disk."""
    root.mkdir(parents=True, exist_ok=True)
    return Store(fs=pafs.SubTreeFileSystem(str(root), pafs.LocalFileSystem()), base="", uri=f"subtree:{root}")


def test_file_uri_is_the_local_directory(tmp_path):
    uri = f"file://{tmp_path}/r"
    store = open_store(uri)
    assert store.local == tmp_path / "r"
    write_run(uri, "20260101T000000000Z-aaaaaa", {"m": RUN})
    # the same on-disk layout as a plain path
    assert [p.relative_to(tmp_path / "r").as_posix() for p in record_files(tmp_path / "r")] == [
        "records/benchmark=reward-bench/model=m/run=20260101T000000000Z-aaaaaa/shard-00000.parquet"
    ]
    assert (tmp_path / "r/runs/20260101T000000000Z-aaaaaa.json").is_file()
    assert leaderboard(uri) == leaderboard(tmp_path / "r")


@pytest.mark.parametrize("kind", ["memory", "subtree"])
def test_non_local_store_round_trip(tmp_path, kind):
    store = open_store(_memory_uri()) if kind == "memory" else _subtree_store(tmp_path / "st")
    assert store.local is None
    write_run(store, "20260101T000000000Z-aaaaaa", {"m": RUN, "n": {"alpacaeval-easy": bools(2, 10)}})
    write_run(store, "20260102T000000000Z-bbbbbb", {"m": {"alpacaeval-easy": bools(10, 10)}})
    files = record_files(store)
    assert len(files) == 3 and all(isinstance(f, str) for f in files)
    assert shard_rows(store, "reward-bench", "m", "20260101T000000000Z-aaaaaa", 0) == 14
    assert shard_rows(store, "reward-bench", "m", "20260101T000000000Z-aaaaaa", 1) is None
    assert sorted(m["run_id"] for m in read_manifests(store)) == [
        "20260101T000000000Z-aaaaaa",
        "20260102T000000000Z-bbbbbb",
    ]
    con = connect(store)
    n = con.sql("SELECT run_id, model, count(*) AS n FROM records GROUP BY ALL ORDER BY ALL").fetchall()
    assert n == [
        ("20260101T000000000Z-aaaaaa", "m", 14),
        ("20260101T000000000Z-aaaaaa", "n", 10),
        ("20260102T000000000Z-bbbbbb", "m", 10),
    ]
    # latest run per subset: m's alpacaeval-easy from the second run, hep-go from the first
    acc = dict(con.sql("SELECT subset, accuracy FROM subset_accuracy WHERE model = 'm'").fetchall())
    assert acc == {"alpacaeval-easy": 1.0, "hep-go": 0.75}
    # the local store with the same content gives the same leaderboard
    write_run(
        tmp_path / "local", "20260101T000000000Z-aaaaaa", {"m": RUN, "n": {"alpacaeval-easy": bools(2, 10)}}
    )
    write_run(tmp_path / "local", "20260102T000000000Z-bbbbbb", {"m": {"alpacaeval-easy": bools(10, 10)}})
    assert leaderboard(store) == leaderboard(tmp_path / "local")


@pytest.mark.parametrize("kind", ["local", "subtree"])
def test_readers_ignore_temp_and_damaged_files(tmp_path, kind):
    store = open_store(tmp_path / "r") if kind == "local" else _subtree_store(tmp_path / "r")
    write_run(store, "r1", {"m": RUN})
    part = tmp_path / "r/records/benchmark=reward-bench/model=m/run=r1"
    # what a writer killed mid-write leaves: a half-written temp shard and a half-written temp manifest
    (part / ".shard-00001.parquet.k3j2.tmp").write_bytes(b"PAR1\x00\x00")
    (tmp_path / "r/runs/.r2.json.x81f.tmp").write_text('{"run_id": "r2", "mod')
    (tmp_path / "r/runs/junk.json").write_text("{not json")
    (tmp_path / "r/runs/list.json").write_text("[1, 2]")
    assert len(record_files(store)) == 1
    assert [m["run_id"] for m in read_manifests(store)] == ["r1"]
    assert connect(store).sql("SELECT count(*) FROM records").fetchall() == [(14,)]


def test_atomic_write_failure_keeps_the_old_file(tmp_path):
    store = _subtree_store(tmp_path / "r")
    write_shard(store, _table(2), benchmark="reward-bench", model="m", run_id="r1", shard=0)
    with pytest.raises(Exception):
        write_shard(
            store,
            _table(2).drop_columns(["run_id"]),
            benchmark="reward-bench",
            model="m",
            run_id="r1",
            shard=0,
        )
    part = tmp_path / "r/records/benchmark=reward-bench/model=m/run=r1"
    assert sorted(p.name for p in part.iterdir()) == ["shard-00000.parquet"]  # no temp file left
    assert pq.read_table(part / "shard-00000.parquet").num_rows == 2
    write_manifest(store, {"run_id": "r1", "status": "running"})
    write_manifest(store, {"run_id": "r1", "status": "ok"})
    assert json.loads((tmp_path / "r/runs/r1.json").read_text())["status"] == "ok"
    assert sorted(p.name for p in (tmp_path / "r/runs").iterdir()) == ["r1.json"]


@pytest.mark.parametrize("kind", ["local", "subtree"])
def test_a_writer_failing_half_way_publishes_nothing(tmp_path, kind):
    store = open_store(tmp_path / "r") if kind == "local" else _subtree_store(tmp_path / "r")

    def good(target):
        if isinstance(target, str):
            open(target, "wb").write(b"old complete content")
        else:
            target.write(b"old complete content")

    def bad(target):
        if isinstance(target, str):
            open(target, "wb").write(b"half of the new")
        else:
            target.write(b"half of the new")
        raise RuntimeError("disk full")

    store.write_atomic("runs/x.json", good)
    with pytest.raises(RuntimeError, match="disk full"):
        store.write_atomic("runs/x.json", bad)
    with pytest.raises(RuntimeError, match="disk full"):
        store.write_atomic("runs/new.json", bad)
    assert sorted(p.name for p in (tmp_path / "r/runs").iterdir()) == ["x.json"]
    assert (tmp_path / "r/runs/x.json").read_bytes() == b"old complete content"


def test_traversal_cannot_escape_a_uri_store(tmp_path):
    store = _subtree_store(tmp_path / "r")
    path = write_shard(
        store,
        _table(1, model="../../../x"),
        benchmark="reward-bench",
        model="../../../x",
        run_id="r1",
        shard=0,
    )
    assert path == "records/benchmark=reward-bench/model=%2E.%2F..%2F..%2Fx/run=r1/shard-00000.parquet"
    assert not (tmp_path / "x").exists()
    for bad in ("..", ".", ""):
        with pytest.raises(ValueError):
            write_manifest(store, {"run_id": bad})


def test_unknown_scheme_is_a_config_error():
    with pytest.raises(ConfigError, match="nosuchfs://x"):
        open_store("nosuchfs://x/results")


def test_run_lock_excludes_a_second_holder(tmp_path):
    store = open_store(tmp_path)
    with store.lock(run_lock_name("r1")):
        with pytest.raises(LockHeld):
            with store.lock(run_lock_name("r1")):
                pass
        with store.lock(run_lock_name("r2")):  # another run's lock is independent
            pass
    with store.lock(run_lock_name("r1")):  # released with its holder
        pass
    assert read_manifests(store) == []  # lock files are never manifests


def test_resume_skips_a_run_another_driver_holds(tmp_path, filtered_path):
    """`--resume` picks the newest incomplete run no live driver holds; an explicit id held by one is an error."""
    from contextlib import ExitStack

    from orchestrator.config import from_yaml
    from orchestrator.runtime.driver import _lock_run, _resumable
    from tests.conftest import write_job

    job = from_yaml(write_job(tmp_path / "j.yaml", "resumable", filtered_path, {"m": "models/m"}, limit=1))
    store = open_store(tmp_path / "r")
    for run_id in ("20260101T000000000Z-aaaaaa", "20260102T000000000Z-bbbbbb"):
        write_manifest(
            store,
            {
                "run_id": run_id,
                "job": "resumable",
                "status": "running",
                "config": job.model_dump(mode="json"),
                "models": [],
            },
        )
    newest = run_lock_name("20260102T000000000Z-bbbbbb")
    with store.lock(newest):  # the newest run's driver is alive
        with ExitStack() as held:
            chosen = _lock_run(held, store, _resumable(store, job, True))
            assert chosen["run_id"] == "20260101T000000000Z-aaaaaa"
        with ExitStack() as held, pytest.raises(ConfigError, match="being written by another driver"):
            _lock_run(held, store, _resumable(store, job, "20260102T000000000Z-bbbbbb"))
    with ExitStack() as held:  # its driver died: the lock went with it
        assert _lock_run(held, store, _resumable(store, job, True))["run_id"] == "20260102T000000000Z-bbbbbb"


def test_driver_writes_a_run_to_a_non_local_store(tmp_path, filtered_path, tiny_models, ray_cluster):
    """run_job with a memory:// store (fsspec, through pyarrow): shards and manifest land there, the views read them."""
    from orchestrator.config import from_yaml
    from orchestrator.runtime.driver import run_job
    from tests.conftest import write_job

    uri = _memory_uri()
    job = from_yaml(
        write_job(
            tmp_path / "j.yaml",
            "to-uri",
            filtered_path,
            {"m": tiny_models["tiny-rm"]},
            limit=1,
            shard_size=10,
        )
    )
    result = run_job(job, results=uri)
    assert result.ok and result.results == uri
    store = open_store(uri)
    assert len(record_files(store)) == 1  # 23 rows in shards of 10, compacted into one file after the run
    (manifest,) = read_manifests(store)
    assert manifest["status"] == "ok" and manifest["run_id"] == result.run_id
    assert manifest["models"][0]["shards"] == [0, 1, 2] and manifest["compacted"]
    (row,) = leaderboard(uri)
    assert row["model"] == "m" and row["run_id"] == result.run_id
    assert connect(uri).sql("SELECT count(DISTINCT example_id) FROM records").fetchall() == [(23,)]
    assert not (tmp_path / "results").exists() and not list(tmp_path.glob("memory*"))
