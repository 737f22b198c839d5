"""The score cache: reruns reuse every unchanged score, changes invalidate, damage and races are harmless."""

from __future__ import annotations

import json
import logging
import multiprocessing
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from orchestrator.config import JobConfig, model_spec
from orchestrator.results.cache import (
    CACHE_DIR,
    SPEED_ONLY_FIELDS,
    ScoreCache,
    example_keys,
    settings_document,
)
from orchestrator.results.records import read_manifests
from orchestrator.runtime.driver import run_job
from tests.conftest import REPO

LIMIT, SHARD = 2, 20  # 23 subsets x 2 rows (mt-bench-easy has 28) = 46 records in 3 units
N = 46


def _job(filtered_path, results, models: dict[str, dict], **extra) -> JobConfig:
    return JobConfig.from_dict(
        {
            "name": "cache-test",
            "benchmarks": [{"name": "reward-bench", "source": str(filtered_path), "limit": LIMIT}],
            "models": [{"name": name, **spec} for name, spec in models.items()],
            "resources": {"gpus_per_actor": 0, "shard_size": SHARD},
            "results": str(results),
            **extra,
        }
    )


def _records(results: Path, run_id: str, model: str) -> pa.Table:
    """One run's records of one model as readers see them (compacted files and reused units included)."""
    from orchestrator.query.db import connect

    con = connect(results)
    try:
        return con.sql(
            "SELECT * EXCLUDE (texts) FROM records WHERE run_id = $r AND model = $m ORDER BY row_index",
            params={"r": run_id, "m": model},
        ).to_arrow_table()
    finally:
        con.close()


def _by_model(res):
    return {o.model: o for o in res.outcomes}


def _cache_files(results: Path) -> list[Path]:
    return sorted((results / CACHE_DIR).glob("*/*.parquet"))


# ------------------------------------------------------------------ end to end on Ray


def test_rerun_reuses_every_score_and_a_new_model_is_the_only_one_scored(
    ray_cluster, filtered_path, tiny_models, tmp_path
):
    results = tmp_path / "results"
    a = {"path": str(tiny_models["tiny-rm"])}
    first = run_job(_job(filtered_path, results, {"a": a}))
    assert first.ok and _by_model(first)["a"].cached_records == 0 and _by_model(first)["a"].load_seconds > 0
    assert len(_cache_files(results)) == 3  # one file per scored unit

    second = run_job(_job(filtered_path, results, {"a": a}))
    out = _by_model(second)["a"]
    assert second.ok and out.n_records == N and out.cached_records == N
    assert out.load_seconds is None  # no actor, no model load
    assert len(_cache_files(results)) == 3  # nothing new to add
    old, new = _records(results, first.run_id, "a"), _records(results, second.run_id, "a")
    assert set(new.column("cached_from").to_pylist()) == {first.run_id}
    assert set(new.column("run_id").to_pylist()) == {second.run_id}
    assert old.column("cached_from").null_count == N
    rest = [c for c in old.column_names if c not in ("run_id", "cached_from")]
    assert new.select(rest).equals(old.select(rest))  # identical to the fresh scoring, scores bit for bit
    manifests = {m["run_id"]: m for m in read_manifests(results)}
    entry = manifests[second.run_id]["models"][0]
    assert entry["load_seconds"] is None and entry["cached_records"] == N
    assert (
        entry["num_parameters"] == manifests[first.run_id]["models"][0]["num_parameters"] > 0
    )  # from the cache
    assert entry["fingerprint"] == manifests[first.run_id]["models"][0]["fingerprint"]

    # add a model: only it is scored; the cached one is served (records and cached_from as before)
    third = run_job(_job(filtered_path, results, {"a": a, "b": {"path": str(tiny_models["tiny-rm-b"])}}))
    by = _by_model(third)
    assert third.ok and by["a"].cached_records == N and by["a"].load_seconds is None
    assert by["b"].cached_records == 0 and by["b"].load_seconds > 0 and by["b"].n_records == N
    assert set(_records(results, third.run_id, "a").column("cached_from").to_pylist()) == {first.run_id}
    assert len(_cache_files(results)) == 6

    # a renamed model and another shard size reuse the same scores (names and shard boundaries are no key part)
    fourth = run_job(
        JobConfig.from_dict(
            {
                **_job(filtered_path, results, {"renamed": a}).model_dump(),
                "resources": {"gpus_per_actor": 0, "shard_size": 7},
            }
        )
    )
    assert (
        _by_model(fourth)["renamed"].cached_records == N and _by_model(fourth)["renamed"].load_seconds is None
    )


def test_setting_and_weight_changes_invalidate_speed_knobs_do_not(ray_cluster, filtered_path, tmp_path):
    from orchestrator.tiny import build_tiny_model

    results = tmp_path / "results"
    model = build_tiny_model(tmp_path / "m", seed="one")
    base = run_job(_job(filtered_path, results, {"m": {"path": str(model)}}))
    assert base.ok

    speed = run_job(
        _job(filtered_path, results, {"m": {"path": str(model), "batch_tokens": 512, "prefetch_batches": 0}})
    )
    assert _by_model(speed)["m"].cached_records == N  # pure-speed knobs are no key part

    shorter = run_job(_job(filtered_path, results, {"m": {"path": str(model), "max_length": 64}}))
    out = _by_model(shorter)["m"]
    assert shorter.ok and out.cached_records == 0 and out.load_seconds > 0
    assert max(_records(results, shorter.run_id, "m").column("tokens_chosen").to_pylist()) <= 64

    build_tiny_model(model, seed="two")  # other weights, same directory
    rebuilt = run_job(_job(filtered_path, results, {"m": {"path": str(model)}}))
    out = _by_model(rebuilt)["m"]
    assert rebuilt.ok and out.cached_records == 0 and out.load_seconds > 0
    before = _records(results, base.run_id, "m").column("score_chosen").to_pylist()
    after = _records(results, rebuilt.run_id, "m").column("score_chosen").to_pylist()
    assert before != after


def test_no_cache_rescores_everything_and_refreshes_the_cache(
    ray_cluster, filtered_path, tiny_models, tmp_path
):
    from typer.testing import CliRunner

    from orchestrator.cli import app

    results = tmp_path / "results"
    a = {"path": str(tiny_models["tiny-rm"])}
    first = run_job(_job(filtered_path, results, {"a": a}))
    files = _cache_files(results)

    job_file = tmp_path / "job.yaml"
    job_file.write_text(
        json.dumps(_job(filtered_path, results, {"a": a}).model_dump(mode="json"))
    )  # JSON is YAML
    cli = CliRunner().invoke(app, ["run", str(job_file), "--no-cache"])
    assert cli.exit_code == 0, cli.output
    latest = max(read_manifests(results), key=lambda m: m["run_id"])
    assert latest["score_cache"] == "write-only"
    assert latest["models"][0]["cached_records"] == 0 and latest["models"][0]["load_seconds"] > 0
    assert len(_cache_files(results)) == len(files) + 3  # refreshed: the rescored rows were added

    # `cache: false` in the job does the same
    off = run_job(_job(filtered_path, results, {"a": a}, cache=False))
    assert _by_model(off)["a"].cached_records == 0 and _by_model(off)["a"].load_seconds > 0
    old, new = _records(results, first.run_id, "a"), _records(results, off.run_id, "a")
    assert new.column("score_chosen").equals(old.column("score_chosen"))  # the same scores, computed again

    # the newest entries win: a cached rerun now reuses the refreshed scores
    again = run_job(_job(filtered_path, results, {"a": a}))
    assert set(_records(results, again.run_id, "a").column("cached_from").to_pylist()) == {off.run_id}


def test_corrupt_cache_file_warns_and_its_rows_are_rescored(
    ray_cluster, filtered_path, tiny_models, tmp_path, caplog
):
    results = tmp_path / "results"
    a = {"path": str(tiny_models["tiny-rm"])}
    first = run_job(_job(filtered_path, results, {"a": a}))
    damaged = _cache_files(results)[1]
    lost = pq.read_metadata(damaged).num_rows
    damaged.write_bytes(damaged.read_bytes()[:100])  # a truncated file
    with caplog.at_level(logging.WARNING, logger="orchestrator.results.cache"):
        second = run_job(_job(filtered_path, results, {"a": a}))
    assert any(
        "ignoring unreadable file" in r.getMessage() and damaged.name in r.getMessage()
        for r in caplog.records
    )
    out = _by_model(second)["a"]
    assert second.ok and out.n_records == N and out.cached_records == N - lost and out.load_seconds > 0
    rest = ["row_index", "score_chosen", "score_rejected", "correct", "tokens_chosen", "tokens_rejected"]
    assert (
        _records(results, second.run_id, "a")
        .select(rest)
        .equals(_records(results, first.run_id, "a").select(rest))
    )


def test_fully_cached_run_needs_no_ray(ray_cluster, filtered_path, tiny_models, tmp_path):
    """A rerun with nothing new never imports Ray: a subprocess pointed at an address where no cluster runs."""
    results = tmp_path / "results"
    job = _job(filtered_path, results, {"a": {"path": str(tiny_models["tiny-rm"])}})
    assert run_job(job).ok
    script = (
        "import sys; from orchestrator.config import JobConfig; from orchestrator.runtime.driver import run_job\n"
        f"job = JobConfig.model_validate_json({job.model_dump_json()!r})\n"
        "res = run_job(job, address='127.0.0.1:1')\n"
        "assert res.ok and res.outcomes[0].cached_records == res.outcomes[0].n_records, res.outcomes\n"
        "assert 'ray' not in sys.modules and 'torch' not in sys.modules\n"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO), "HF_HUB_OFFLINE": "1"}
    out = subprocess.run(
        [sys.executable, "-c", script], cwd=REPO, env=env, capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr[-3000:]


# ------------------------------------------------------------------ keys (no Ray)


def test_key_parts(tmp_path, tiny_models):
    spec = model_spec(name="a", path=str(tiny_models["tiny-rm"]))
    identity = "sha256:x"

    def key(s, device="cpu", dtype="float32", ident=identity):
        return json.dumps(settings_document(s, ident, device, dtype), sort_keys=True)

    assert key(spec) == key(
        spec.model_copy(
            update={
                f: v
                for f, v in {
                    "name": "b",
                    "batch_tokens": 99,
                    "prefetch_batches": 0,
                    "token_cache": "off",
                }.items()
            }
        )
    )
    assert SPEED_ONLY_FIELDS == {"name", "batch_tokens", "prefetch_batches", "token_cache", "api"}
    for change in (
        {"max_length": 1024},
        {"truncation_side": "right"},
        {"dtype": "bfloat16"},
        {"kind": "dpo"},
        {"backend": "vllm"},
        {"attn_implementation": "eager"},
        {"chat_template": "{{ x }}"},
    ):
        assert key(spec) != key(spec.model_copy(update=change)), change
    assert key(spec) != key(spec, device="cuda:1", dtype="bfloat16") != key(spec, device="cuda:0")
    assert key(spec) != key(spec, ident="sha256:y")

    from orchestrator.config import ClassifierSpec

    class Extended(ClassifierSpec):  # a field added later is part of the key by default
        judge_seed: int = 0

    ext = Extended(name="a", path=spec.path)
    assert key(ext) != key(Extended(name="a", path=spec.path, judge_seed=1))

    template = tmp_path / "t.jinja"  # a path-valued setting is keyed by what the file holds
    template.write_text("{{ messages }}")
    with_file = spec.model_copy(update={"chat_template": str(template)})
    k1 = key(with_file)
    template.write_text("{{ messages }}!")
    assert key(with_file) != k1


def test_example_keys_follow_the_exact_input(filtered_path):
    table = pq.read_table(filtered_path).slice(0, 4).select(["prompt", "chosen", "rejected"])
    keys = example_keys(table)
    assert len(set(keys)) == 4 and keys == example_keys(table)
    changed = table.set_column(
        1,
        "chosen",
        pa.array([table.column("chosen")[0].as_py() + " "] + table.column("chosen").to_pylist()[1:]),
    )
    assert example_keys(changed)[0] != keys[0] and example_keys(changed)[1:] == keys[1:]
    lists = pa.table({"prompt": ["p"], "chosen": [["a", "b"]], "rejected": [["c"]]})
    assert example_keys(lists) != example_keys(
        pa.table({"prompt": ["p"], "chosen": [["b", "a"]], "rejected": [["c"]]})
    )


def test_model_fingerprint_is_cheap_and_content_based(tmp_path):
    from orchestrator.scoring._hf import model_fingerprint
    from orchestrator.tiny import build_tiny_model

    model = build_tiny_model(tmp_path / "m", seed="one")
    before = model_fingerprint(str(model))
    (model / ".git").mkdir()  # hidden entries (a git clone's objects, hub download metadata) are skipped
    (model / ".git" / "pack").write_bytes(b"x" * 1000)
    assert model_fingerprint(str(model)) == before
    big = model / "model-00002-of-00002.safetensors"  # a big weight file: size + mtime, never read
    with open(big, "wb") as fh:
        fh.truncate(2 << 30)
    with_big = model_fingerprint(str(model))
    assert with_big != before
    os.utime(big, ns=(1, 1))
    assert model_fingerprint(str(model)) != with_big
    big.unlink()
    build_tiny_model(model, seed="two")
    assert model_fingerprint(str(model)) != before


# ------------------------------------------------------------------ concurrency (no Ray)


def _synthetic_records(keys_from: int, n: int, run_id: str) -> pa.Table:
    from orchestrator.results.records import SCHEMA_VERSION, make_table

    return make_table(
        {
            "schema_version": [SCHEMA_VERSION] * n,
            "run_id": [run_id] * n,
            "benchmark": ["b"] * n,
            "model": ["m"] * n,
            "kind": ["classifier"] * n,
            "subset": ["s"] * n,
            "example_id": list(range(n)),
            "row_index": list(range(keys_from, keys_from + n)),
            "shard": [0] * n,
            "score_chosen": [float(i) for i in range(keys_from, keys_from + n)],
            "score_rejected": [0.5] * n,
            "correct": [True] * n,
        }
    )


class _Examples:
    def __init__(self, table):
        self.table = table
        self.fingerprint = "sha256:test-examples"


def _examples(n: int) -> dict:
    return {
        "b": _Examples(
            pa.table({"prompt": [f"p{i}" for i in range(n)], "chosen": ["c"] * n, "rejected": ["r"] * n})
        )
    }


def _writer(root: str, model: str, worker: int, rounds: int) -> None:
    from orchestrator.runtime.planning import WorkUnit

    cache = ScoreCache(root, _examples(200), want_gpu=False, read=False)  # read=False: add every row
    spec = model_spec(name="m", path=model)
    for i in range(rounds):
        start = ((worker * 7 + i) * 10) % 200
        unit = WorkUnit("b", "m", i, start, start + 10)
        assert (
            cache.add(
                spec,
                unit,
                _synthetic_records(start, 10, f"run-{worker}-{i:03d}"),
                {"device": "cpu", "num_parameters": 1},
            )
            == 10
        )


def test_concurrent_writers_and_a_reader_never_see_damage(tmp_path, tiny_models, caplog):
    root = tmp_path / "results"
    ctx = multiprocessing.get_context("spawn")
    procs = [
        ctx.Process(target=_writer, args=(str(root), str(tiny_models["tiny-rm"]), w, 15)) for w in range(2)
    ]
    for p in procs:
        p.start()
    spec = model_spec(name="m", path=str(tiny_models["tiny-rm"]))
    seen = 0
    with caplog.at_level(logging.WARNING, logger="orchestrator.results.cache"):
        while any(p.is_alive() for p in procs):  # read while they write: only whole files are ever visible
            cache = ScoreCache(root, _examples(200), want_gpu=False)
            entries = cache._lookup(spec)
            assert len(entries.rows) >= seen
            seen = len(entries.rows)
        for p in procs:
            p.join()
    assert all(p.exitcode == 0 for p in procs)
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
    (directory,) = (root / CACHE_DIR).iterdir()
    assert not list(directory.glob(".*.tmp"))  # no temp file left behind
    assert len(list(directory.glob("*.parquet"))) == 30
    cache = ScoreCache(root, _examples(200), want_gpu=False)
    entries = cache._lookup(spec)
    keys = example_keys(_examples(200)["b"].table)
    for key, row in entries.rows.items():  # every cached score belongs to its own example
        assert entries.table.column("score_chosen")[row].as_py() == float(keys.index(key))
    settings = json.loads((directory / "settings.json").read_text())
    assert settings["device"] == "cpu" and settings["dtype"] == "float32"


def test_cached_units_builds_records_for_the_run(tmp_path, tiny_models):
    from orchestrator.runtime.planning import WorkUnit

    root = tmp_path / "results"
    spec = model_spec(name="m", path=str(tiny_models["tiny-rm"]))
    examples = _examples(30)
    examples["b"].table = (
        examples["b"]
        .table.append_column("subset", pa.array(["s"] * 30))
        .append_column("id", pa.array(range(30), pa.int64()))
        .append_column("row_index", pa.array(range(30), pa.int64()))
        .append_column("source_id", pa.array([str(i) for i in range(30)]))
    )
    cache = ScoreCache(root, examples, want_gpu=False)
    cache.add(spec, WorkUnit("b", "m", 0, 0, 10), _synthetic_records(0, 10, "old-run"), {"device": "cpu"})
    fresh = ScoreCache(root, examples, want_gpu=False)
    units = [WorkUnit("b", "m", 0, 0, 5), WorkUnit("b", "m", 1, 5, 12)]  # the second is only partly cached
    served = list(fresh.cached_units(spec, units, run_id="new-run"))
    assert [u for u, _ in served] == units[:1]
    table = served[0][1]
    assert table.column("run_id").to_pylist() == ["new-run"] * 5
    assert table.column("cached_from").to_pylist() == ["old-run"] * 5
    assert table.column("score_chosen").to_pylist() == [0.0, 1.0, 2.0, 3.0, 4.0]
    assert table.column("source_id").to_pylist() == ["0", "1", "2", "3", "4"]
    off = ScoreCache(root, examples, want_gpu=False, read=False)
    assert list(off.cached_units(spec, units, run_id="x")) == []
    gpu = ScoreCache(root, examples, want_gpu=True)  # bf16 on a GPU is another key
    assert list(gpu.cached_units(spec, units, run_id="x")) == []
    shutil.rmtree(root / CACHE_DIR)
    assert list(ScoreCache(root, examples, want_gpu=False).cached_units(spec, units, run_id="x")) == []


def test_best_of_n_lists_and_message_prompts_are_reused_exactly(ray_cluster, tiny_models, tmp_path):
    results = tmp_path / "results"
    job = JobConfig.from_dict(
        {
            "name": "cache-custom",
            "benchmarks": [
                {
                    "name": "custom",
                    "label": "my-prefs",
                    "source": str(REPO / "examples" / "custom-prefs.jsonl"),
                    "columns": {"prompt": "question", "chosen": "good", "rejected": "bad", "subset": "topic"},
                }
            ],
            "models": [{"name": "a", "path": str(tiny_models["tiny-rm"])}],
            "resources": {"gpus_per_actor": 0},
            "results": str(results),
        }
    )
    first, second = run_job(job), run_job(job)
    assert first.ok and second.ok and second.outcomes[0].load_seconds is None
    old, new = _records(results, first.run_id, "a"), _records(results, second.run_id, "a")
    assert second.outcomes[0].cached_records == new.num_rows == old.num_rows > 0
    assert old.column("scores_rejected").null_count == 0  # best-of-N lists were scored and are reused
    rest = [c for c in old.column_names if c not in ("run_id", "cached_from")]
    assert new.select(rest).equals(old.select(rest))


def test_key_of_a_judge_with_a_fallback_parser(tmp_path, tiny_models):
    """A fallback parser's verdicts are part of a judge's scores: its model id, template content and length are
    key parts; its ``api`` settings (speed, limits) are not."""
    template = tmp_path / "extract.jinja"
    template.write_text("Verdict of: {{ output }}")
    fallback = {"path": "cheap", "base_url": "http://127.0.0.1:9/v1", "template": str(template)}

    def key(**fb):
        spec = model_spec(
            name="j", path=str(tiny_models["tiny-judge"]), kind="judge", fallback_parser={**fallback, **fb}
        )
        return json.dumps(settings_document(spec, "sha256:x", "cpu", "float32"), sort_keys=True)

    plain = model_spec(name="j", path=str(tiny_models["tiny-judge"]), kind="judge")
    first = key()
    assert first != json.dumps(settings_document(plain, "sha256:x", "cpu", "float32"), sort_keys=True)
    assert first == key(api={"concurrency": 2, "tokens_per_minute": 1000})
    assert first != key(path="other-extractor") and first != key(max_new_tokens=8)
    template.write_text("Another prompt: {{ output }}")  # same file name, other content
    assert key() != first


def test_nights_with_nothing_new_reference_without_reading_a_record(
    ray_cluster, filtered_path, tiny_models, tmp_path, monkeypatch
):
    """The first cache-served night compares its units with the records they repeat and notes where each came
    from (``unit_sources``); the nights after it write references from that note alone. A --no-cache refresh
    changes where the cached scores come from, so the night after it compares again."""
    import orchestrator.results.reuse as reuse

    results = tmp_path / "results"
    a = {"path": str(tiny_models["tiny-rm"])}
    scored = run_job(_job(filtered_path, results, {"a": a}))
    first = run_job(_job(filtered_path, results, {"a": a}))  # compared with the scored records
    manifests = {m["run_id"]: m for m in read_manifests(results)}
    sources = manifests[first.run_id]["models"][0]["unit_sources"]
    assert sorted(sources) == ["0", "1", "2"]
    assert {s["records_run"] for s in sources.values()} == {scored.run_id}

    reads = []
    real = reuse.stored_unit
    monkeypatch.setattr(reuse, "stored_unit", lambda *a, **k: reads.append(a) or real(*a, **k))
    second = run_job(_job(filtered_path, results, {"a": a}))
    assert reads == []  # no earlier record was read
    out = _by_model(second)["a"]
    assert second.ok and out.n_records == N and out.cached_records == N and out.shards == [0, 1, 2]
    manifests = {m["run_id"]: m for m in read_manifests(results)}
    assert manifests[second.run_id]["models"][0]["unit_sources"] == sources
    assert {r["from_run"] for r in manifests[second.run_id]["reused_shards"]} == {scored.run_id}
    old, new = _records(results, first.run_id, "a"), _records(results, second.run_id, "a")
    assert set(new.column("run_id").to_pylist()) == {second.run_id}
    rest = [c for c in old.column_names if c != "run_id"]
    assert new.select(rest).equals(old.select(rest))  # cached_from too: the scoring run's id
    subsets = manifests[second.run_id]["models"][0]["subsets"]  # from the scoring run's manifest
    assert subsets == manifests[scored.run_id]["models"][0]["subsets"] and sum(subsets.values()) == N

    refreshed = run_job(_job(filtered_path, results, {"a": a}, cache=False))  # new cache files, newest win
    third = run_job(_job(filtered_path, results, {"a": a}))
    assert len(reads) == 3  # the sources changed: each unit compared again, with the refreshed records
    assert set(_records(results, third.run_id, "a").column("cached_from").to_pylist()) == {refreshed.run_id}
    manifests = {m["run_id"]: m for m in read_manifests(results)}
    again = manifests[third.run_id]["models"][0]["unit_sources"]
    assert {s["records_run"] for s in again.values()} == {refreshed.run_id}
    assert all(again[k]["source"] != sources[k]["source"] for k in sources)
