"""Job specification: strict pydantic v2 models loaded from YAML (:func:`from_yaml`).

``models[]`` entries are a union discriminated by ``kind``: each kind's settings are their own class
(:class:`ClassifierSpec`, :class:`DPOSpec`, :class:`JudgeSpec`, and any kind registered with
:func:`register_model_kind`); ``benchmarks[].name`` is checked against the benchmark data tables.
"""

from orchestrator.config._adapted import PairwiseSpec
from orchestrator.config._base import (
    DEFAULT_KIND,
    ModelBase,
    ModelSpec,
    Strict,
    check_name,
    looks_like_local_path,
    model_kinds,
    model_spec,
    register_model_kind,
)
from orchestrator.config._benchmark import BenchmarkSpec, ColumnMap
from orchestrator.config._job import AfterRun, Failures, JobConfig, RegressionCheck, Resources, from_yaml
from orchestrator.config._judge_api import ApiSettings, FallbackParser, Prices
from orchestrator.config._kinds import ClassifierSpec, DPOSpec, JudgeSpec

__all__ = [
    "DEFAULT_KIND",
    "AfterRun",
    "ApiSettings",
    "FallbackParser",
    "Prices",
    "BenchmarkSpec",
    "ClassifierSpec",
    "ColumnMap",
    "DPOSpec",
    "Failures",
    "JobConfig",
    "JudgeSpec",
    "ModelBase",
    "ModelSpec",
    "PairwiseSpec",
    "RegressionCheck",
    "Resources",
    "Strict",
    "check_name",
    "looks_like_local_path",
    "from_yaml",
    "model_kinds",
    "model_spec",
    "register_model_kind",
]
