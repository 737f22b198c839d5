"""Exceptions raised by Rayward; each carries a message that names the file, row or key."""

from __future__ import annotations

from typing import ClassVar, Literal

FailureKind = Literal[
    "preflight",  # the model path can be neither a model directory nor a hub id
    "load",  # the scorer could not load the model (weights, tokenizer, template, missing package)
    "scoring",  # the scorer raised while scoring a shard
    "actor_lost",  # its actor died more often than failures.unit_retries allows
    "out_of_memory",  # out of memory even at one sequence per batch
    "row_errors",  # more rows failed than failures.max_error_rate allows
    "placement",  # no node can hold one replica (GPUs, tensor parallelism)
    "incomplete",  # fewer records than examples were written
]
"""Why a model failed in a run (the manifest's ``failure``)."""


class RaywardError(Exception):
    """Base class for errors that the CLI reports without a traceback."""

    exit_code = 1


class ConfigError(RaywardError):
    """A job file or option is invalid (unknown key, wrong type, missing file)."""

    exit_code = 2


class DataError(RaywardError):
    """A benchmark dataset is malformed (missing column, null text, unknown subset)."""

    exit_code = 2


class ModelError(RaywardError):
    """A model could not be loaded or scored."""


class MissingDependencyError(RaywardError, ImportError):
    """An optional package is needed; the message carries the ``pip install`` hint."""


class QueryError(RaywardError):
    """A SQL query over the results store failed."""

    exit_code = 2


class ModelFailure(ModelError):
    """Why a model failed in a run, as a type: ``kind`` is recorded in the manifest as the outcome's
    ``failure`` (see :data:`orchestrator.results.manifest.FailureKind`); the message names the model."""

    kind: ClassVar[FailureKind] = "scoring"


class PreflightFailure(ModelFailure):
    """The model's path can be neither a local model directory nor a hub id."""

    kind: ClassVar[FailureKind] = "preflight"


class LoadFailure(ModelFailure):
    """The scorer could not load the model."""

    kind: ClassVar[FailureKind] = "load"


class ScoringFailure(ModelFailure):
    """The scorer raised while scoring a shard."""

    kind: ClassVar[FailureKind] = "scoring"


class ActorLostFailure(ModelFailure):
    """The model's actor died more often than ``failures.unit_retries`` allows."""

    kind: ClassVar[FailureKind] = "actor_lost"


class OutOfMemoryFailure(ModelFailure):
    """Out of accelerator memory even at one sequence per batch."""

    kind: ClassVar[FailureKind] = "out_of_memory"


class RowErrorFailure(ModelFailure):
    """More rows failed to format or tokenize than ``failures.max_error_rate`` allows."""

    kind: ClassVar[FailureKind] = "row_errors"


class PlacementFailure(ModelFailure):
    """No node of the cluster can hold one replica of the model."""

    kind: ClassVar[FailureKind] = "placement"


class IncompleteFailure(ModelFailure):
    """Fewer records than examples were written."""

    kind: ClassVar[FailureKind] = "incomplete"
