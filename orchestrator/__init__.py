"""Rayward: distributed evaluation of reward models on Ray (import package ``orchestrator``).

The public API is small and re-exported here lazily (``import orchestrator`` imports neither torch,
transformers, vllm nor ray): load a job, run it, query its results, extend the registries, and the error types.

    import orchestrator
    job = orchestrator.from_yaml("jobs/demo.yaml")
    result = orchestrator.run_job(job)
    con = orchestrator.connect("results")          # DuckDB with every view over the store
    rows = orchestrator.leaderboard("results")

Everything else lives in the subpackages, along the data flow: ``config`` (job) -> ``runtime`` (plan,
schedule, driver, actors) -> ``scoring`` (scorers) -> ``results`` (records, manifests, cache) ->
``query`` (SQL, analyses, stats) -> ``outputs`` (report, leaderboard files) and ``cli``.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

__version__ = "0.1.0"

_EXPORTS = {
    # the job
    "JobConfig": "orchestrator.config",
    "from_yaml": "orchestrator.config",
    # running it
    "run_job": "orchestrator.runtime.driver",
    "run_job_file": "orchestrator.runtime.driver",
    "RunResult": "orchestrator.runtime.driver",
    # its results
    "connect": "orchestrator.query.db",
    "leaderboard": "orchestrator.query.db",
    "open_store": "orchestrator.results.store",
    "Store": "orchestrator.results.store",
    # extension points
    "register_model_kind": "orchestrator.config",
    "register_scorer": "orchestrator.scoring",
    "register_tables": "orchestrator.benchmarks",
    "register_loader": "orchestrator.data",
    # errors
    "RaywardError": "orchestrator.errors",
    "ConfigError": "orchestrator.errors",
    "DataError": "orchestrator.errors",
    "ModelError": "orchestrator.errors",
    "ModelFailure": "orchestrator.errors",
    "QueryError": "orchestrator.errors",
    "MissingDependencyError": "orchestrator.errors",
}

__all__ = ["__version__", *_EXPORTS]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'orchestrator' has no attribute {name!r}")
    return getattr(import_module(module), name)
