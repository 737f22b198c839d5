import json

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


# ------------------------------------------------------------ example metadata (the examples table's `metadata`)


def _pairs_table(n, metadata=None, run_id="run-1"):
    from orchestrator.results.records import METADATA, SCHEMA_VERSION, make_table

    t = make_table(
        {
            "schema_version": [SCHEMA_VERSION] * n,
            "run_id": [run_id] * n,
            "benchmark": ["ppe-human"] * n,
            "model": ["m"] * n,
            "kind": ["classifier"] * n,
            "subset": ["human-preference"] * n,
            "example_id": list(range(n)),
            "row_index": list(range(n)),
            "prompt": [f"p{i}" for i in range(n)],
            "chosen": [f"c{i}" for i in range(n)],
            "rejected": [f"r{i}" for i in range(n)],
            "score_chosen": [1.0] * n,
            "score_rejected": [0.0] * n,
            "correct": [True] * n,
            "shard": [0] * n,
        }
    )
    if metadata is not None:
        t = t.append_column("metadata", pa.array([list(m.items()) for m in metadata], METADATA))
    return t


def _manifest(root):
    from orchestrator.results.records import write_manifest

    write_manifest(
        root,
        {
            "run_id": "run-1",
            "job": "t",
            "started_at": "2026-01-01T00:00:00+00:00",
            "models": [
                {"model": "m", "benchmark": "ppe-human", "kind": "classifier", "status": "ok", "n_records": 2}
            ],
        },
    )


def test_the_texts_key_without_metadata_is_what_it_always_was(tmp_path):
    """Benchmarks that keep no metadata write the same examples files as before it existed: the key is the
    sha256 of the JSON of row_index and each text column, each followed by a NUL byte (first 32 hex digits)."""
    import hashlib

    from orchestrator.results.records import TEXT_COLUMNS, write_shard

    table = _pairs_table(2)
    write_shard(tmp_path, table, benchmark="ppe-human", model="m", run_id="run-1", shard=0)
    digest = hashlib.sha256()
    for name in ("row_index", *TEXT_COLUMNS):
        digest.update(json.dumps(table.column(name).to_pylist(), separators=(",", ":")).encode() + b"\0")
    [file] = (tmp_path / "examples").glob("*.parquet")
    assert file.stem == digest.hexdigest()[:32]
    assert pq.read_table(file).column("metadata").null_count == 2
    # an all-null metadata column is no metadata: the same key
    nulls = table.append_column("metadata", pa.nulls(2, pa.map_(pa.string(), pa.string())))
    write_shard(tmp_path, nulls, benchmark="ppe-human", model="m", run_id="run-2", shard=0)
    assert [f.stem for f in (tmp_path / "examples").glob("*.parquet")] == [file.stem]


def test_metadata_goes_to_the_examples_table_and_reads_from_sql(tmp_path):
    from orchestrator.query.db import connect
    from orchestrator.results.records import write_shard

    meta = [{"model_a": "x", "language": "English"}, {"model_a": "y", "language": "Русский"}]
    write_shard(tmp_path, _pairs_table(2, meta), benchmark="ppe-human", model="m", run_id="run-1", shard=0)
    write_shard(
        tmp_path, _pairs_table(2, run_id="run-0"), benchmark="ppe-human", model="m", run_id="run-0", shard=0
    )
    _manifest(tmp_path)
    assert len(list((tmp_path / "examples").glob("*.parquet"))) == 2  # other metadata, another examples file
    sql = "SELECT run_id, row_index, prompt, metadata['language'], metadata FROM records ORDER BY run_id, row_index"
    rows = connect(tmp_path).sql(sql).fetchall()
    assert [r[:4] for r in rows] == [
        ("run-0", 0, "p0", None),
        ("run-0", 1, "p1", None),
        ("run-1", 0, "p0", "English"),
        ("run-1", 1, "p1", "Русский"),
    ]
    assert rows[2][4] == {"model_a": "x", "language": "English"}


def test_an_examples_file_without_the_metadata_column_still_reads(tmp_path):
    """Stores written by the release before metadata: their examples files lack the column; it reads as null."""
    from orchestrator.query.db import connect
    from orchestrator.results.records import EXAMPLES_SCHEMA, write_shard

    write_shard(tmp_path, _pairs_table(2), benchmark="ppe-human", model="m", run_id="run-1", shard=0)
    _manifest(tmp_path)
    [file] = (tmp_path / "examples").glob("*.parquet")
    old = pq.read_table(file).drop_columns(["metadata"])  # exactly the previous release's examples schema
    assert old.schema.names == [n for n in EXAMPLES_SCHEMA.names if n != "metadata"]
    pq.write_table(old, file)
    con = connect(tmp_path)
    got = con.sql("SELECT prompt, chosen, metadata FROM latest_records ORDER BY row_index").fetchall()
    assert got == [("p0", "c0", None), ("p1", "c1", None)]
    assert con.sql("SELECT count(*) FROM ppe_preference_categories").fetchall() == [(1,)]  # just overall
