"""The scorer's fast-path plumbing: load times reported apart, attention choice, prefetch on/off."""

import numpy as np

from orchestrator.config import model_spec
from orchestrator.scoring._hf import default_attn_implementation
from orchestrator.scoring.classifier import ClassifierScorer


def test_attention_choice():
    assert default_attn_implementation("cpu", "float32") is None  # transformers' own default
    assert default_attn_implementation("cuda", "float32") is None
    assert default_attn_implementation("cuda:0", "bfloat16") in (None, "flash_attention_2")


def test_load_time_reported_apart_and_prefetch_changes_nothing(tiny_models):
    path = str(tiny_models["tiny-rm"])
    prompts = ["What is 2+2?", "Name a colour.", "Write a haiku about rain. " * 30]
    chosen = ["4", "Blue.", "Rain on the roof\n" * 20]
    rejected = ["5", "Seven.", "no"]
    with_prefetch = ClassifierScorer(model_spec(name="a", path=path, batch_tokens=64))
    info = with_prefetch.info
    assert info.extra["model_load_seconds"] >= 0 and info.extra["tokenizer_load_seconds"] >= 0
    assert info.load_seconds >= info.extra["model_load_seconds"]
    a = with_prefetch.score_pairs(prompts, chosen, rejected)
    b = ClassifierScorer(model_spec(name="b", path=path, batch_tokens=64, prefetch_batches=0)).score_pairs(
        prompts, chosen, rejected
    )
    np.testing.assert_array_equal(a.score_chosen, b.score_chosen)
    np.testing.assert_array_equal(a.score_rejected, b.score_rejected)
    assert (
        len(
            list(
                with_prefetch.batches(
                    with_prefetch.token_cache.encode(with_prefetch.tokenizer, ["x"] * 3, 64)
                )
            )
        )
        == 1
    )
