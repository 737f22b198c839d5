"""Scores-only connections (``connect(results, records=False)``, what ``rayward leaderboard`` uses): built from the
manifests' subset totals alone where they suffice, with the same numbers as a full connection; no record file
opened, no pandas imported; the record views left out (reading one is an error, never an empty answer); a store
whose scores need records gets the full connection."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from orchestrator.query.db import connect, leaderboard_rows
from orchestrator.results.compact import compact_store
from tests._synth import TOTALS_VIEWS, bools, write_run

REPO = Path(__file__).resolve().parents[2]


def _store(root: Path) -> Path:
    write_run(
        root,
        "20260101T000000Z-a",
        {
            "m1": {"alpacaeval-easy": bools(40, 100), "hep-go": bools(100, 164)},
            "m2": {"alpacaeval-easy": bools(70, 100), "xstest-should-respond": bools(200, 250)},
        },
    )
    write_run(root, "20260102T000000Z-b", {"m1": {"alpacaeval-easy": bools(90, 100)}})
    for path in (root / "runs").glob("*.json"):  # finished runs
        doc = json.loads(path.read_text())
        doc["status"] = "ok"
        path.write_text(json.dumps(doc))
    assert all(r.status == "compacted" for r in compact_store(root))
    return root


def _views(con) -> dict[str, list[tuple]]:
    return {v: con.execute(f'SELECT * FROM "{v}" ORDER BY ALL').fetchall() for v in TOTALS_VIEWS}


def test_same_scores_without_opening_a_record_file(tmp_path):
    root = _store(tmp_path / "r")
    full = connect(root)
    want, board = _views(full), leaderboard_rows(full)
    assert board[0] and {r["model"] for r in board[0]} == {"m1", "m2"}
    # every record file overwritten with garbage of the same size: a connection that opened one would fail
    files = list((root / "records").rglob("*.parquet"))
    assert files
    for f in files:
        f.write_bytes(b"\0" * f.stat().st_size)
    con = connect(root, records=False)
    assert _views(con) == want
    assert leaderboard_rows(con) == board
    # the record views are left out: reading one is a catalog error, never an empty table
    for view in ("latest_records", "records", "raw_records", "examples", "refusal_balance"):
        with pytest.raises(duckdb.CatalogException):
            con.execute(f"SELECT count(*) FROM {view}").fetchall()


def test_a_store_whose_scores_need_records_gets_the_full_connection(tmp_path):
    root = _store(tmp_path / "r")
    write_run(root, "20260103T000000Z-c", {"m2": {"hep-go": bools(10, 164)}})  # not compacted: no totals
    full, scores = connect(root), connect(root, records=False)
    assert _views(scores) == _views(full)
    got = scores.execute("SELECT model, count(*) FROM latest_records GROUP BY ALL ORDER BY ALL").fetchall()
    assert got == [("m1", 264), ("m2", 514)]


def test_a_latest_file_compaction_did_not_check_is_read_as_the_full_connection_reads_it(tmp_path):
    root = _store(tmp_path / "r")
    part = next((root / "records/benchmark=reward-bench/model=m1/run=20260102T000000Z-b").glob("*.parquet"))
    part.write_bytes(part.read_bytes()[:200])  # cut short: its size is not the one compaction recorded
    full, scores = connect(root), connect(root, records=False)
    assert _views(scores) == _views(full)
    rows = scores.execute("SELECT model, subset FROM subset_accuracy ORDER BY ALL").fetchall()
    assert ("m1", "alpacaeval-easy") not in rows and ("m1", "hep-go") in rows  # never from the totals
    (n,) = scores.execute("SELECT count(*) FROM latest_records").fetchone()  # a full connection
    assert n == 164 + 350


def test_a_scores_only_leaderboard_process_imports_no_pandas(tmp_path):
    root = _store(tmp_path / "r")
    code = (
        "import sys, json\n"
        "from orchestrator.query.db import connect, leaderboard_rows\n"
        "rows, _ = leaderboard_rows(connect(sys.argv[1], records=False))\n"
        "print(json.dumps({'pandas': 'pandas' in sys.modules, 'dataset': 'pyarrow.dataset' in sys.modules, "
        "'models': sorted(r['model'] for r in rows)}))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(root)], capture_output=True, text=True, cwd=REPO, check=True
    )
    assert json.loads(out.stdout) == {"pandas": False, "dataset": False, "models": ["m1", "m2"]}


def test_latest_records_of_whole_and_partly_replaced_runs(tmp_path):
    """A partition that is the latest run of every subset it holds is read as it is; one a later run replaced in
    part is joined with the newest run per subset (``_latest_all_whole`` / ``_latest_all_candidates``)."""
    root = tmp_path / "r"
    write_run(
        root, "20260101T000000Z-a", {"m1": {"alpacaeval-easy": bools(40, 100), "hep-go": bools(100, 164)}}
    )
    write_run(root, "20260102T000000Z-b", {"m1": {"alpacaeval-easy": bools(90, 100)}})
    for compacted in (False, True):
        if compacted:
            _store_ok(root)
        con = connect(root)
        got = con.execute(
            "SELECT subset, run_id, count(*), sum(correct::INT) FROM latest_records GROUP BY ALL ORDER BY ALL"
        ).fetchall()
        assert got == [
            ("alpacaeval-easy", "20260102T000000Z-b", 100, 90),
            ("hep-go", "20260101T000000Z-a", 164, 100),
        ]
        whole = con.execute("SELECT DISTINCT run_id FROM _latest_all_whole").fetchall()
        partial = con.execute("SELECT DISTINCT run_id FROM _latest_all_candidates").fetchall()
        assert whole == [("20260102T000000Z-b",)] and partial == [("20260101T000000Z-a",)]


def _store_ok(root: Path) -> None:
    for path in (root / "runs").glob("*.json"):
        doc = json.loads(path.read_text())
        doc["status"] = "ok"
        path.write_text(json.dumps(doc))
    assert all(r.status == "compacted" for r in compact_store(root))
