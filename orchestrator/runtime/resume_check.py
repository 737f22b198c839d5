"""What a run was made of, so that ``--resume`` never mixes records of two datasets or two models.

A run's manifest keeps ``inputs``: the fingerprint of each benchmark's data (as ``datasets[].fingerprint``) and,
per model, what each of its path-valued settings points to (``path``, ``reference``, ``tokenizer``,
``template``, ``chat_template``, ``iterations``: a local directory's content fingerprint, a file's sha256, a hub
id's commit when the local HF cache knows it). Resuming compares them with the interrupted run's and, on any
difference, refuses (naming each change) or, with ``--on-change new-run``, starts a new run instead.

Manifests written before ``inputs`` existed are compared on their dataset fingerprints and, for classifier and
dpo models, on the model fingerprint the actor recorded.
"""

from __future__ import annotations

import logging
from typing import Any

from orchestrator.config import JobConfig

logger = logging.getLogger(__name__)

PATH_SETTINGS = ("path", "reference", "tokenizer", "template", "chat_template", "iterations")
"""Model settings whose value names something on disk or on the hub."""

ON_CHANGE = ("refuse", "new-run")
"""What ``--resume`` does when the inputs changed: refuse (default) or start a new run."""


def _identity(value: Any) -> Any:
    from orchestrator.results.cache import _resolve_value

    if isinstance(value, list):
        return [_identity(v) for v in value]
    return _resolve_value(value)


def run_inputs(job: JobConfig, examples: dict[str, Any]) -> dict[str, Any]:
    """The ``inputs`` block of a run manifest."""
    models = {}
    for spec in job.models:
        entry = {}
        for key in PATH_SETTINGS:
            value = getattr(spec, key, None)
            if value is not None and value != "previous":
                entry[key] = _identity(value)
        models[spec.name] = entry
    return {
        "datasets": {name: e.fingerprint for name, e in examples.items()},
        "models": models,
    }


def _short(value: Any) -> str:
    if isinstance(value, dict):
        for k in ("fingerprint", "sha256", "hub_sha"):
            if k in value:
                return f"{value['value']} ({k} {str(value[k]).removeprefix('sha256:')[:12]})"
    text = str(value)
    return text if len(text) <= 80 else text[:77] + "..."


def input_changes(previous: dict[str, Any], job: JobConfig, examples: dict[str, Any]) -> list[str]:
    """Each difference between the interrupted run's inputs and this run's, in words (empty: none)."""
    changes: list[str] = []
    before_data = {d.get("benchmark"): d.get("fingerprint") for d in previous.get("datasets") or []}
    for name, e in examples.items():
        old = before_data.get(name)
        if old is not None and old != e.fingerprint:
            changes.append(
                f"dataset of benchmark {name!r} ({e.source}) changed: fingerprint {old} -> {e.fingerprint}"
            )
    now = run_inputs(job, examples)["models"]
    recorded = (previous.get("inputs") or {}).get("models")
    if isinstance(recorded, dict):
        for name, settings in now.items():
            old = recorded.get(name)
            if not isinstance(old, dict):
                continue
            for key in sorted(set(settings) | set(old)):
                if settings.get(key) != old.get(key):
                    changes.append(
                        f"model {name!r}: {key} changed: {_short(old.get(key))} -> {_short(settings.get(key))}"
                    )
        return changes
    from orchestrator.scoring._hf import model_fingerprint

    specs = {m.name: m for m in job.models}
    for entry in previous.get("models") or []:
        spec = specs.get(entry.get("model"))
        old = entry.get("fingerprint")
        if spec is None or old is None or spec.kind == "judge":
            continue
        fp = model_fingerprint(spec.path, spec.revision)
        if fp != old and f"model {spec.name!r}" not in " ".join(changes):
            changes.append(f"model {spec.name!r} ({spec.path}) changed: fingerprint {old} -> {fp}")
    return changes
