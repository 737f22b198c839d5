"""Connecting the driver to Ray. Only the driver calls :func:`init_ray`."""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path
from typing import Any

from orchestrator._lazy import require
from orchestrator.config import Resources
from orchestrator.errors import ConfigError

logger = logging.getLogger(__name__)

_OBJECT_STORE_BYTES = 512 * 1024 * 1024
_JOB_ENV = "RAY_JOB_CONFIG_JSON_ENV_VAR"  # set by Ray's job supervisor for a submitted job's entrypoint


def init_ray(address: str | None = None, *, num_cpus: int | None = None, num_gpus: int | None = None) -> Any:
    """Start a local Ray cluster (default) or connect to ``address``; reuse one already up.

    Inside a Ray Job (``ray job submit -- rayward run …``) the default is the job's own cluster."""
    if not address and in_ray_job():
        # the job supervisor sets RAY_ADDRESS to the cluster the job was submitted to
        address = os.environ.get("RAY_ADDRESS") or "auto"
    ray_module = sys.modules.get("ray")
    connected = ray_module is not None and ray_module.is_initialized()  # reused below: auth no longer matters
    token = Path.home() / ".ray" / "auth_token"
    if address and not connected and "RAY_AUTH_MODE" not in os.environ and token.is_file():
        # A head started with `ray start` uses token auth when a token exists; a client must say so
        # too, before Ray reads its configuration.
        os.environ["RAY_AUTH_MODE"] = "token"
    ray = require("ray")
    if ray.is_initialized():
        return ray
    os.environ.setdefault("RAY_ACCEL_ENV_VAR_OVERRIDE_ON_ZERO", "0")
    # Ray's own notice that it enabled token auth on the local cluster is noise in our CLI output.
    logging.getLogger("ray._private.authentication.authentication_token_setup").setLevel(logging.ERROR)
    kwargs: dict[str, Any] = {
        "include_dashboard": False,
        "log_to_driver": False,
        "logging_level": logging.WARNING,
    }
    if address:
        kwargs["address"] = address
    else:
        # Always a fresh local cluster: never join some other cluster running on this machine.
        kwargs["address"] = "local"
        # more CPU slots than cores: actors that hold a slot while idle must not starve the driver's tasks
        kwargs["num_cpus"] = num_cpus or max(8, os.cpu_count() or 1)
        kwargs["object_store_memory"] = _OBJECT_STORE_BYTES
        if num_gpus is not None:
            kwargs["num_gpus"] = num_gpus
    from orchestrator.runtime.shutdown import descendants

    before = set(descendants())
    ray.init(**kwargs)
    global _STARTED_LOCAL, _PRE_EXISTING
    _STARTED_LOCAL = not address
    _PRE_EXISTING = before
    return ray


_STARTED_LOCAL = False  # whether init_ray started the local cluster it is connected to
_PRE_EXISTING: set[int] = set()  # this process's children from before that cluster (never the cluster's)


def cluster_processes(current: list[int]) -> list[int]:
    """Of this process's live descendants ``current``, those that came with the local cluster it started (what
    :func:`orchestrator.runtime.shutdown.stop_local_cluster` may kill): other children are not Ray's."""
    return [pid for pid in current if pid not in _PRE_EXISTING]


def started_local_cluster() -> bool:
    """Whether :func:`init_ray` started (not joined) the Ray cluster this process is connected to."""
    return _STARTED_LOCAL


def forget_local_cluster() -> None:
    """After :func:`orchestrator.runtime.shutdown.stop_local_cluster`: no cluster of ours is up."""
    global _STARTED_LOCAL
    _STARTED_LOCAL = False


def in_ray_job() -> bool:
    """Whether this process is the entrypoint of a submitted Ray Job (``ray job submit``)."""
    return _JOB_ENV in os.environ


def local_gpu_count() -> int:
    """GPUs this machine shows without starting Ray or importing torch (``CUDA_VISIBLE_DEVICES`` when set,
    else the NVIDIA device files): the guess for ``gpus_per_actor: auto`` before any cluster is up."""
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible is not None:
        return len([d for d in visible.split(",") if d.strip() and d.strip() != "-1"])
    return len([p for p in Path("/dev").glob("nvidia[0-9]*") if p.name[len("nvidia") :].isdigit()])


def guess_resources(resources: Resources) -> Resources:
    """``resources`` resolved against this machine (before a cluster is up; see :func:`resolve_resources`)."""
    if resources.resolved:
        return resources
    return resources.resolve(local_gpu_count(), float(os.cpu_count() or 1))


def resolve_resources(ray: Any, resources: Resources) -> Resources:
    """``auto`` actor sizes resolved against the connected cluster (GPU actors when it has GPUs, else CPU
    actors holding the largest node's CPUs); fails fast when no node could ever host one actor."""
    total = ray.cluster_resources()
    node_cpus = max(
        (float(n.get("Resources", {}).get("CPU", 0)) for n in ray.nodes() if n.get("Alive")),
        default=float(total.get("CPU", 0)),
    )
    resolved = resources.resolve(float(total.get("GPU", 0)), node_cpus)
    need_gpu = resolved.gpus
    if need_gpu > 0 and total.get("GPU", 0) < need_gpu:
        raise ConfigError(
            f"resources.gpus_per_actor is {need_gpu:g} but the Ray cluster has {total.get('GPU', 0):g} GPUs; "
            "leave it out (auto) or set `resources: {gpus_per_actor: 0}` for CPU actors, "
            "or connect to a GPU cluster with --address"
        )
    if total.get("CPU", 0) < resolved.cpus:
        raise ConfigError(
            f"resources.cpus_per_actor is {resolved.cpus:g} but the Ray cluster has {total.get('CPU', 0):g} CPUs"
        )
    return resolved
