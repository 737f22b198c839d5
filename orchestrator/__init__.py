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
    "plan_units": "orchestrator.planning",
    "WorkUnit": "orchestrator.planning",
    "estimate_parameters": "orchestrator.scheduling",
    "simulate": "orchestrator.scheduling",
    "run_job": "orchestrator.runner",
    "run_job_file": "orchestrator.runner",
    "RunResult": "orchestrator.runner",
    "ScoreCache": "orchestrator.score_cache",
    "RECORD_SCHEMA": "orchestrator.records",
    "SCHEMA_VERSION": "orchestrator.records",
    "connect": "orchestrator.store",
    "open_store": "orchestrator.storage",
    "Store": "orchestrator.storage",
    "check_regressions": "orchestrator.after_run",
    "leaderboard": "orchestrator.store",
    "analyze": "orchestrator.analyses",
    "bootstrap_scores": "orchestrator.stats",
    "leaderboard_cis": "orchestrator.stats",
    "mcnemar_exact": "orchestrator.stats",
    "compare_models": "orchestrator.compare",
    "write_report": "orchestrator.report",
    "diff_runs": "orchestrator.compare",
    "ANALYSES": "orchestrator.analyses",
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
