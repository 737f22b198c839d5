"""Record columns from scores: the one place the chosen-vs-rejected rule turns scores into records.

Every scorer (whatever its kind or backend) exposes::

    info: ModelInfo                                   # what the manifest records
    backend: str                                      # the records' ``scorer`` value (transformers | vllm)
    pair_columns(prompts, chosen, rejected) -> dict   # record columns for pairs
    list_columns(prompts, chosen, rejected) -> dict   # record columns for best-of-N lists

Scorers that give every completion a scalar (classifier logits, DPO implicit rewards, rubric
judges) build both from :func:`pair_columns` and :func:`list_columns` below; a pairwise judge
builds its own.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

ScoreFn = Callable[[Sequence[Any], Sequence[str]], tuple[np.ndarray, np.ndarray]]
"""(prompts, completions) -> (raw scores, token counts), aligned with the inputs."""


def pair_columns(
    score: ScoreFn, prompts: Sequence[Any], chosen: Sequence[str], rejected: Sequence[str]
) -> dict[str, Any]:
    """Record columns for pairs: chosen and rejected scored in one pass; a tie is wrong (RewardBench's rule)."""
    n = len(prompts)
    scores, tokens = score(list(prompts) * 2, list(chosen) + list(rejected))
    return {
        "chosen": list(chosen),
        "rejected": list(rejected),
        "score_chosen": scores[:n],
        "score_rejected": scores[n:],
        "correct": np.asarray(scores[:n] > scores[n:], dtype=bool),
        "tokens_chosen": tokens[:n],
        "tokens_rejected": tokens[n:],
    }


def list_columns(
    score: ScoreFn, prompts: Sequence[Any], chosen: Sequence[Sequence[str]], rejected: Sequence[Sequence[str]]
) -> dict[str, Any]:
    """Record columns for best-of-N rows.

    ``scores_chosen``/``scores_rejected`` hold every completion's raw score in the source's order;
    ``score_chosen`` = the first chosen completion's score (the one the reference's best-of-N rule ranks),
    ``score_rejected`` = the best rejected score, ``correct`` = every chosen completion scores strictly above
    every rejected one; ``chosen``/``rejected``/``tokens_*`` describe the first completion of each list. Either list may
    be empty (PPE's correctness rows where every response is wrong, or right): its first-completion fields are null
    and ``correct`` is false.
    """
    flat_prompts, flat_texts = [], []
    for p, c, r in zip(prompts, chosen, rejected):
        for text in list(c) + list(r):
            flat_prompts.append(p)
            flat_texts.append(text)
    scores, tokens = score(flat_prompts, flat_texts)
    out: dict[str, list[Any]] = {
        k: []
        for k in (
            "chosen",
            "rejected",
            "score_chosen",
            "score_rejected",
            "correct",
            "tokens_chosen",
            "tokens_rejected",
            "scores_chosen",
            "scores_rejected",
            "texts_chosen",
            "texts_rejected",
        )
    }
    at = 0
    for c, r in zip(chosen, rejected):
        sc = [float(x) for x in scores[at : at + len(c)]]
        tc = tokens[at : at + len(c)]
        at += len(c)
        sr = [float(x) for x in scores[at : at + len(r)]]
        tr = tokens[at : at + len(r)]
        at += len(r)
        out["chosen"].append(c[0] if c else None)
        out["rejected"].append(r[0] if r else None)
        out["texts_chosen"].append(list(c))
        out["texts_rejected"].append(list(r))
        out["scores_chosen"].append(sc)
        out["scores_rejected"].append(sr)
        out["score_chosen"].append(sc[0] if sc else None)
        out["score_rejected"].append(max(sr) if sr else None)
        out["correct"].append(bool(min(sc) > max(sr)) if sc and sr else False)
        out["tokens_chosen"].append(int(tc[0]) if c else None)
        out["tokens_rejected"].append(int(tr[0]) if r else None)
    return out


def both_order_outputs(ab: Any, ba: Any) -> list[list[dict[str, Any]]]:
    """A pair model's raw outputs per example, both orders: ``judge_outputs`` entries with ``order`` AB (chosen
    shown first) or BA, ``target`` A or B and ``parsed`` that order's logit for the target (``ab[i]``, ``ba[i]``:
    the two logits of example ``i``)."""
    return [
        [
            {"target": t, "order": order, "sample": 0, "text": None, "parsed": float(v)}
            for order, row in (("AB", ab[i]), ("BA", ba[i]))
            for t, v in zip(("A", "B"), row)
        ]
        for i in range(len(ab))
    ]
