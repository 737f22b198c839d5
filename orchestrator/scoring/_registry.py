"""The scorer registry: one factory per ``(kind, backend)``.

A factory is ``factory(spec, device) -> Scorer``, given as a callable or as ``"module:attribute"`` (imported
only when a model of that kind and backend is loaded, so heavy engines stay lazy). A new model kind is a
config class (:func:`orchestrator.config.register_model_kind`), a scorer module and one
:func:`register_scorer` line. Registrations made outside this package are remembered by module, so the
scoring actors import those modules too (:func:`plugin_modules`).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from importlib import import_module
from typing import Any

from orchestrator.errors import ConfigError

Factory = Callable[[Any, str], Any]

_FACTORIES: dict[tuple[str, str], Factory | str] = {
    # one-label classifiers: ClassifierScorer; custom heads and profile: reference: the family's adapter
    ("classifier", "transformers"): "orchestrator.scoring.adapters.scorer:classifier_scorer",
    ("classifier", "vllm"): "orchestrator.scoring.vllm_classifier:VllmClassifierScorer",
    ("dpo", "transformers"): "orchestrator.scoring.dpo:DPOScorer",
    ("dpo", "vllm"): "orchestrator.scoring.dpo_vllm:VLLMDPOScorer",
    ("judge", "transformers"): "orchestrator.scoring.judge:JudgeScorer",
    ("judge", "vllm"): "orchestrator.scoring.judge_vllm:VllmJudgeScorer",
    ("pairwise", "transformers"): "orchestrator.scoring.pairwise:pairwise_scorer",
    ("judge", "openai"): "orchestrator.scoring.judge_openai:OpenAIJudgeScorer",
    ("judge", "ensemble"): "orchestrator.scoring.judge_ensemble:EnsembleJudge",
}
_PLUGINS: list[str] = []


def register_scorer(kind: str, backend: str, factory: Factory | str | None = None) -> Any:
    """Register the scorer factory of ``(kind, backend)``; as a decorator when ``factory`` is left out."""

    def add(target: Factory | str) -> Factory | str:
        _FACTORIES[(kind, backend)] = target
        module = target.split(":")[0] if isinstance(target, str) else getattr(target, "__module__", None)
        if module is None and not isinstance(target, str):
            caller = inspect.getmodule(inspect.stack()[2].frame)
            module = caller.__name__ if caller else None
        if module and not module.startswith("orchestrator.") and module not in _PLUGINS:
            _PLUGINS.append(module)
        return target

    return add if factory is None else add(factory)


def scorer_factory(kind: str, backend: str) -> Factory:
    """The factory registered for ``(kind, backend)``; a clear error when there is none."""
    target = _FACTORIES.get((kind, backend))
    if target is None:
        have = sorted(b for k, b in _FACTORIES if k == kind)
        hint = (
            f"kind {kind!r} runs on: {', '.join(have)}"
            if have
            else f"no scorer is registered for kind {kind!r}"
        )
        raise ConfigError(f"no scorer for kind {kind!r} with backend {backend!r}; {hint}")
    if isinstance(target, str):
        module, _, attr = target.partition(":")
        target = getattr(import_module(module), attr)
    return target


def make_scorer(spec: Any, device: str = "cpu") -> Any:
    """Load the scorer for a model spec's ``kind`` and ``backend`` on ``device``."""
    return scorer_factory(spec.kind, spec.backend)(spec, device)


def registered_scorers() -> list[tuple[str, str]]:
    """Every registered ``(kind, backend)``."""
    return sorted(_FACTORIES)


def plugin_modules() -> list[str]:
    """Modules outside the package that registered scorers or model kinds (imported by each scoring actor)."""
    from orchestrator.config import model_kinds

    kinds = [
        cls.__module__ for cls in model_kinds().values() if not cls.__module__.startswith("orchestrator.")
    ]
    return list(dict.fromkeys([*_PLUGINS, *kinds]))


def import_plugins(modules: list[str]) -> None:
    """Import the modules :func:`plugin_modules` named in the driver (their registrations run on import)."""
    for module in modules:
        import_module(module)
