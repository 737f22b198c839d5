"""The one place where declared resources become Ray actor options."""

from __future__ import annotations

import math
import os
from typing import Any

from orchestrator.config import ModelSpec, Resources


def api_only(spec: Any) -> bool:
    """A model that only calls endpoints (``backend: openai``, or an ensemble of such judges): no GPU, no torch."""
    if spec.backend == "openai":
        return True
    members = getattr(spec, "member_specs", None) or []
    return spec.backend == "ensemble" and bool(members) and all(m.get("backend") == "openai" for m in members)


WEIGHT_OVERHEAD = 1.2
"""Weights x this = what a model needs on its GPUs (activations, buffers)."""

GPU_MEMORY_FRACTION = 0.9
"""Of each GPU's memory, the part a split model's layers may take (``max_memory``)."""

_DTYPE_BYTES = {"float32": 4, "bfloat16": 2, "float16": 2}


def device_map_gpus(resources: Resources, spec: ModelSpec | None) -> int:
    """GPUs one replica of a native-head model on the transformers backend splits its layers over
    (``device_map``, :mod:`orchestrator.scoring.adapters.device_map`): ``gpus_per_actor`` when it is 2 or more,
    else as many as its weights need (the parameter estimate of :mod:`orchestrator.runtime.scheduling` x the
    dtype's bytes x :data:`WEIGHT_OVERHEAD`, over :data:`GPU_MEMORY_FRACTION` of ``gpu_memory_gib``). 1 for every
    other model (sequence classifiers, vLLM, other kinds, CPU actors)."""
    if spec is None or resources.gpus <= 0 or spec.backend != "transformers" or spec.kind != "classifier":
        return 1
    from orchestrator.errors import ModelError
    from orchestrator.runtime.scheduling import estimate_parameters
    from orchestrator.scoring.adapters import select_adapter

    try:
        adapter = select_adapter(getattr(spec, "adapter", "auto"), spec.path)
    except ModelError:
        return 1  # the model fails at load with this error; it needs no split
    if adapter.head in ("sequence-classification", "lm-ab-tokens"):
        return 1
    explicit = int(resources.gpus) if resources.gpus >= 2 else 1
    dtype = spec.dtype if spec.dtype != "auto" else (adapter.dtype or "bfloat16")
    params, _ = estimate_parameters(spec)
    need = params * _DTYPE_BYTES[dtype] * WEIGHT_OVERHEAD
    per_gpu = resources.gpu_memory_gib * GPU_MEMORY_FRACTION * 2**30
    return max(explicit, math.ceil(need / per_gpu))


def replica_gpus(resources: Resources, spec: ModelSpec | None) -> float:
    """GPUs one replica holds: ``max(gpus_per_actor, tensor_parallel_size, device_map_gpus)`` (0 for CPU actors
    and API judges)."""
    if resources.gpus <= 0 or (spec is not None and api_only(spec)):
        return 0.0
    if spec is None:
        return resources.gpus
    return float(max(resources.gpus, spec.tensor_parallel_size, device_map_gpus(resources, spec)))


def replica_bundles(resources: Resources, spec: ModelSpec | None) -> list[dict[str, float]] | None:
    """Placement-group bundles of one replica spanning several GPUs, else None.

    ``tensor_parallel_size`` bundles of one GPU each (as vLLM's Ray executor requires);
    the first also holds the actor's CPUs. A native-head model split over several GPUs (:func:`device_map_gpus`)
    gets one bundle with all of them and the CPUs (its one actor holds them all). Used with the
    ``STRICT_PACK`` strategy: one node.
    """
    if spec is None or resources.gpus <= 0 or api_only(spec):  # an API judge holds no GPU
        return None
    split = device_map_gpus(resources, spec)
    if split > 1 and spec.tensor_parallel_size <= 1:
        return [{"GPU": float(split), "CPU": float(resources.cpus)}]
    if spec.tensor_parallel_size <= 1:
        return None
    bundles: list[dict[str, float]] = [{"GPU": 1.0} for _ in range(spec.tensor_parallel_size)]
    bundles[0]["CPU"] = float(resources.cpus)
    return bundles


def create_placement_group(resources: Resources, spec: ModelSpec) -> Any:
    """Reserve one multi-GPU replica's GPUs on one node (None when the replica needs no group).

    Not awaited: an actor scheduled into it starts once the group is placed.
    """
    bundles = replica_bundles(resources, spec)
    if bundles is None:
        return None
    from ray.util.placement_group import placement_group

    return placement_group(bundles, strategy="STRICT_PACK")


def remove_placement_group(group: Any) -> None:
    """Give a replica's reserved GPUs back (after its actor is gone)."""
    from ray.util.placement_group import remove_placement_group as _remove

    try:
        _remove(group)
    except Exception:  # already removed, or the cluster is shutting down
        pass


def actor_options(
    resources: Resources, spec: ModelSpec | None = None, *, placement_group: Any = None, max_restarts: int = 0
) -> dict[str, Any]:
    """Ray ``.options(...)`` for one scoring actor of ``spec``.

    A multi-GPU replica (``tensor_parallel_size`` > 1 on GPUs) runs in its placement group's
    first bundle: a vLLM actor holds no GPU itself (its engine's Ray workers take the
    group's GPU bundles and inherit the group), a transformers actor holds the first GPU, or every GPU of the
    group when its model is split over them (:func:`device_map_gpus`).
    """
    opts: dict[str, Any] = {
        "num_gpus": resources.gpus,
        "num_cpus": resources.cpus,
        "max_restarts": max_restarts,
        "max_concurrency": 1,
    }
    if placement_group is not None and spec is not None:
        from ray.util.scheduling_strategies import PlacementGroupSchedulingStrategy

        split = device_map_gpus(resources, spec)
        opts["num_gpus"] = 0 if spec.backend == "vllm" else (split if split > 1 else 1)
        opts["scheduling_strategy"] = PlacementGroupSchedulingStrategy(
            placement_group=placement_group,
            placement_group_bundle_index=0,
            placement_group_capture_child_tasks=True,
        )
    elif spec is not None and resources.gpus > 0:
        opts["num_gpus"] = max(resources.gpus, spec.tensor_parallel_size)
    if spec is not None and api_only(spec):
        opts["num_gpus"] = 0  # an API judge only waits on its endpoint
    return opts


def torch_threads(resources: Resources) -> int:
    """Intra-op threads a CPU scoring actor should use: ``torch_threads`` when set, else the CPUs it holds,
    at most this node's cores (a local cluster has more CPU slots than cores)."""
    if resources.torch_threads is not None:
        return resources.torch_threads
    return max(1, min(int(resources.cpus), os.cpu_count() or 1))


def actor_device(resources: Resources) -> str:
    """``cuda`` when actors hold GPUs, else ``cpu``."""
    return "cuda" if resources.gpus > 0 else "cpu"
