"""Rayward: distributed evaluation of reward models on Ray (import package ``orchestrator``).

The public API is re-exported here lazily: ``import orchestrator`` imports neither
torch, transformers, vllm nor ray.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

__version__ = "0.1.0"

_EXPORTS = {
    "JobConfig": "orchestrator.config",
    "BenchmarkSpec": "orchestrator.config",
    "ModelSpec": "orchestrator.config",
    "Resources": "orchestrator.config",
    "from_yaml": "orchestrator.config",
    "load_examples": "orchestrator.data",
    "Examples": "orchestrator.data",
    "plan_units": "orchestrator.runtime.planning",
    "WorkUnit": "orchestrator.runtime.planning",
    "estimate_parameters": "orchestrator.runtime.scheduling",
    "simulate": "orchestrator.runtime.scheduling",
    "run_job": "orchestrator.runtime.driver",
    "run_job_file": "orchestrator.runtime.driver",
    "RunResult": "orchestrator.runtime.driver",
    "ScoreCache": "orchestrator.results.cache",
    "RECORD_SCHEMA": "orchestrator.results.records",
    "SCHEMA_VERSION": "orchestrator.results.records",
    "connect": "orchestrator.query.db",
    "open_store": "orchestrator.results.store",
    "Store": "orchestrator.results.store",
    "check_regressions": "orchestrator.outputs.after_run",
    "leaderboard": "orchestrator.query.db",
    "analyze": "orchestrator.query.analyses",
    "bootstrap_scores": "orchestrator.query.stats",
    "leaderboard_cis": "orchestrator.query.stats",
    "mcnemar_exact": "orchestrator.query.stats",
    "compare_models": "orchestrator.query.compare",
    "write_report": "orchestrator.outputs.report",
    "diff_runs": "orchestrator.query.compare",
    "ANALYSES": "orchestrator.query.analyses",
    "make_scorer": "orchestrator.scoring",
    "JudgeScorer": "orchestrator.scoring.judge",
    "parse_score": "orchestrator.scoring.verdicts",
    "parse_pair": "orchestrator.scoring.verdicts",
    "build_tiny_model": "orchestrator.tiny",
    "ensure_demo_models": "orchestrator.tiny",
    "RaywardError": "orchestrator.errors",
    "ConfigError": "orchestrator.errors",
    "DataError": "orchestrator.errors",
    "ModelError": "orchestrator.errors",
    "QueryError": "orchestrator.errors",
    "MissingDependencyError": "orchestrator.errors",
}

__all__ = ["__version__", *_EXPORTS]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'orchestrator' has no attribute {name!r}")
    return getattr(import_module(module), name)
