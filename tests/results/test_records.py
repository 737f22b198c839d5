import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from orchestrator.results.records import (
    RECORD_SCHEMA,
    SCHEMA_VERSION,
    encode_part,
    make_table,
    new_run_id,
    partition_dir,
    read_manifests,
    record_files,
    write_manifest,
    write_shard,
)


def _table(n=3, model="org/m", run_id="r1"):
    return make_table(
        {
            "schema_version": [SCHEMA_VERSION] * n,
            "run_id": [run_id] * n,
            "benchmark": ["reward-bench"] * n,
            "model": [model] * n,
            "kind": ["classifier"] * n,
            "subset": ["hep-go"] * n,
            "example_id": list(range(n)),
            "row_index": list(range(n)),
            "score_chosen": [1.0] * n,
            "score_rejected": [0.0] * n,
            "correct": [True] * n,
            "shard": [0] * n,
        }
    )


def test_schema_is_versioned_and_raw():
    assert RECORD_SCHEMA.metadata[b"rayward.schema_version"] == str(SCHEMA_VERSION).encode()
    names = RECORD_SCHEMA.names
    for col in (
        "run_id",
        "model",
        "kind",
        "benchmark",
        "subset",
        "example_id",
        "row_index",
        "prompt",
        "chosen",
        "rejected",
        "score_chosen",
        "score_rejected",
        "correct",
    ):
        assert col in names
    assert not any("prob" in n for n in names)


def test_write_shard_atomic_and_partitioned(tmp_path):
    path = write_shard(tmp_path, _table(), benchmark="reward-bench", model="org/m", run_id="r1", shard=3)
    assert (
        path.relative_to(tmp_path).as_posix()
        == "records/benchmark=reward-bench/model=org%2Fm/run=r1/shard-00003.parquet"
    )
    assert pq.read_table(path).num_rows == 3
    assert [p.name for p in path.parent.iterdir()] == ["shard-00003.parquet"]  # no temp files left
    assert record_files(tmp_path) == [path]


def test_failed_write_leaves_old_file_intact(tmp_path):
    path = write_shard(tmp_path, _table(2), benchmark="reward-bench", model="m", run_id="r1", shard=0)
    bad = pa.table({"nonsense": [1]})
    with pytest.raises(Exception):
        write_shard(tmp_path, bad, benchmark="reward-bench", model="m", run_id="r1", shard=0)
    assert pq.read_table(path).num_rows == 2
    assert sorted(p.name for p in path.parent.iterdir()) == ["shard-00000.parquet"]


@pytest.mark.parametrize("name", ["..", ".", ""])
def test_traversal_names_rejected(name):
    with pytest.raises(ValueError):
        encode_part(name)


def test_partition_stays_under_root(tmp_path):
    d = partition_dir(tmp_path, "reward-bench", "a/../../etc", "r")
    assert tmp_path.resolve() in d.resolve().parents


def test_run_ids_sort_by_time_and_are_unique():
    ids = [new_run_id() for _ in range(50)]
    assert len(set(ids)) == 50
    assert ids == sorted(ids) or all(a[:17] <= b[:17] for a, b in zip(ids, ids[1:]))


def test_manifests_roundtrip_and_skip_damaged(tmp_path):
    write_manifest(tmp_path, {"run_id": "r1", "models": []})
    (tmp_path / "runs" / "junk.json").write_text("{not json")
    assert [m["run_id"] for m in read_manifests(tmp_path)] == ["r1"]
