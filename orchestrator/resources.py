"""The one place where declared resources become Ray actor options."""

from __future__ import annotations

from typing import Any

from orchestrator.config import Resources


def actor_options(resources: Resources, *, max_restarts: int = 0) -> dict[str, Any]:
    """Ray ``.options(...)`` for one scoring actor."""
    return {
        "num_gpus": resources.gpus_per_actor,
        "num_cpus": resources.cpus_per_actor,
        "max_restarts": max_restarts,
        "max_concurrency": 1,
    }


def torch_threads(resources: Resources) -> int:
    """Intra-op threads a CPU scoring actor should use."""
    if resources.torch_threads is not None:
        return resources.torch_threads
    return max(1, int(resources.cpus_per_actor))


def actor_device(resources: Resources) -> str:
    """``cuda`` when actors hold GPUs, else ``cpu``."""
    return "cuda" if resources.gpus_per_actor > 0 else "cpu"
