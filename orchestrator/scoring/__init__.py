"""Scoring backends. Nothing here imports Ray; torch/transformers load lazily."""

from orchestrator.scoring.batching import token_budget_batches
from orchestrator.scoring.formatting import encode, format_conversations, to_messages

__all__ = ["token_budget_batches", "encode", "format_conversations", "to_messages", "make_scorer"]


def make_scorer(spec, device: str = "cpu"):
    """The scorer for a model spec's ``kind`` and ``backend``."""
    if spec.kind == "classifier" and spec.backend == "vllm":
        from orchestrator.scoring.vllm_classifier import VllmClassifierScorer

        return VllmClassifierScorer(spec, device=device)
    if spec.kind == "classifier":
        from orchestrator.scoring.classifier import ClassifierScorer

        return ClassifierScorer(spec, device=device)
    if spec.kind == "judge":
        if spec.backend == "openai":
            from orchestrator.scoring.judge_openai import OpenAIJudgeScorer

            return OpenAIJudgeScorer(spec, device=device)
        if spec.backend == "vllm":
            from orchestrator.scoring.judge_vllm import VllmJudgeScorer

            return VllmJudgeScorer(spec, device=device)
        from orchestrator.scoring.judge import JudgeScorer

        return JudgeScorer(spec, device=device)
    if spec.kind == "dpo" and spec.backend == "vllm":
        from orchestrator.scoring.dpo_vllm import VLLMDPOScorer

        return VLLMDPOScorer(spec, device=device)
    if spec.kind == "dpo":
        from orchestrator.scoring.dpo import DPOScorer

        return DPOScorer(spec, device=device)
    raise ValueError(f"no scorer for kind {spec.kind!r}")
