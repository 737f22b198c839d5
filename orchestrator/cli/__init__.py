"""The ``rayward`` command line (typer + rich): one module per command group, nothing but parsing and
rendering. The only package that prints."""

from __future__ import annotations

import os

from orchestrator.cli import (  # noqa: F401  (register commands)
    _compare,
    _interop,
    _leaderboard,
    _report,
    _run,
    _sql,
    _store,
    _store_check,
)
from orchestrator.cli._common import app
from orchestrator.cli._leaderboard import _abbreviate

__all__ = ["app", "main", "_abbreviate"]


def main() -> None:  # pragma: no cover - console entry point
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "true")
    app()
