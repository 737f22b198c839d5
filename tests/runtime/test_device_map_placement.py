"""Native-head models too large for one GPU: the GPUs planned for a replica, its placement group, the layer map
(planned with fake sizes and fake GPUs; the split forward run over CPU "devices")."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from tests.conftest import FIXTURES

REPLICAS = FIXTURES / "reference" / "adapters" / "replicas"
INF_ORM = REPLICAS / "infly" / "INF-ORM-Llama3.1-70B"


def _spec(path, **kw):
    from orchestrator.config import model_spec

    return model_spec(name="m", path=str(path), **kw)


def test_plan_device_map_balances_contiguous_layers():
    from orchestrator.errors import ModelError
    from orchestrator.scoring.adapters.device_map import plan_device_map

    layers = [(f"layers.{i}", 10) for i in range(8)]
    assert plan_device_map(layers, [100, 100]) == [0] * 4 + [1] * 4
    assert plan_device_map(layers, [100, 100, 100]) == [0, 0, 0, 1, 1, 2, 2, 2]
    assert plan_device_map(layers, [25, 100]) == [0, 0, 1, 1, 1, 1, 1, 1]  # max_memory caps the first GPU
    with pytest.raises(ModelError, match=r"layer layers.6 .* does not fit on device 1"):
        plan_device_map(layers, [30, 30])


def test_gpus_planned_from_the_parameter_estimate():
    """A 70B INF-ORM (the replica with a 70e9 parameter hint) in bfloat16: 70e9 x 2 bytes x 1.2 over 90% of
    80 GiB = 3 GPUs per replica, one placement-group bundle holding all three for its one actor."""
    from orchestrator.config import Resources
    from orchestrator.runtime.resources import actor_options, device_map_gpus, replica_bundles, replica_gpus
    from orchestrator.runtime.scheduling import model_job, replica_width

    gpu = Resources(gpus_per_actor=1, cpus_per_actor=2)
    big = _spec(INF_ORM, num_parameters=70_000_000_000)
    assert device_map_gpus(gpu, big) == 3
    assert replica_bundles(gpu, big) == [{"GPU": 3.0, "CPU": 2.0}]
    assert replica_gpus(gpu, big) == replica_width(gpu, big) == 3.0
    assert model_job(big, gpu, cost=1.0, capacity=8).width == 3.0
    with pytest.raises(ValueError, match="one replica needs 3 GPUs"):
        model_job(big, gpu, cost=1.0, capacity=2)
    assert device_map_gpus(gpu.model_copy(update={"gpu_memory_gib": 141.0}), big) == 2  # an H200
    assert device_map_gpus(gpu, big.model_copy(update={"dtype": "float32"})) == 5
    assert device_map_gpus(Resources(gpus_per_actor=4, cpus_per_actor=1), _spec(INF_ORM)) == 4  # explicit
    # the tiny replica itself fits one GPU; sequence classifiers, vLLM and CPU actors are never split
    assert device_map_gpus(gpu, _spec(INF_ORM)) == 1 and replica_bundles(gpu, _spec(INF_ORM)) is None
    assert device_map_gpus(gpu, _spec("x/plain-rm", num_parameters=70_000_000_000)) == 1
    assert device_map_gpus(Resources(gpus_per_actor=0, cpus_per_actor=1), big) == 1
    assert actor_options(gpu, _spec(INF_ORM))["num_gpus"] == 1


def test_split_replica_actor_holds_every_gpu_of_its_group(ray_cluster):
    """On the session cluster's 2 fake GPUs: a model planned on 2 GPUs gets a one-bundle placement group and its
    actor sees both GPUs (what the scorer then splits the layers over)."""
    import ray

    from orchestrator.config import Resources
    from orchestrator.runtime.resources import actor_options, create_placement_group, remove_placement_group

    res = Resources(gpus_per_actor=1, cpus_per_actor=1, gpu_memory_gib=80.0)
    spec = _spec(INF_ORM, num_parameters=40_000_000_000)  # 40e9 x 2 x 1.2 = 96e9 bytes: 2 GPUs of 80 GiB
    group = create_placement_group(res, spec)
    try:
        ray.get(group.ready(), timeout=60)

        @ray.remote
        class Probe:
            def gpus(self):
                return ray.get_gpu_ids()

        opts = actor_options(res, spec, placement_group=group)
        assert opts["num_gpus"] == 2
        actor = Probe.options(**opts).remote()
        assert len(ray.get(actor.gpus.remote(), timeout=60)) == 2
        ray.kill(actor)
    finally:
        remove_placement_group(group)


def test_split_forward_equals_the_single_device_forward(tmp_path, filtered_path):
    """The layer map applied over two CPU "devices" (modules moved, inputs moved by the pre-hooks): embeddings
    with the first layer, the final norm and the head with the last, scores unchanged."""
    import pyarrow.parquet as pq

    from orchestrator.scoring.adapters.device_map import dispatch, layer_list, plan_device_map
    from orchestrator.scoring.adapters.scorer import AdapterScorer

    path = tmp_path / "openbmb" / "UltraRM-13b"
    shutil.copytree(REPLICAS / "openbmb" / "UltraRM-13b", path)
    rows = pq.read_table(filtered_path).slice(0, 6).to_pylist()
    args = ([r["prompt"] for r in rows], [r["chosen"] for r in rows])
    scorer = AdapterScorer(_spec(path, dtype="float32"))
    before = scorer.score_completions(*args)[0]
    name, layers = layer_list(scorer.model.base)
    sizes = [
        (f"{name}.{i}", sum(p.numel() * 4 for p in layer.parameters())) for i, layer in enumerate(layers)
    ]
    assert plan_device_map(sizes, [1 << 30, 1 << 30]) == [0, 1]
    device_map = dispatch(scorer.model, ["cpu", "cpu"], [1 << 30, 1 << 30], where="ultrarm")
    assert set(device_map) == {"embed_tokens", "layers.0", "layers.1", "norm", "rotary_emb", "head_layer"}
    assert all(layer._forward_pre_hooks for layer in layers)
    np.testing.assert_array_equal(scorer.score_completions(*args)[0], before)
