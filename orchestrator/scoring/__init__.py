"""Scoring: Ray-free scorers for every model kind and backend, behind one contract (:class:`Scorer`) and
one registry (:func:`register_scorer`, :func:`make_scorer`). torch/transformers/vllm load lazily."""

from orchestrator.scoring._protocol import BatchOutOfMemory, ModelInfo, Rebatchable, ScoredColumns, Scorer
from orchestrator.scoring._registry import (
    make_scorer,
    plugin_modules,
    register_scorer,
    registered_scorers,
    scorer_factory,
)
from orchestrator.scoring.batching import token_budget_batches
from orchestrator.scoring.formatting import encode, format_conversations, to_messages

__all__ = [
    "BatchOutOfMemory",
    "ModelInfo",
    "Rebatchable",
    "ScoredColumns",
    "Scorer",
    "encode",
    "format_conversations",
    "make_scorer",
    "plugin_modules",
    "register_scorer",
    "registered_scorers",
    "scorer_factory",
    "to_messages",
    "token_budget_batches",
]
