"""Exceptions raised by Rayward; each carries a message that names the file, row or key."""

from __future__ import annotations


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
