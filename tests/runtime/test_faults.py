"""Exactly once, whatever fails: lost actors and nodes, out-of-memory, rows that cannot be scored.

The run tests use Ray's multi-node test cluster (``ray.cluster_utils.Cluster``: a head and two worker nodes
with one fake GPU each) and compare every faulted run with an uninterrupted one: exactly one record per
(model, example) and identical scores. Faults are injected with the test hooks of ``orchestrator.runtime.faults``.
(A killed driver and ``--resume`` are tested in ``test_resume.py``.)
"""

from __future__ import annotations

import json
import threading
import time

import pyarrow.parquet as pq
import pytest

from orchestrator.config import JobConfig
from orchestrator.results.records import read_manifests, record_files
from orchestrator.runtime.driver import run_job
from tests.conftest import start_local_ray

LIMIT, SHARD = 4, 8  # 23 subsets x 4 rows = 92 examples, 12 units per model
N_EXAMPLES = 92
MODELS = ("tiny-rm", "tiny-rm-b")


@pytest.fixture(scope="module")
def cluster():
    """A head (no GPU) and two worker nodes with one fake GPU each; the session's local cluster comes back after."""
    import ray
    from ray.cluster_utils import Cluster

    was_up = ray.is_initialized()
    if was_up:
        ray.shutdown()
    store = 128 * 1024 * 1024
    cluster = Cluster(
        initialize_head=True,
        head_node_args={"num_cpus": 1, "include_dashboard": False, "object_store_memory": store},
    )
    workers = [cluster.add_node(num_cpus=1, num_gpus=1, object_store_memory=store) for _ in range(2)]
    ray.init(address=cluster.address, log_to_driver=False)
    cluster.wait_for_nodes()
    yield cluster, workers
    ray.shutdown()
    cluster.shutdown()
    if was_up:
        start_local_ray()


def _job(filtered_path, tiny_models, results, models=MODELS, **failures) -> JobConfig:
    return JobConfig.from_dict(
        {
            "name": "faults",
            "benchmarks": [{"name": "reward-bench", "source": str(filtered_path), "limit": LIMIT}],
            "models": [{"name": m, "path": str(tiny_models[m])} for m in models],
            "resources": {"gpus_per_actor": 1, "shard_size": SHARD},
            "failures": failures,
            "results": str(results),
        }
    )


def _records(results, model: str) -> dict[tuple[str, int], tuple]:
    """(subset, row_index) -> (score_chosen, score_rejected, correct) of one model; asserts one record per example."""
    files = [f for f in record_files(results) if f"model={model}/" in str(f)]
    rows = pq.read_table(files, partitioning=None).to_pylist()
    keys = [(r["subset"], r["row_index"]) for r in rows]
    assert len(keys) == len(set(keys)), f"{model}: duplicate records"
    return {
        (r["subset"], r["row_index"]): (r["score_chosen"], r["score_rejected"], r["correct"]) for r in rows
    }


@pytest.fixture(scope="module")
def uninterrupted(cluster, filtered_path, tiny_models, tmp_path_factory):
    """Both models' records from a run without faults."""
    results = tmp_path_factory.mktemp("uninterrupted")
    run = run_job(_job(filtered_path, tiny_models, results), address=cluster[0].address)
    assert run.ok
    return {m: _records(results, m) for m in MODELS}


def _same_as_uninterrupted(results, model, uninterrupted):
    got = _records(results, model)
    assert len(got) == N_EXAMPLES
    assert got == uninterrupted[model]  # the same examples, bit-identical scores


def test_actor_dying_mid_shard_is_replaced_and_only_its_unit_redone(
    cluster, uninterrupted, filtered_path, tiny_models, tmp_path, monkeypatch
):
    marker = tmp_path / "fired"
    monkeypatch.setenv("RAYWARD_FAULT_IN_UNIT", "exit:reward-bench/tiny-rm/00003")
    monkeypatch.setenv("RAYWARD_FAULT_ONCE", str(marker))
    results = tmp_path / "results"
    run = run_job(_job(filtered_path, tiny_models, results, models=("tiny-rm",)), address=cluster[0].address)
    assert marker.is_file()  # the actor process did exit inside unit 3
    assert run.ok
    (outcome,) = run.outcomes
    assert outcome.retries == {3: 1}
    assert outcome.shards == list(range(12)) and outcome.n_records == N_EXAMPLES
    assert outcome.notes == "redone after a lost actor: shard 3 (1x)"
    (manifest,) = read_manifests(results)
    assert manifest["status"] == "ok" and manifest["models"][0]["retries"] == {"3": 1}
    _same_as_uninterrupted(results, "tiny-rm", uninterrupted)


def test_unit_that_keeps_killing_its_actor_fails_only_that_model(
    cluster, uninterrupted, filtered_path, tiny_models, tmp_path, monkeypatch
):
    monkeypatch.setenv("RAYWARD_FAULT_IN_UNIT", "exit:reward-bench/tiny-rm/00005")  # every attempt
    results = tmp_path / "results"
    run = run_job(_job(filtered_path, tiny_models, results, unit_retries=1), address=cluster[0].address)
    by = {o.model: o for o in run.outcomes}
    bad = by["tiny-rm"]
    assert bad.status == "failed" and bad.retries == {5: 2}
    assert bad.error.startswith(
        "model 'tiny-rm': unit reward-bench/tiny-rm/00005: actor lost 2 times (failures.unit_retries is 1): "
    )
    assert 5 not in bad.shards  # nothing of the unit was committed
    assert by["tiny-rm-b"].status == "ok"
    _same_as_uninterrupted(results, "tiny-rm-b", uninterrupted)
    (manifest,) = read_manifests(results)
    assert manifest["status"] == "partial"
    assert {m["model"]: m["status"] for m in manifest["models"]} == {"tiny-rm": "failed", "tiny-rm-b": "ok"}


def test_out_of_memory_halves_the_batch_budget_in_a_run(
    cluster, filtered_path, tiny_models, tmp_path, monkeypatch
):
    monkeypatch.setenv("RAYWARD_FAULT_OOM_ABOVE_TOKENS", "1500")
    results = tmp_path / "results"
    job = _job(filtered_path, tiny_models, results, models=("tiny-rm",))
    spec = job.model_dump()
    spec["models"][0].update(batch_tokens=8192, max_length=512)
    spec["resources"]["shard_size"] = N_EXAMPLES  # one unit: every row is rescored with the final budget
    run = run_job(JobConfig.model_validate(spec), address=cluster[0].address)
    (outcome,) = run.outcomes
    assert outcome.status == "ok" and outcome.n_records == N_EXAMPLES
    # 8192 -> 4096 -> 2048 -> 1024: the first budget under which no batch exceeds 1500 padded tokens
    assert outcome.batch_tokens == 1024 and outcome.oom_retries == 3
    assert "3 out-of-memory retries, batch_tokens now 1024" in outcome.notes
    (manifest,) = read_manifests(results)
    assert (manifest["models"][0]["oom_retries"], manifest["models"][0]["batch_tokens"]) == (3, 1024)
    # the same records as an uninterrupted run with that budget from the start
    monkeypatch.delenv("RAYWARD_FAULT_OOM_ABOVE_TOKENS")
    spec["models"][0]["batch_tokens"] = 1024
    spec["results"] = str(tmp_path / "plain")
    plain = run_job(JobConfig.model_validate(spec), address=cluster[0].address)
    assert plain.ok and plain.outcomes[0].oom_retries == 0
    assert _records(results, "tiny-rm") == _records(tmp_path / "plain", "tiny-rm")


def _custom_data(path, bad=(3, 8), n=12):
    """Pairs in subsets a/b whose prompts are message lists; the ``bad`` rows end with an assistant turn."""
    rows = []
    for i in range(n):
        prompt = [{"role": "user", "content": f"Question {i}: what is {i} + {i}?"}]
        if i in bad:
            prompt.append({"role": "assistant", "content": "Let me think."})
        rows.append(
            {
                "prompt": prompt,
                "chosen": f"It is {2 * i}.",
                "rejected": f"It is {2 * i + 1}.",
                "subset": "ab"[i % 2],
            }
        )
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def _custom_bench(path):
    return {"name": "custom", "label": "errs", "source": str(path), "columns": {"subset": "subset"}}


def test_failures_config_is_strict_and_resume_counts_committed_errors(tmp_path, filtered_path):
    from orchestrator.errors import ConfigError
    from orchestrator.results.records import make_table, write_shard
    from orchestrator.runtime.driver import _committed_errors

    base = {
        "name": "j",
        "benchmarks": [{"source": str(filtered_path)}],
        "models": [{"name": "m", "path": "p"}],
    }
    assert JobConfig.from_dict(base).failures.max_error_rate == 0.01
    with pytest.raises(
        ConfigError, match=r"failures.max_error_rate: Input should be less than or equal to 1"
    ):
        JobConfig.from_dict({**base, "failures": {"max_error_rate": 2}})
    with pytest.raises(ConfigError, match=r"failures.retries: unknown key"):
        JobConfig.from_dict({**base, "failures": {"retries": 2}})

    def shard(n, errors):
        return make_table(
            {
                "schema_version": [3] * n,
                "run_id": ["r"] * n,
                "benchmark": ["b"] * n,
                "model": ["m"] * n,
                "kind": ["classifier"] * n,
                "subset": ["s"] * n,
                "example_id": list(range(n)),
                "row_index": list(range(n)),
                "shard": [0] * n,
                "error": errors,
            }
        )

    write_shard(
        tmp_path, shard(3, [None, "DataError: x", None]), benchmark="b", model="m", run_id="r", shard=0
    )
    write_shard(
        tmp_path, shard(2, ["DataError: y", "DataError: z"]), benchmark="b", model="m", run_id="r", shard=1
    )
    assert _committed_errors(tmp_path, "r", "m", "b", {0: 3, 1: 2}) == 3


def test_worker_turns_failing_rows_into_error_records(tmp_path, tiny_models):
    import numpy as np

    from orchestrator.config import BenchmarkSpec, model_spec
    from orchestrator.data import load_examples
    from orchestrator.errors import ModelError
    from orchestrator.runtime.worker import ScoringWorker
    from orchestrator.scoring.classifier import ClassifierScorer

    examples = load_examples(
        BenchmarkSpec.model_validate(_custom_bench(_custom_data(tmp_path / "d.jsonl")))
    ).table
    worker = ScoringWorker({"name": "tiny-rm", "path": str(tiny_models["tiny-rm"])}, False, 1)
    rows = worker.score(
        examples, 0, 12, run_id="r", benchmark="errs", shard=0, row_errors=(0, 12, 0.25)
    ).to_pylist()
    assert [r["row_index"] for r in rows] == list(range(12))
    bad = [r for r in rows if r["error"] is not None]
    assert [r["row_index"] for r in bad] == [3, 8]
    for r in bad:
        assert r["error"].startswith("DataError: ") and "must end with a user turn" in r["error"]
        assert r["score_chosen"] is None and r["score_rejected"] is None and r["correct"] is False
        assert r["chosen"] == f"It is {2 * r['row_index']}." and r["tokens_chosen"] is None
    # the other rows are scored as they would be without the bad ones
    good = [r for r in rows if r["error"] is None]
    src = examples.take([r["row_index"] for r in good]).to_pydict()
    direct = ClassifierScorer(model_spec(name="x", path=str(tiny_models["tiny-rm"]))).score_pairs(
        src["prompt"], src["chosen"], src["rejected"]
    )
    np.testing.assert_allclose([r["score_chosen"] for r in good], direct.score_chosen, rtol=0, atol=1e-5)
    np.testing.assert_allclose([r["score_rejected"] for r in good], direct.score_rejected, rtol=0, atol=1e-5)
    # beyond the allowance (0.1 of 12 rows = 1) the shard fails, naming the first bad row
    with pytest.raises(ModelError) as err:
        worker.score(examples, 0, 12, run_id="r", benchmark="errs", shard=0, row_errors=(0, 12, 0.1))
    assert str(err.value).startswith(
        "model 'tiny-rm': at least 2 of 12 rows of errs failed (failures.max_error_rate 0.1 allows 1); "
        "first: subset 'b' row_index 3: DataError: "
    )


def test_worker_out_of_memory_halves_down_to_one_sequence(filtered_path, tiny_models, monkeypatch):
    from orchestrator.config import BenchmarkSpec
    from orchestrator.data import load_examples
    from orchestrator.errors import ModelError
    from orchestrator.runtime.worker import ScoringWorker, shard_stats

    examples = load_examples(BenchmarkSpec(source=str(filtered_path), limit=2)).table
    spec = {"name": "tiny-rm", "path": str(tiny_models["tiny-rm"]), "batch_tokens": 4096, "max_length": 256}
    plain = ScoringWorker({**spec, "batch_tokens": 256}, False, 1).score(
        examples, 0, 46, run_id="r", benchmark="b", shard=0
    )
    monkeypatch.setenv("RAYWARD_FAULT_OOM_ABOVE_TOKENS", "300")
    worker = ScoringWorker(spec, False, 1)
    table = worker.score(examples, 0, 46, run_id="r", benchmark="b", shard=0)
    assert shard_stats(table) == {"oom_retries": 4, "batch_tokens": 256}  # 4096 -> 2048 -> 1024 -> 512 -> 256
    assert table.drop(["error"]).to_pylist() == plain.drop(["error"]).to_pylist()  # bit-identical records
    assert shard_stats(worker.score(examples, 0, 46, run_id="r", benchmark="b", shard=0))["oom_retries"] == 0
    monkeypatch.setenv("RAYWARD_FAULT_OOM_ABOVE_TOKENS", "20")  # not even one sequence fits
    with pytest.raises(
        ModelError,
        match=r"^model 'tiny-rm': out of memory with one sequence per batch "
        r"\(batch_tokens \d+\): out of memory \(RAYWARD_FAULT_OOM_ABOVE_TOKENS=20\)",
    ):
        ScoringWorker(spec, False, 1).score(examples, 0, 46, run_id="r", benchmark="b", shard=0)


def test_row_errors_in_a_run_records_views_and_limit(cluster, tiny_models, tmp_path):
    from orchestrator.query.analyses import ANALYSES, analyze
    from orchestrator.query.db import connect, leaderboard, run_query

    data = _custom_data(tmp_path / "d.jsonl")

    def job(results, rate):
        return JobConfig.from_dict(
            {
                "name": "row-errors",
                "benchmarks": [_custom_bench(data)],
                "models": [{"name": "tiny-rm", "path": str(tiny_models["tiny-rm"])}],
                "resources": {"gpus_per_actor": 1, "shard_size": 6},
                "failures": {"max_error_rate": rate},
                "results": str(results),
            }
        )

    results = tmp_path / "results"
    run = run_job(job(results, 0.2), address=cluster[0].address)  # 0.2 of 12 allows 2
    (outcome,) = run.outcomes
    assert run.ok and outcome.row_errors == 2 and outcome.n_records == 12
    assert outcome.notes == "2 rows failed (records with error)"
    assert read_manifests(results)[0]["models"][0]["row_errors"] == 2
    con = connect(results)
    per_subset = run_query(
        con, "SELECT subset, n, n_correct, accuracy FROM subset_accuracy ORDER BY subset"
    ).to_pylist()
    truth = run_query(
        con,
        "SELECT subset, count(*) AS n, count(*) FILTER (WHERE error IS NULL AND correct) AS ok "
        "FROM records GROUP BY subset ORDER BY subset",
    ).to_pylist()
    # an error record counts as an example the model got wrong
    assert [(r["subset"], r["n"], r["n_correct"]) for r in per_subset] == [
        (t["subset"], t["n"], t["ok"]) for t in truth
    ]
    assert all(r["accuracy"] == r["n_correct"] / r["n"] for r in per_subset)
    assert [r["model"] for r in leaderboard(results, "errs")] == ["tiny-rm"]
    for name in ANALYSES:
        analyze(results, name, benchmark="errs")  # every analysis view copes with null scores

    strict = tmp_path / "strict"
    run = run_job(job(strict, 0.0), address=cluster[0].address)
    (outcome,) = run.outcomes
    assert outcome.status == "failed"
    assert outcome.error.startswith(
        "model 'tiny-rm': at least 1 of 12 rows of errs failed "
        "(failures.max_error_rate 0 allows 0); first: subset 'b' row_index 3: DataError: "
    )
    assert outcome.shards == []  # the failing shard was not committed


def test_lost_worker_node_units_redone_on_the_other_node(
    cluster, uninterrupted, filtered_path, tiny_models, tmp_path, monkeypatch
):
    head, workers = cluster
    marker = tmp_path / "hanging"
    monkeypatch.setenv("RAYWARD_FAULT_IN_UNIT", "hang:reward-bench/tiny-rm/00002")
    monkeypatch.setenv("RAYWARD_FAULT_ONCE", str(marker))
    results = tmp_path / "results"
    outcome: dict = {}
    driver = threading.Thread(
        target=lambda: outcome.update(
            run=run_job(_job(filtered_path, tiny_models, results, models=("tiny-rm",)), address=head.address)
        )
    )
    driver.start()
    deadline = time.time() + 120
    while time.time() < deadline and not (marker.is_file() and marker.read_text()):
        time.sleep(0.05)
    node_id = marker.read_text()  # the node of the actor now stuck in unit 2
    (victim,) = [n for n in workers if n.node_id == node_id]
    cluster[0].remove_node(victim)
    driver.join(timeout=180)
    assert not driver.is_alive()
    run = outcome["run"]
    assert run.ok and run.outcomes[0].retries == {2: 1}
    _same_as_uninterrupted(results, "tiny-rm", uninterrupted)
    (manifest,) = read_manifests(results)
    assert manifest["models"][0]["retries"] == {"2": 1} and manifest["models"][0]["shards"] == list(range(12))
    assert json.loads(json.dumps(manifest))["status"] == "ok"
