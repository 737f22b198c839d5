"""Multi-model scheduling: the pure cost model and LPT simulator, and the driver on a real Ray cluster (fake GPUs)."""

import json
import shutil
import time

import pyarrow as pa
import pytest

from orchestrator.config import JobConfig, Resources, model_spec
from orchestrator.query.db import connect, run_query
from orchestrator.results.records import read_manifests
from orchestrator.runtime.driver import run_job
from orchestrator.runtime.resources import actor_options, replica_bundles
from orchestrator.runtime.scheduling import (
    DEFAULT_PARAMETERS,
    Job,
    SlotScheduler,
    config_parameters,
    estimate_parameters,
    ideal_makespan,
    lpt_order,
    model_job,
    read_into_page_cache,
    row_tokens,
    simulate,
    weight_files,
)


def _true_parameters(path):
    from transformers import AutoModelForSequenceClassification

    return sum(p.numel() for p in AutoModelForSequenceClassification.from_pretrained(str(path)).parameters())


# ---------------------------------------------------------------- cost model


def test_parameters_from_safetensors_config_hint_and_default(tiny_models, tmp_path):
    path = tiny_models["tiny-rm"]
    true = _true_parameters(path)
    assert estimate_parameters(model_spec(name="a", path=str(path))) == (true, "safetensors")
    # config.json only (no weights): the Llama-layout estimate is within 1% of the truth
    config_only = tmp_path / "config-only"
    config_only.mkdir()
    shutil.copy(path / "config.json", config_only / "config.json")
    estimate, source = estimate_parameters(model_spec(name="b", path=str(config_only)))
    assert source == "config" and abs(estimate - true) / true < 0.01
    # a causal LM with an untied head counts the head too
    causal = json.loads((tiny_models["tiny-lm"] / "config.json").read_text())
    from transformers import AutoModelForCausalLM

    true_lm = sum(
        p.numel() for p in AutoModelForCausalLM.from_pretrained(str(tiny_models["tiny-lm"])).parameters()
    )
    assert abs(config_parameters(causal) - true_lm) / true_lm < 0.01
    # a 7B-shaped config (Llama-2-7B sizes) lands near 6.7e9
    llama7b = {
        "hidden_size": 4096,
        "num_hidden_layers": 32,
        "vocab_size": 32000,
        "intermediate_size": 11008,
        "num_attention_heads": 32,
        "architectures": ["LlamaForCausalLM"],
        "tie_word_embeddings": False,
    }
    assert 6.6e9 < config_parameters(llama7b) < 6.8e9
    assert config_parameters({"hidden_size": 8}) is None
    assert estimate_parameters(model_spec(name="c", path=str(path), num_parameters=123)) == (123, "hint")
    assert estimate_parameters(model_spec(name="d", path="org/some-hub-rm")) == (
        DEFAULT_PARAMETERS,
        "default",
    )


def test_row_tokens_count_every_scored_text():
    table = pa.table(
        {"prompt": ["a" * 40, "b" * 8], "chosen": ["c" * 20, "d"], "rejected": ["e" * 12, "f" * 3]}
    )
    # (2 x prompt + chosen + rejected) / 4 characters per token, at least 1
    assert row_tokens(table) == [(80 + 20 + 12) // 4, (16 + 1 + 3) // 4]
    best_of_n = pa.table(
        {"prompt": ["p" * 8], "chosen": [["x" * 4]], "rejected": [["y" * 4, "z" * 8, "w" * 4]]}
    )
    assert row_tokens(best_of_n) == [(4 * 8 + 4 + 16) // 4]
    # multi-turn prompts as message lists count their contents
    turns = [
        [
            {"role": "user", "content": "u" * 20},
            {"role": "assistant", "content": "a" * 12},
            {"role": "user", "content": "v" * 8},
        ]
    ]
    messages = pa.table({"prompt": turns, "chosen": ["c" * 4], "rejected": ["r" * 4]})
    assert row_tokens(messages) == [(2 * 40 + 4 + 4) // 4]


def test_model_job_width_duration_and_capacity():
    gpu = Resources(gpus_per_actor=1)
    tp2 = model_spec(name="tp2", path="x", tensor_parallel_size=2)
    assert model_job(tp2, gpu, cost=100.0, capacity=8) == Job("tp2", 50.0, 2.0, 0)
    # replicas split the work; capped to what fits the cluster
    three = Resources(gpus_per_actor=1, actors_per_model=3)
    assert model_job(tp2, three, cost=120.0, capacity=4) == Job("tp2", 30.0, 4.0, 0)
    assert model_job(model_spec(name="m", path="x"), three, cost=120.0, capacity=8) == Job("m", 40.0, 3.0, 0)
    # CPU actors hold CPU slots
    assert (
        model_job(
            model_spec(name="c", path="x"), Resources(gpus_per_actor=0, cpus_per_actor=2), 10.0, 8
        ).width
        == 2.0
    )
    with pytest.raises(ValueError, match="model 'tp4': one replica needs 4 GPUs .* the cluster has 2"):
        model_job(model_spec(name="tp4", path="x", tensor_parallel_size=4), gpu, 1.0, capacity=2)


# ---------------------------------------------------------------- policy and simulator


def test_lpt_beats_job_order_on_a_long_last_job():
    jobs = [Job(f"s{i}", 1.0, 1.0, i) for i in range(4)] + [Job("long", 4.0, 1.0, 4)]
    assert [j.name for j in lpt_order(jobs)] == ["long", "s0", "s1", "s2", "s3"]
    lpt = simulate(jobs, 2)
    naive = simulate(jobs, 2, policy="naive")
    assert lpt.ideal == naive.ideal == 4.0
    assert (lpt.makespan, naive.makespan) == (4.0, 6.0)
    assert lpt.start_order[0] == "long" and lpt.spans["long"] == (0.0, 4.0)
    assert naive.spans["long"] == (2.0, 6.0)


def test_classic_lpt_bound_case():
    # Graham's example: LPT gives 7 where 6 is optimal (within its 4/3 - 1/(3m) bound)
    jobs = [Job(n, d, 1.0, i) for i, (n, d) in enumerate([("a", 3), ("b", 3), ("c", 2), ("d", 2), ("e", 2)])]
    result = simulate(jobs, 2)
    assert (result.makespan, result.ideal) == (7.0, 6.0)
    assert result.ratio == pytest.approx(7 / 6)
    assert ideal_makespan([Job("giant", 10.0), Job("x", 1.0), Job("y", 1.0)], 4) == 10.0


def test_tensor_parallel_jobs_in_the_simulator():
    # capacity 4: two TP=2 jobs (6 s each, 2 GPUs) and four 1-GPU jobs (3 s); total work 36 -> ideal 9
    jobs = [
        Job("b1", 3.0, 1.0, 0),
        Job("A", 6.0, 2.0, 1),
        Job("b2", 3.0, 1.0, 2),
        Job("b3", 3.0, 1.0, 3),
        Job("b4", 3.0, 1.0, 4),
        Job("C", 6.0, 2.0, 5),
    ]
    lpt = simulate(jobs, 4)
    assert lpt.ideal == 9.0 and lpt.makespan == 9.0
    assert lpt.spans["A"] == lpt.spans["C"] == (0.0, 6.0)
    naive = simulate(jobs, 4, policy="naive")
    # job order: b1, A, b2 fill the 4 GPUs; b3, b4 take the 2 GPUs freed at 3 s; C waits until 6 s
    assert naive.spans["C"] == (6.0, 12.0) and naive.makespan == 12.0
    # the scheduler never holds more than the capacity
    for t in (0.0, 3.0, 6.0, 9.0):
        held = sum(j.width for j in jobs if naive.spans[j.name][0] <= t < naive.spans[j.name][1])
        assert held <= 4


def test_slot_scheduler_backfills_and_releases():
    sched = SlotScheduler([Job("wide", 5.0, 2.0, 0), Job("narrow", 1.0, 1.0, 1), Job("n2", 0.5, 1.0, 2)], 3)
    started = sched.take()
    assert [j.name for j in started] == ["wide", "narrow"] and sched.free == 0.0
    assert sched.take() == []
    sched.release(started[1])
    assert [j.name for j in sched.take()] == ["n2"]
    with pytest.raises(ValueError, match="needs 4 slots"):
        SlotScheduler([Job("x", 1.0, 4.0)], 2)


def test_placement_bundles_and_options():
    gpu = Resources(gpus_per_actor=1, cpus_per_actor=2)
    tp2 = model_spec(name="a", path="x", tensor_parallel_size=2)
    assert replica_bundles(gpu, tp2) == [{"GPU": 1.0, "CPU": 2.0}, {"GPU": 1.0}]
    assert replica_bundles(gpu, model_spec(name="b", path="x")) is None
    assert replica_bundles(Resources(gpus_per_actor=0), tp2) is None  # CPU actors: no GPUs to place
    assert actor_options(gpu, model_spec(name="c", path="x", tensor_parallel_size=3))["num_gpus"] == 3
    assert actor_options(gpu)["num_gpus"] == 1


def test_prefetch_reads_every_weight_file(tiny_models):
    files = weight_files(tiny_models["tiny-rm"])
    assert [f.name for f in files] == ["model.safetensors"]
    assert read_into_page_cache(files) == files[0].stat().st_size
    assert weight_files("org/hub-id") == []


# ---------------------------------------------------------------- the driver on Ray (2 fake GPUs)


def _wait_free_gpus(ray, want, timeout=20.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if ray.available_resources().get("GPU", 0) >= want:
            return True
        time.sleep(0.2)
    return False


def test_driver_starts_models_longest_first_within_gpus(ray_cluster, filtered_path, tiny_models, tmp_path):
    from ray.util import placement_group_table

    path = str(tiny_models["tiny-rm"])
    hints = {"m-small": 1_000_000, "m-large": 4_000_000, "m-mid": 2_000_000, "m-big": 3_000_000}
    models = [{"name": n, "path": path, "num_parameters": p} for n, p in hints.items()]
    # TP=2 on 2 GPUs: duration = 5e6 x tokens / 2, between m-big (3e6) and m-mid (2e6)
    models.append({"name": "tp2", "path": path, "num_parameters": 5_000_000, "tensor_parallel_size": 2})
    job = JobConfig.from_dict(
        {
            "name": "sched-test",
            "benchmarks": [{"name": "reward-bench", "source": str(filtered_path), "limit": 2}],
            "models": models,
            "resources": {"gpus_per_actor": 1, "shard_size": 64},
            "results": str(tmp_path / "results"),
        }
    )
    res = run_job(job)
    assert res.ok, [o.error for o in res.failed]
    (manifest,) = read_manifests(tmp_path / "results")
    sched = manifest["schedule"]
    assert sched["policy"] == "lpt" and sched["resource"] == "GPU" and sched["capacity"] == 2
    by = {m["model"]: m for m in sched["models"]}
    # priority = duration, longest first; tp2 waits for both GPUs and nothing overtakes it
    expected = ["m-large", "m-big", "tp2", "m-mid", "m-small"]
    assert sorted(by, key=lambda n: by[n]["order"]) == expected
    assert sorted(by, key=lambda n: by[n]["start_seq"]) == expected  # the driver started them in that order
    assert all(m["parameters_from"] == "hint" and m["tokens"] > 0 for m in by.values())
    assert by["tp2"]["slots"] == 2 and by["m-mid"]["slots"] == 1
    # never more GPUs held than the cluster has: check at every start
    for m in by.values():
        t = m["started_s"]
        held = sum(o["slots"] for o in by.values() if o["started_s"] <= t < o["finished_s"])
        assert held <= 2, (m["model"], held)
    # the TP=2 model waited for both GPUs: it started only after m-large and m-big finished
    assert by["tp2"]["started_s"] >= max(by["m-large"]["finished_s"], by["m-big"]["finished_s"])
    # it ran in a STRICT_PACK placement group of two 1-GPU bundles, removed when it finished
    (pg_id,) = by["tp2"]["placement_groups"]
    table = placement_group_table()[pg_id]
    assert table["strategy"] == "STRICT_PACK" and table["state"] == "REMOVED"
    assert list(table["bundles"].values()) == [{"GPU": 1.0, "CPU": 1.0}, {"GPU": 1.0}]
    assert all(not by[n]["placement_groups"] for n in hints)
    assert _wait_free_gpus(ray_cluster, 2)
    # the tp2 model's records equal the 1-GPU models' (same weights), row for row
    con = connect(tmp_path / "results")
    rows = run_query(
        con,
        """
        SELECT row_index, count(*) AS n, count(DISTINCT score_chosen) AS k FROM records GROUP BY row_index
    """,
    ).to_pylist()
    assert rows and all(r["n"] == 5 and r["k"] == 1 for r in rows)
    outcome = {o.model: o for o in res.outcomes}
    assert outcome["tp2"].n_records == outcome["m-small"].n_records == len(rows)
    # the model waiting next had its weights read ahead while the one before it scored
    assert any(m["prefetched_bytes"] for m in by.values())


def test_model_wider_than_the_cluster_fails_alone(ray_cluster, filtered_path, tiny_models, tmp_path):
    job = JobConfig.from_dict(
        {
            "name": "too-wide",
            "benchmarks": [{"name": "reward-bench", "source": str(filtered_path), "limit": 1}],
            "models": [{"name": "tp4", "path": str(tiny_models["tiny-rm"]), "tensor_parallel_size": 4}],
            "resources": {"gpus_per_actor": 1},
            "results": str(tmp_path / "results"),
        }
    )
    res = run_job(job)
    (outcome,) = res.outcomes
    assert outcome.status == "failed"
    assert (
        outcome.error
        == "model 'tp4': tensor_parallel_size 4 needs that many GPUs on one node; the largest node has 2"
    )
    assert read_manifests(tmp_path / "results")[0]["status"] == "partial"
