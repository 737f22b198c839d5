"""Rerun the integrity probe (issue 14): every bad-input and fault class, reproduced on real inputs, and what
Rayward does about it, printed as a table.

    python scripts/probe.py            # everything that needs no Ray (about a minute)
    python scripts/probe.py --full     # also the runs: a NaN head, a resume over changed data (local Ray)
    python scripts/probe.py --quick    # same as the default (kept for symmetry with benchmarks/)

Each row: the class, what the probe did, what Rayward answered (the first line of its error or warning), and
``ok`` when that is the documented behaviour (docs/reliability.md). Exit code 1 when a row is not ok.
Process-level faults (a second Ctrl-C during shutdown) are proven by tests/runtime/test_shutdown.py.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import shutil
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

DATA = REPO.parent / "shared" / "data" / "reward-bench" / "filtered.parquet"


class _Capture(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


def _first(text: str) -> str:
    line = str(text).strip().splitlines()[0] if str(text).strip() else ""
    return line if len(line) <= 150 else line[:147] + "..."


def _expect_error(fn: Callable[[], object], kind: type[BaseException], needle: str) -> tuple[str, bool]:
    try:
        fn()
    except kind as exc:
        return _first(str(exc)), needle in str(exc)
    except Exception as exc:  # the wrong kind of failure: a traceback for the user
        return f"{type(exc).__name__}: {_first(str(exc))}", False
    return "accepted without an error", False


def _expect_warning(fn: Callable[[], object], needle: str) -> tuple[str, bool]:
    cap = _Capture()
    logger = logging.getLogger("orchestrator")
    logger.addHandler(cap)
    level = logger.level
    logger.setLevel(logging.WARNING)
    logger.propagate = False
    try:
        fn()
    except Exception as exc:
        return f"{type(exc).__name__}: {_first(str(exc))}", False
    finally:
        logger.removeHandler(cap)
        logger.setLevel(level)
        logger.propagate = True
    hit = [m for m in cap.messages if needle in m]
    return (_first(hit[0]) if hit else "no warning"), bool(hit)


def probes(tmp: Path, data: Path, full: bool) -> list[tuple[str, str, str, bool]]:
    import pyarrow.parquet as pq

    from orchestrator.config import BenchmarkSpec, from_yaml
    from orchestrator.data import load_examples
    from orchestrator.errors import ConfigError, DataError, QueryError
    from orchestrator.query._sandbox import QueryTimeout, execute
    from orchestrator.query.compare import compare_models
    from orchestrator.query.db import connect, leaderboard
    from orchestrator.query.stats import verdict
    from orchestrator.results.integrity import check_store
    from orchestrator.results.interop import import_reference_scores
    from tests._synth import bools, write_run

    rows: list[tuple[str, str, str, bool]] = []

    def add(cls: str, did: str, result: tuple[str, bool]) -> None:
        rows.append((cls, did, *result))

    job = "name: j\nbenchmarks:\n  - name: reward-bench\n    source: {src}\n{extra}models:\n  - name: m\n    path: {path}\n"

    def job_file(name: str, text: str | bytes) -> Path:
        f = tmp / name
        f.write_bytes(text if isinstance(text, bytes) else text.encode())
        return f

    add(
        "job file not UTF-8",
        "latin-1 'é' in a path",
        _expect_error(
            lambda: from_yaml(
                job_file("a.yaml", job.format(src="caf\xe9", extra="", path="o/m").encode("latin-1"))
            ),
            ConfigError,
            "not UTF-8",
        ),
    )
    add(
        "duplicate YAML key",
        "limit: 3 then limit: 5",
        _expect_error(
            lambda: from_yaml(
                job_file("b.yaml", job.format(src=data, extra="    limit: 3\n    limit: 5\n", path="o/m"))
            ),
            ConfigError,
            "duplicate key 'limit'",
        ),
    )
    add(
        "subsets: []",
        "an empty subset list",
        _expect_error(
            lambda: from_yaml(
                job_file("c.yaml", job.format(src=data, extra="    subsets: []\n", path="o/m"))
            ),
            ConfigError,
            "subsets",
        ),
    )
    add(
        "limit: true",
        "a boolean limit",
        _expect_error(
            lambda: from_yaml(
                job_file("d.yaml", job.format(src=data, extra="    limit: true\n", path="o/m"))
            ),
            ConfigError,
            "limit",
        ),
    )
    (tmp / "models").mkdir(exist_ok=True)
    add(
        "missing relative model path",
        "a local model path that does not exist",
        _expect_error(
            lambda: from_yaml(
                job_file("e.yaml", job.format(src=data, extra="", path=str(tmp / "models" / "none")))
            ),
            ConfigError,
            "not found",
        ),
    )

    bad = tmp / "bad.jsonl"
    bad.write_bytes(b'{"prompt": "\xff", "chosen": "a", "rejected": "b"}\n')
    add(
        "JSONL not UTF-8",
        "a 0xff byte",
        _expect_error(
            lambda: load_examples(BenchmarkSpec(name="custom", source=str(bad))), DataError, "not UTF-8"
        ),
    )
    arr = tmp / "arr.jsonl"
    arr.write_text('{"prompt": "p", "chosen": "a", "rejected": "b"}\n[1, 2, 3]\n')
    add(
        "JSONL line not an object",
        "a JSON list on line 2",
        _expect_error(
            lambda: load_examples(BenchmarkSpec(name="custom", source=str(arr))),
            DataError,
            ":2: a JSON line must be an object",
        ),
    )
    imp = tmp / "imp.json"
    imp.write_bytes(b'{"id": [1], "subset": ["\xe9"]}')
    examples = load_examples(BenchmarkSpec(source=str(data)))
    add(
        "import file not UTF-8",
        "a latin-1 score file",
        _expect_error(
            lambda: import_reference_scores(imp, examples, results=tmp / "ri", model="m"),
            DataError,
            "not UTF-8",
        ),
    )
    empty = tmp / "empty.parquet"
    pq.write_table(pq.read_table(data).slice(0, 0), empty)
    add(
        "zero-row benchmark",
        "a source with no rows",
        _expect_error(
            lambda: load_examples(BenchmarkSpec(source=str(empty))), DataError, "no rows to evaluate"
        ),
    )
    dup = tmp / "dup.jsonl"
    dup.write_text(
        "".join(
            json.dumps({"prompt": f"p{i}", "chosen": "a", "rejected": "b", "id": 0}) + "\n" for i in range(3)
        )
    )
    add(
        "duplicate example keys",
        "three rows with id 0",
        _expect_error(
            lambda: load_examples(BenchmarkSpec(name="custom", source=str(dup), columns={"id": "id"})),
            DataError,
            "duplicate example key",
        ),
    )

    src = pq.read_table(data).slice(0, 300).to_pylist()
    scores = {
        "id": [r["id"] for r in src],
        "subset": [r["subset"] for r in src],
        "scores_chosen": [[math.nan if i < 10 else 1.0] for i in range(len(src))],
        "scores_rejected": [[0.0]] * len(src),
        "text_chosen": [f"{r['prompt']} {r['chosen']}" for r in src],
        "text_rejected": [f"{r['prompt']} {r['rejected']}" for r in src],
    }
    nanf = tmp / "nan.json"
    nanf.write_text(json.dumps(scores))

    def nan_import() -> tuple[str, bool]:
        res = import_reference_scores(nanf, examples, results=tmp / "rn", model="m")
        return (
            f"{res.non_finite} error records; run {res.status}",
            res.non_finite == 10 and res.status == "ok",
        )

    add("imported NaN scores", "10 NaN scores of 300 rows", nan_import())

    store = tmp / "store"
    old, new = "20260101T000000000Z-aaaaaa", "20260102T000000000Z-bbbbbb"
    write_run(store, old, {"m": {"alpacaeval-easy": bools(4, 10)}})
    write_run(store, new, {"m": {"alpacaeval-easy": bools(5, 10)}, "n": {"alpacaeval-easy": bools(7, 10)}})
    shard = next(store.glob(f"records/*/model=n/run={new}/shard-*.parquet"))
    shard.write_bytes(shard.read_bytes()[:64])
    add(
        "truncated shard",
        "a shard cut to 64 bytes",
        _expect_warning(lambda: leaderboard(store), "skipping damaged record file"),
    )
    manifest = store / f"runs/{new}.json"
    saved = manifest.read_text()
    manifest.write_text('{"run_id": "' + new + '", "models": [')
    add(
        "garbage manifest",
        "the newest run's manifest cut short",
        _expect_warning(lambda: leaderboard(store), "skipping damaged run manifest"),
    )
    bad_types = json.loads(saved)
    bad_types["models"][0]["n_records"] = "ten"
    manifest.write_text(json.dumps(bad_types))
    add(
        "manifest with wrong types",
        "n_records: 'ten'",
        _expect_warning(lambda: leaderboard(store), "not a whole number"),
    )
    report = check_store(store)
    add(
        "store check",
        "the store above",
        (
            f"{len(report.problems)} problems: " + ", ".join(sorted({p.kind for p in report.problems})),
            len(report.problems) >= 2,
        ),
    )
    manifest.write_text(saved)
    afile = tmp / "afile"
    afile.write_text("x")
    add(
        "results path is a file",
        "leaderboard --results FILE",
        _expect_error(lambda: leaderboard(afile), ConfigError, "is a file"),
    )
    add(
        "results path does not exist",
        "leaderboard --results MISSING",
        _expect_error(lambda: leaderboard(tmp / "missing"), ConfigError, "no such directory"),
    )

    import duckdb

    good = tmp / "good"
    write_run(good, old, {"m": {"alpacaeval-easy": bools(5, 10)}})
    good_shard = next(good.rglob("shard-*.parquet"))
    con = connect(good)
    before = good_shard.read_bytes()
    for what, sql in (
        (
            "EXPLAIN ANALYZE COPY",
            f"EXPLAIN ANALYZE COPY (SELECT 1 AS a) TO '{good_shard}' (USE_TMP_FILE false)",
        ),
        ("COPY TO", f"COPY (SELECT 1) TO '{tmp}/x.csv'"),
        ("IMPORT DATABASE", f"IMPORT DATABASE '{tmp}'"),
        ("ATTACH", f"ATTACH '{tmp}/x.duckdb'"),
        ("INSTALL", "INSTALL httpfs"),
        ("SET", "SET enable_external_access = true"),
        ("read_csv of a file", "SELECT * FROM read_csv('/etc/passwd')"),
    ):
        add(
            f"SQL: {what}",
            "straight on the query connection",
            _expect_error(lambda sql=sql: con.sql(sql), duckdb.Error, ""),
        )
    rows[-7] = (*rows[-7][:3], rows[-7][3] and good_shard.read_bytes() == before)
    add(
        "SQL: cross join 10^6 x 10^6",
        "--timeout 1",
        _expect_error(
            lambda: execute(con, "SELECT count(*) FROM range(1000000) a, range(1000000) b", timeout=1),
            QueryTimeout,
            "time limit",
        ),
    )
    capped = execute(con, "SELECT * FROM range(3000000)", max_rows=10_000)
    add(
        "SQL: 3 M rows",
        "--max-rows default",
        (
            f"{capped.table.num_rows} rows, truncated={capped.truncated}",
            capped.truncated and capped.table.num_rows == 10_000,
        ),
    )
    _ = QueryError

    two = tmp / "two"
    write_run(
        two,
        old,
        {
            "a": {"alpacaeval-easy": [True], "donotanswer": [True]},
            "b": {"alpacaeval-easy": [False], "donotanswer": [False]},
        },
    )
    text = verdict(compare_models(connect(two), "a", "b"), "a", "b", n_boot=2000)
    add(
        "bootstrap on 2 examples",
        "compare a b",
        (_first(text), "better overall" not in text and "not tested" in text),
    )

    if full:
        rows.extend(_full(tmp, data))
    return rows


def _full(tmp: Path, data: Path) -> list[tuple[str, str, str, bool]]:
    import pyarrow.parquet as pq
    import torch
    from safetensors.torch import load_file, save_file

    from orchestrator.config import JobConfig
    from orchestrator.errors import ConfigError
    from orchestrator.runtime.driver import run_job
    from orchestrator.tiny import ensure_demo_models

    out = []
    models = ensure_demo_models(tmp / "models-demo")
    nan = tmp / "nan-rm"
    shutil.copytree(models["tiny-rm"], nan)
    (weights,) = nan.glob("*.safetensors")
    tensors = load_file(weights)
    tensors["score.weight"] = torch.full_like(tensors["score.weight"], float("nan"))
    save_file(tensors, weights, metadata={"format": "pt"})

    def job(src: Path, models_: list[dict], results: Path) -> JobConfig:
        return JobConfig.from_dict(
            {
                "name": "probe",
                "benchmarks": [{"name": "reward-bench", "source": str(src), "limit": 2}],
                "models": models_,
                "resources": {"gpus_per_actor": 0, "shard_size": 16},
                "results": str(results),
            }
        )

    res = run_job(job(data, [{"name": "nan", "path": str(nan)}], tmp / "rr"))
    o = res.outcomes[0]
    out.append(
        (
            "NaN head",
            "score.weight all NaN",
            _first(o.error or o.status),
            o.status == "failed" and "NonFiniteScore" in (o.error or ""),
        )
    )
    copy = tmp / "data.parquet"
    table = pq.read_table(data)
    pq.write_table(table, copy)
    first = run_job(
        job(
            copy,
            [{"name": "rm", "path": str(models["tiny-rm"])}, {"name": "later", "path": str(tmp / "nope")}],
            tmp / "rs",
        )
    )
    chosen = table.column("chosen").to_pylist()
    chosen[0] += " (edited)"
    pq.write_table(table.set_column(table.column_names.index("chosen"), "chosen", [chosen]), copy)
    try:
        run_job(
            job(
                copy,
                [
                    {"name": "rm", "path": str(models["tiny-rm"])},
                    {"name": "later", "path": str(tmp / "nope")},
                ],
                tmp / "rs",
            ),
            resume=True,
        )
        out.append(
            ("resume over changed data", f"edit the data of partial run {first.run_id}", "resumed", False)
        )
    except ConfigError as exc:
        out.append(
            (
                "resume over changed data",
                f"edit the data of partial run {first.run_id}",
                _first(str(exc)),
                "dataset of benchmark" in str(exc),
            )
        )
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--full", action="store_true", help="also the probes that run models on a local Ray cluster"
    )
    parser.add_argument("--quick", action="store_true", help="only the probes without Ray (the default)")
    parser.add_argument("--data", type=Path, default=DATA, help="RewardBench v1 filtered.parquet")
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)
    with tempfile.TemporaryDirectory(prefix="rayward-probe-") as d:
        rows = probes(Path(d), args.data, args.full and not args.quick)
    width = max(len(r[0]) for r in rows)
    print(f"| {'class':<{width}} | probe | Rayward's answer | ok |")
    print(f"|{'-' * (width + 2)}|---|---|---|")
    for cls, did, answer, ok in rows:
        print(f"| {cls:<{width}} | {did} | {answer.replace('|', '/')} | {'ok' if ok else 'NOT OK'} |")
    bad = [r for r in rows if not r[3]]
    print(f"\n{len(rows) - len(bad)} of {len(rows)} ok")
    return 1 if bad else 0


if __name__ == "__main__":
    raise SystemExit(main())
