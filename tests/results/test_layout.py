"""The store at scale: texts once, cache-served units as references, compaction, gc and upgrade (docs/store.md)."""

from __future__ import annotations

import json
import threading

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from orchestrator.query.db import connect, leaderboard
from orchestrator.results.catalog import read_catalog
from orchestrator.results.compact import compact_run, compact_store, gc_store
from orchestrator.results.records import (
    RECORD_SCHEMA,
    SCHEMA_VERSION,
    TEXT_COLUMNS,
    make_table,
    read_manifests,
    run_lock_name,
    write_manifest,
    write_shard,
)
from orchestrator.results.reuse import write_cached_unit
from orchestrator.results.store import open_store
from orchestrator.results.upgrade import upgrade_store

SHARD = 1000


def _examples(filtered_path, limit=None):
    t = pq.read_table(filtered_path)
    return t if limit is None else t.slice(0, limit)


def _table(src, model, run_id, *, seed=0, cached_from=None):
    """Full records of ``model`` over ``src`` for ``run_id``: scores a function of (seed, row)."""
    import numpy as np

    n = src.num_rows
    rng = np.random.default_rng(seed)
    chosen = rng.normal(0.5, 1.0, n)
    rejected = rng.normal(0.0, 1.0, n)
    return make_table(
        {
            "schema_version": [SCHEMA_VERSION] * n,
            "run_id": [run_id] * n,
            "benchmark": ["reward-bench"] * n,
            "model": [model] * n,
            "kind": ["classifier"] * n,
            "subset": src.column("subset"),
            "example_id": src.column("id"),
            "row_index": list(range(n)),
            "prompt": src.column("prompt"),
            "chosen": src.column("chosen"),
            "rejected": src.column("rejected"),
            "score_chosen": chosen,
            "score_rejected": rejected,
            "correct": chosen > rejected,
            "shard": [i // SHARD for i in range(n)],
            "scorer": ["transformers"] * n,
            "cached_from": [cached_from] * n,
        }
    )


def _night(root, src, run_id, models, *, cached_from=None, seeds=None, status="ok", only=None):
    """One run over ``models`` as the driver writes it: scored units as shards, cache-served ones via reuse
    (``only``: just those shards)."""
    seeds = seeds or {}
    entries = []
    for i, model in enumerate(models):
        table = _table(src, model, run_id, seed=seeds.get(model, i), cached_from=cached_from)
        shards = list(range(0, (src.num_rows + SHARD - 1) // SHARD))
        for shard in shards if only is None else only:
            part = table.slice(shard * SHARD, SHARD)
            write = write_cached_unit if cached_from else write_shard
            write(root, part, benchmark="reward-bench", model=model, run_id=run_id, shard=shard)
        entries.append(
            {
                "model": model,
                "benchmark": "reward-bench",
                "kind": "classifier",
                "status": status,
                "n_records": src.num_rows,
                "shards": shards if only is None else only,
            }
        )
    write_manifest(root, {"run_id": run_id, "job": "t", "status": status, "models": entries})


def _all_records(root):
    con = connect(root)
    try:
        return con.sql(
            "SELECT * EXCLUDE (texts) FROM records ORDER BY run_id, model, row_index"
        ).to_arrow_table()
    finally:
        con.close()


def _board(root):
    return sorted((r["model"], r["score"], r["run_id"]) for r in leaderboard(root))


def test_texts_are_written_once_and_records_show_them(tmp_path, filtered_path):
    src = _examples(filtered_path)
    _night(tmp_path, src, "20260101T000000Z-a", ["m1", "m2", "m3"])
    # three models, three shards each: the texts of each shard stored once
    assert len(list((tmp_path / "examples").glob("*.parquet"))) == 3
    for f in (tmp_path / "records").rglob("shard-*.parquet"):
        t = pq.read_table(f)
        assert all(t.column(c).null_count == t.num_rows for c in TEXT_COLUMNS)
        assert t.column("texts").null_count == 0
    got = _all_records(tmp_path)
    assert got.num_rows == 3 * src.num_rows
    m1 = got.filter(pa.compute.equal(got.column("model"), "m1"))
    assert m1.column("prompt").to_pylist() == src.column("prompt").to_pylist()
    assert m1.column("chosen").to_pylist() == src.column("chosen").to_pylist()
    assert m1.column("rejected").to_pylist() == src.column("rejected").to_pylist()
    con = connect(tmp_path)
    latest = con.execute("SELECT prompt FROM latest_records WHERE model = 'm2' ORDER BY row_index").fetchall()
    assert [r[0] for r in latest] == src.column("prompt").to_pylist()


def test_a_cache_served_night_is_references_and_reads_as_copies(tmp_path, filtered_path):
    src = _examples(filtered_path)
    night1, night2 = "20260101T000000Z-a", "20260102T000000Z-b"
    _night(tmp_path, src, night1, ["m1", "m2"])
    bytes1 = sum(f.stat().st_size for f in tmp_path.rglob("*") if f.is_file())
    _night(tmp_path, src, night2, ["m1", "m2"], cached_from=night1)
    night2_files = list((tmp_path / "records").glob(f"*/*/run={night2}/*"))
    assert night2_files and all(f.name.endswith(".ref.json") for f in night2_files)
    growth = sum(f.stat().st_size for f in tmp_path.rglob("*") if f.is_file()) - bytes1
    assert growth < 0.05 * bytes1, (growth, bytes1)
    got = _all_records(tmp_path)
    one = got.filter(pa.compute.equal(got.column("run_id"), night1))
    two = got.filter(pa.compute.equal(got.column("run_id"), night2))
    assert two.column("cached_from").to_pylist() == [night1] * two.num_rows
    keep = [c for c in one.column_names if c not in ("run_id", "cached_from")]
    assert two.select(keep).equals(one.select(keep))
    board = _board(tmp_path)
    assert [r[2] for r in board] == [night2, night2]
    # the numbers are those of night 1's records
    _, sc1, _ = board[0]
    con = connect(tmp_path)
    (n1,) = con.execute(
        "SELECT avg(correct::INT) FROM records WHERE model = 'm1' AND run_id = $r", {"r": night1}
    ).fetchone()
    (n2,) = con.execute("SELECT avg(correct::INT) FROM latest_records WHERE model = 'm1'").fetchone()
    assert n1 == n2


def test_changed_scores_are_stored_not_referenced(tmp_path, filtered_path):
    src = _examples(filtered_path, 1500)
    night1, night2 = "20260101T000000Z-a", "20260102T000000Z-b"
    _night(tmp_path, src, night1, ["m1"])
    # cache-served, but the scores differ from night 1's (a --no-cache refresh in between): stored
    _night(tmp_path, src, night2, ["m1"], cached_from="20260101T120000Z-x", seeds={"m1": 7})
    files = list((tmp_path / "records").glob(f"*/*/run={night2}/*"))
    assert sorted(f.name for f in files) == ["shard-00000.parquet", "shard-00001.parquet"]
    got = _all_records(tmp_path)
    assert set(
        got.filter(pa.compute.equal(got.column("run_id"), night2)).column("cached_from").to_pylist()
    ) == {"20260101T120000Z-x"}


def test_compaction_merges_shards_and_folds_references_without_changing_a_view(tmp_path, filtered_path):
    src = _examples(filtered_path)
    night1, night2 = "20260101T000000Z-a", "20260102T000000Z-b"
    _night(tmp_path, src, night1, ["m1", "m2"])
    _night(tmp_path, src, night2, ["m1", "m2"], cached_from=night1)
    before, board = _all_records(tmp_path), _board(tmp_path)
    reports = compact_store(tmp_path)
    assert [r.status for r in reports] == ["compacted", "compacted"]
    assert reports[0].merged_files == 6 and reports[0].part_files == 2
    assert reports[1].refs_folded == 6
    assert not list((tmp_path / "records").rglob("shard-*"))
    assert len(list((tmp_path / "records").rglob("part-*.parquet"))) == 2
    manifests = {m["run_id"]: m for m in read_manifests(tmp_path)}
    assert len(manifests[night2]["reused_shards"]) == 6
    subsets = manifests[night2]["models"][0]["subsets"]
    assert sum(subsets.values()) == src.num_rows and subsets["math-prm"] == 447
    assert _all_records(tmp_path).equals(before)
    assert _board(tmp_path) == board
    assert compact_store(tmp_path) == []  # nothing left to compact


def test_compaction_counts_the_subsets_of_a_partly_reused_run_from_its_records(tmp_path, filtered_path):
    """A run reusing every unit of a compacted run takes its subset counts from that run's manifest; one reusing
    only some units counts the reused records (and either way the counts are those of the records)."""
    src = _examples(filtered_path)
    night1, night2, night3 = "20260101T000000Z-a", "20260102T000000Z-b", "20260103T000000Z-c"
    _night(tmp_path, src, night1, ["m1"])
    compact_store(tmp_path)
    _night(tmp_path, src, night2, ["m1"], cached_from=night1, only=[0, 2])
    _night(tmp_path, src, night3, ["m1"], cached_from=night1)
    compact_store(tmp_path)
    manifests = {m["run_id"]: m for m in read_manifests(tmp_path)}
    con = connect(tmp_path)
    for run in (night1, night2, night3):
        counted = dict(
            con.execute(
                "SELECT subset, count(*) FROM records WHERE run_id = $r GROUP BY subset", {"r": run}
            ).fetchall()
        )
        assert manifests[run]["models"][0]["subsets"] == dict(sorted(counted.items())), run
    assert sum(manifests[night2]["models"][0]["subsets"].values()) == src.num_rows - SHARD
    assert manifests[night3]["models"][0]["subsets"] == manifests[night1]["models"][0]["subsets"]


def test_compaction_skips_runs_a_driver_holds_or_may_resume(tmp_path, filtered_path):
    src = _examples(filtered_path, 2500)
    _night(tmp_path, src, "20260101T000000Z-a", ["m1"])
    _night(tmp_path, src, "20260102T000000Z-b", ["m1"], status="partial")
    store = open_store(tmp_path)
    with store.lock(run_lock_name("20260101T000000Z-a")):
        assert compact_run(tmp_path, "20260101T000000Z-a").status.startswith("skipped: a driver holds")
    assert "may be resumed" in compact_run(tmp_path, "20260102T000000Z-b").status
    assert len(list((tmp_path / "records").rglob("shard-*.parquet"))) == 6
    assert compact_run(tmp_path, "20260101T000000Z-a").status == "compacted"


def test_readers_during_compaction_and_a_concurrent_run_always_see_every_record(tmp_path, filtered_path):
    src = _examples(filtered_path)
    runs = [f"2026010{i}T000000Z-{i}" for i in range(1, 4)]
    for i, run in enumerate(runs[:2]):
        _night(tmp_path, src, run, ["m1", "m2", "m3"], cached_from=runs[0] if i else None)
    expected = {runs[0]: 3 * src.num_rows, runs[1]: 3 * src.num_rows}
    errors: list[BaseException] = []
    done = threading.Event()

    def writer():  # compaction of the finished runs and a third run being written at the same time
        try:
            _night(tmp_path, src, runs[2], ["m4"])
            compact_store(tmp_path, run_ids=runs[:2])
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            done.set()

    thread = threading.Thread(target=writer)
    thread.start()
    seen = 0
    while not done.is_set() or seen == 0:
        con = connect(tmp_path)
        try:
            counts = dict(con.execute("SELECT run_id, count(*) FROM records GROUP BY run_id").fetchall())
        except Exception as exc:  # a file deleted between listing and reading: never a wrong count
            assert "No such file" in str(exc) or "not found" in str(exc).lower(), exc
            continue
        finally:
            con.close()
        for run in runs[:2]:
            assert counts.get(run) == expected[run], counts
        assert counts.get(runs[2], 0) % 1 == 0
        seen += 1
    thread.join()
    assert not errors, errors
    assert _all_records(tmp_path).num_rows == 7 * src.num_rows


def test_gc_keeps_latest_referenced_and_locked_runs(tmp_path, filtered_path):
    src = _examples(filtered_path)
    r1, r2, r3, r4 = (f"2026010{i}T000000Z-{i}" for i in range(1, 5))
    _night(tmp_path, src, r1, ["a", "b"])  # b's only run: its latest
    _night(tmp_path, src, r2, ["a"], seeds={"a": 5})
    _night(tmp_path, src, r3, ["a"], seeds={"a": 6})
    _night(tmp_path, src, r4, ["a"], cached_from=r3, seeds={"a": 6})  # references r3
    _night(
        tmp_path, src, "20260105T000000Z-f", ["b"], status="failed"
    )  # b's newest run failed: r1 stays its latest
    board = _board(tmp_path)
    latest_records = (
        connect(tmp_path)
        .sql("SELECT * EXCLUDE (texts) FROM latest_records ORDER BY model, row_index")
        .to_arrow_table()
    )
    store = open_store(tmp_path)
    with store.lock(run_lock_name(r2)):
        report = gc_store(tmp_path, keep_last=1)
    assert report.skipped_locked == [r2]
    assert report.kept_latest == 1  # b's run r1
    assert report.kept_referenced == 1  # r3, which r4 reuses
    assert (tmp_path / "records" / "benchmark=reward-bench" / "model=b" / f"run={r1}").is_dir()
    assert not (tmp_path / "records" / "benchmark=reward-bench" / "model=a" / f"run={r1}").exists()
    m1 = next(m for m in read_manifests(tmp_path) if m["run_id"] == r1)
    assert [e["model"] for e in m1["models"]] == ["b"]
    assert _board(tmp_path) == board
    after = (
        connect(tmp_path)
        .sql("SELECT * EXCLUDE (texts) FROM latest_records ORDER BY model, row_index")
        .to_arrow_table()
    )
    assert after.equals(latest_records)
    report = gc_store(tmp_path, keep_last=1)  # r2 no longer locked: removed now, its manifest too
    assert report.removed_runs == [r2]
    assert _board(tmp_path) == board
    with pytest.raises(ValueError):
        gc_store(tmp_path, keep_last=0)


def _legacy_schema():
    """Record schema version 3 (the release before texts once): no ``texts`` field."""
    fields = [f for f in RECORD_SCHEMA if f.name != "texts"]
    return pa.schema(fields, metadata={b"rayward.schema_version": b"3"})


def _write_legacy(root, src, model, run_id, seed=0):
    table = _table(src, model, run_id, seed=seed).drop_columns(["texts"]).cast(_legacy_schema())
    table = table.set_column(0, "schema_version", pa.array([3] * table.num_rows, pa.int16()))
    for shard in range(0, (src.num_rows + SHARD - 1) // SHARD):
        d = root / "records" / "benchmark=reward-bench" / f"model={model}" / f"run={run_id}"
        d.mkdir(parents=True, exist_ok=True)
        pq.write_table(
            table.slice(shard * SHARD, SHARD), d / f"shard-{shard:05d}.parquet", compression="zstd"
        )
    (root / "runs").mkdir(exist_ok=True)
    (root / "runs" / f"{run_id}.json").write_text(
        json.dumps(
            {
                "run_id": run_id,
                "job": "old",
                "status": "ok",
                "models": [
                    {
                        "model": model,
                        "benchmark": "reward-bench",
                        "kind": "classifier",
                        "status": "ok",
                        "n_records": src.num_rows,
                    }
                ],
            }
        )
    )


def test_a_store_of_the_previous_release_reads_as_it_is_and_upgrades_losing_nothing(tmp_path, filtered_path):
    src = _examples(filtered_path)
    _write_legacy(tmp_path, src, "old-a", "20251201T000000Z-a", seed=1)
    _write_legacy(tmp_path, src, "old-b", "20251201T000000Z-a", seed=2)
    _write_legacy(tmp_path, src, "old-a", "20251202T000000Z-b", seed=3)
    _night(tmp_path, src, "20260101T000000Z-c", ["new"])  # a new run into the old store: mixed versions
    before = _all_records(tmp_path)
    board = _board(tmp_path)
    assert (
        before.filter(pa.compute.equal(before.column("model"), "old-a")).column("prompt").to_pylist()[:3]
        == (src.column("prompt").to_pylist()[:3])
    )
    bytes_before = sum(f.stat().st_size for f in (tmp_path / "records").rglob("*.parquet"))
    report = upgrade_store(tmp_path)
    assert report.rewritten_files == 9
    assert report.bytes_after < report.bytes_before / 5
    assert [c.status for c in report.compacted] == ["compacted"] * 3
    after = _all_records(tmp_path)
    assert after.drop_columns(["schema_version"]).equals(before.drop_columns(["schema_version"]))
    assert set(after.column("schema_version").to_pylist()) == {SCHEMA_VERSION}
    assert _board(tmp_path) == board
    assert sum(f.stat().st_size for f in (tmp_path / "records").rglob("*.parquet")) < bytes_before / 5
    assert upgrade_store(tmp_path).rewritten_files == 0  # idempotent
    assert all("subsets" in e for m in read_manifests(tmp_path) for e in m["models"])


def test_upgrade_skips_a_run_being_written(tmp_path, filtered_path):
    src = _examples(filtered_path, 500)
    _write_legacy(tmp_path, src, "old-a", "20251201T000000Z-a")
    with open_store(tmp_path).lock(run_lock_name("20251201T000000Z-a")):
        report = upgrade_store(tmp_path, compact=False)
    assert report.skipped_locked == ["20251201T000000Z-a"] and report.rewritten_files == 0
    assert upgrade_store(tmp_path, compact=False).rewritten_files == 1


def test_latest_runs_come_from_manifests_after_compaction(tmp_path, filtered_path):
    """A compacted run's subsets are read from its manifest, not from its records."""
    src = _examples(filtered_path)
    old, new = "20260101T000000Z-a", "20260102T000000Z-b"
    _night(tmp_path, src, old, ["m1"])
    _night(tmp_path, src, new, ["m1"], seeds={"m1": 9})
    compact_store(tmp_path)
    con = connect(tmp_path)
    assert con.execute("SELECT DISTINCT run_id FROM latest_subset_runs").fetchall() == [(new,)]
    # the manifest is what readers trust: a newer run whose manifest lists one subset is the latest for that one only
    path = tmp_path / "runs" / f"{new}.json"
    manifest = json.loads(path.read_text())
    manifest["models"][0]["subsets"] = {"alpacaeval-easy": 100}
    path.write_text(json.dumps(manifest))
    con = connect(tmp_path)
    runs = dict(con.execute("SELECT subset, run_id FROM latest_subset_runs").fetchall())
    assert runs.pop("alpacaeval-easy") == new and set(runs.values()) == {old}
    (n,) = con.execute("SELECT count(*) FROM latest_records WHERE run_id = $r", {"r": new}).fetchone()
    assert n == 100
    assert len(read_catalog(tmp_path).partitions) == 2


def test_a_cache_served_night_takes_its_totals_from_the_night_it_reuses(tmp_path, filtered_path):
    """Compaction of a night whose units are all references copies the reused night's subset totals (no record
    is read); the views give exactly the record-derived numbers."""
    from tests._synth import assert_totals_exact

    src = _examples(filtered_path, 1500)
    night1, night2 = "20260101T000000Z-a", "20260102T000000Z-b"
    _night(tmp_path, src, night1, ["m1", "m2"])
    _night(tmp_path, src, night2, ["m1", "m2"], cached_from=night1)
    assert_totals_exact(tmp_path)
    manifests = {m["run_id"]: m for m in read_manifests(tmp_path)}
    first, second = ({e["model"]: e for e in manifests[r]["models"]} for r in (night1, night2))
    assert all(second[m]["totals_from"] == night1 and "subset_scores" not in second[m] for m in ("m1", "m2"))
    assert all(first[m]["subset_scores"] for m in ("m1", "m2"))
    assert all(not second[m].get("part_files") for m in ("m1", "m2"))  # no record file of its own


def test_a_night_reusing_a_run_with_stale_totals_redoes_them_there_once(tmp_path, filtered_path):
    """After an upgrade of the scoring SQL, the run a night reuses has totals under an old key: compacting the night
    recomputes that run's totals (once), so the night and the ones after it point to them instead of reading."""
    from tests._synth import assert_totals_exact

    src = _examples(filtered_path, 1500)
    night1, night2 = "20260101T000000Z-a", "20260102T000000Z-b"
    _night(tmp_path, src, night1, ["m1"])
    compact_store(tmp_path)
    old = {m["run_id"]: m for m in read_manifests(tmp_path)}[night1]
    current = old["totals_key"]
    write_manifest(tmp_path, {**old, "totals_key": "from-an-older-release"})
    _night(tmp_path, src, night2, ["m1"], cached_from=night1)
    compact_store(tmp_path, run_ids=[night2])
    manifests = {m["run_id"]: m for m in read_manifests(tmp_path)}
    assert manifests[night1]["totals_key"] == current  # redone in the reused run
    assert manifests[night2]["models"][0]["totals_from"] == night1
    assert_totals_exact(tmp_path)


def test_a_read_that_loses_its_files_to_a_compaction_lists_the_store_again(tmp_path, filtered_path):
    """Records are read lazily: another run's compaction may remove shards a connection listed (two runs on one
    store, one printing its leaderboard while the other compacts). `read_store` lists again and reads again."""
    from orchestrator.query.db import read_store

    src = _examples(filtered_path)
    run = "20260101T000000Z-a"
    _night(tmp_path, src, run, ["m1", "m2"])
    calls = []

    def count(con):
        calls.append(1)
        if len(calls) == 1:  # the shards this connection listed are merged and removed before it reads them
            assert compact_run(tmp_path, run).status == "compacted"
        return dict(con.execute("SELECT model, count(*) FROM records GROUP BY model").fetchall())

    assert read_store(tmp_path, count) == {"m1": src.num_rows, "m2": src.num_rows}
    assert len(calls) == 2  # the first read failed on a removed file, the second saw the compacted file


def test_a_file_of_an_older_schema_whose_nested_struct_lacks_a_newer_field_is_read_not_skipped(
    tmp_path, filtered_path, caplog
):
    """Record schema v7 added ``judge_outputs[].fallback``; a file written before it is readable (the field reads
    as null), so its records count. A column of a wrong type is still a damaged file."""
    import logging

    from orchestrator.results.integrity import record_file_problem

    src = _examples(filtered_path, 300)
    _night(tmp_path, src, "20260101T000000Z-a", ["m1"])
    (path,) = (tmp_path / "records").rglob("shard-*.parquet")
    table = pq.read_table(path)
    outputs = table.schema.field("judge_outputs").type.value_type
    older = pa.list_(pa.struct([f for f in outputs if f.name != "fallback"]))
    i = table.schema.get_field_index("judge_outputs")
    pq.write_table(table.set_column(i, pa.field("judge_outputs", older), table.column(i).cast(older)), path)
    assert record_file_problem(open_store(tmp_path), path) is None
    with caplog.at_level(logging.WARNING):
        assert _all_records(tmp_path).num_rows == src.num_rows
    assert not any("damaged" in r.getMessage() for r in caplog.records)

    wrong = table.set_column(i, pa.field("judge_outputs", pa.string()), pa.nulls(table.num_rows, pa.string()))
    pq.write_table(wrong, path)
    assert "judge_outputs" in record_file_problem(open_store(tmp_path), path)
