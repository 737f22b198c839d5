"""The Ray driver on a real local cluster (2 fake GPUs): shards, failures, manifests, records."""

import shutil

import numpy as np
import pyarrow.parquet as pq
import pytest

from orchestrator.config import JobConfig
from orchestrator.errors import ConfigError
from orchestrator.query.db import connect, leaderboard, run_query
from orchestrator.results.records import read_manifests, record_files
from orchestrator.runtime.driver import run_job
from orchestrator.runtime.planning import plan_units, shard_ranges


class Recorder:
    def __init__(self):
        self.events = []

    def start(self, model, benchmark, total):
        self.events.append(("start", model, total))

    def advance(self, model, benchmark, n):
        self.events.append(("advance", model, n))

    def finish(self, model, benchmark, status):
        self.events.append(("finish", model, status))


def _job(filtered_path, models, results, **resources):
    return JobConfig.from_dict(
        {
            "name": "runner-test",
            "benchmarks": [{"name": "reward-bench", "source": str(filtered_path), "limit": 6}],
            "models": models,
            "resources": {"gpus_per_actor": 1, "shard_size": 40, **resources},
            "results": str(results),
        }
    )


def test_plan_is_pure_and_deterministic(filtered_path):
    job = _job(filtered_path, [{"name": "a", "path": "x"}, {"name": "b", "path": "y"}], "r")
    units = plan_units(job, {"reward-bench": 138})
    assert [u.unit_id for u in units[:2]] == ["reward-bench/a/00000", "reward-bench/a/00001"]
    assert sum(u.size for u in units if u.model == "a") == 138
    assert units == plan_units(job, {"reward-bench": 138})
    assert shard_ranges(5, 2) == [(0, 2), (2, 4), (4, 5)]


def test_good_and_broken_models(ray_cluster, filtered_path, tiny_models, tmp_path):
    broken_weights = tmp_path / "broken-weights"
    shutil.copytree(tiny_models["tiny-rm"], broken_weights)
    (broken_weights / "model.safetensors").write_bytes(b"not a safetensors file")
    models = [
        {"name": "org/tiny-rm", "path": str(tiny_models["tiny-rm"])},
        {"name": "missing", "path": str(tmp_path / "no-such-model")},
        {"name": "corrupt", "path": str(broken_weights)},
    ]
    results = tmp_path / "results"
    progress = Recorder()
    res = run_job(_job(filtered_path, models, results), progress=progress)
    by = {o.model: o for o in res.outcomes}
    n = 23 * 6
    assert by["org/tiny-rm"].status == "ok" and by["org/tiny-rm"].n_records == n
    assert by["org/tiny-rm"].shards == [0, 1, 2, 3]
    assert (
        by["missing"].status == "failed"
        and "not found" in by["missing"].error
        and "no-such-model" in by["missing"].error
    )
    assert by["corrupt"].status == "failed" and "model 'corrupt': cannot load" in by["corrupt"].error
    assert not res.ok
    # records: only the good model's, every row exactly once, written shard by shard
    files = record_files(results)
    assert len(files) == 4 and all("model=org%2Ftiny-rm" in str(f) for f in files)
    con = connect(results)
    rows = run_query(
        con, "SELECT row_index, score_chosen, score_rejected, correct FROM records ORDER BY row_index"
    ).to_pylist()
    assert len(rows) == n and len({r["row_index"] for r in rows}) == n
    # scores equal a direct in-process scorer on the same rows
    from orchestrator.config import model_spec
    from orchestrator.scoring.classifier import ClassifierScorer

    src = pq.read_table(filtered_path).take([r["row_index"] for r in rows]).to_pydict()
    direct = ClassifierScorer(model_spec(name="x", path=str(tiny_models["tiny-rm"]))).score_pairs(
        src["prompt"], src["chosen"], src["rejected"]
    )
    np.testing.assert_allclose([r["score_chosen"] for r in rows], direct.score_chosen, atol=1e-5)
    assert [r["correct"] for r in rows] == direct.correct.tolist()
    # manifest: statuses, errors, timings, dataset fingerprint, versions
    (manifest,) = read_manifests(results)
    assert manifest["status"] == "partial" and manifest["datasets"][0]["fingerprint"].startswith("sha256:")
    statuses = {m["model"]: m["status"] for m in manifest["models"]}
    assert statuses == {"org/tiny-rm": "ok", "missing": "failed", "corrupt": "failed"}
    good = next(m for m in manifest["models"] if m["model"] == "org/tiny-rm")
    assert (
        good["fingerprint"].startswith("sha256:") and good["load_seconds"] > 0 and good["num_parameters"] > 0
    )
    assert "torch" in manifest["versions"] and "ray" in manifest["versions"]
    # leaderboard: the good model only
    assert [r["model"] for r in leaderboard(results)] == ["org/tiny-rm"]
    assert ("finish", "org/tiny-rm", "ok") in progress.events and (
        "finish",
        "missing",
        "failed",
    ) in progress.events
    assert sum(e[2] for e in progress.events if e[0] == "advance") == n


def test_second_run_never_touches_earlier_records(ray_cluster, filtered_path, tiny_models, tmp_path):
    results = tmp_path / "results"
    models = [{"name": "tiny-rm", "path": str(tiny_models["tiny-rm"])}]
    first = run_job(_job(filtered_path, models, results, gpus_per_actor=0))
    before = {f: f.read_bytes() for f in record_files(results)}
    second = run_job(
        _job(
            filtered_path,
            models + [{"name": "bad", "path": "./nope"}],
            results,
            gpus_per_actor=0,
            actors_per_model=2,
        )
    )
    assert first.ok and not second.ok
    for f, data in before.items():
        assert f.read_bytes() == data
    rows = leaderboard(results)
    assert [r["run_id"] for r in rows] == [second.run_id]
    con = connect(results)
    same = run_query(
        con, "SELECT count(DISTINCT score_chosen) AS k, count(*) AS n FROM records GROUP BY row_index"
    ).to_pylist()
    assert all(r["n"] == 2 and r["k"] == 1 for r in same)  # identical scores across runs and actor counts


def test_gpu_request_beyond_cluster_is_config_error(ray_cluster, filtered_path, tiny_models, tmp_path):
    job = _job(
        filtered_path, [{"name": "a", "path": str(tiny_models["tiny-rm"])}], tmp_path, gpus_per_actor=4
    )
    with pytest.raises(ConfigError, match="gpus_per_actor is 4 but the Ray cluster has 2 GPUs"):
        run_job(job)
    assert read_manifests(tmp_path) == []  # nothing written
