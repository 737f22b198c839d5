"""The scoring worker: loads one model once and turns example slices into records.

Plain Python; :mod:`orchestrator.runner` wraps it as a Ray actor.
"""

from __future__ import annotations

import json
import logging
import os
import time
from dataclasses import asdict
from typing import Any

import numpy as np
import pyarrow as pa

from orchestrator.config import ModelSpec
from orchestrator.records import SCHEMA_VERSION, make_table
from orchestrator.scoring.formatting import format_conversations

logger = logging.getLogger(__name__)


def _prompt_text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


class ScoringWorker:
    """Holds one loaded scorer; ``score`` returns a records table for a slice of examples."""

    def __init__(self, spec: dict[str, Any], want_gpu: bool, threads: int):
        self.spec = ModelSpec.model_validate(spec)
        self.want_gpu = want_gpu
        self.threads = threads
        self.scorer = None

    def load(self) -> dict[str, Any]:
        from orchestrator._lazy import require
        from orchestrator.scoring import make_scorer
        from orchestrator.scoring.classifier import pick_device

        torch = require("torch")
        torch.set_num_threads(self.threads)
        os.environ.setdefault("TOKENIZERS_PARALLELISM", "true")
        self.scorer = make_scorer(self.spec, device=pick_device(self.want_gpu))
        return asdict(self.scorer.info)

    def score(self, examples: pa.Table, start: int, stop: int, *, run_id: str, benchmark: str, shard: int) -> pa.Table:
        if self.scorer is None:
            self.load()
        part = examples.slice(start, stop - start)
        prompts = part.column("prompt").to_pylist()
        chosen = part.column("chosen").to_pylist()
        rejected = part.column("rejected").to_pylist()
        t0 = time.perf_counter()
        if pa.types.is_list(part.column("chosen").type):
            cols = score_lists(self.scorer, prompts, chosen, rejected)
        else:
            scores = self.scorer.score_pairs(prompts, chosen, rejected)
            cols = {
                "chosen": chosen,
                "rejected": rejected,
                "score_chosen": scores.score_chosen,
                "score_rejected": scores.score_rejected,
                "correct": np.asarray(scores.correct, dtype=bool),
                "tokens_chosen": scores.tokens_chosen,
                "tokens_rejected": scores.tokens_rejected,
            }
        logger.info("scored %d examples in %.2fs", part.num_rows, time.perf_counter() - t0)
        n = part.num_rows
        return make_table(
            {
                "schema_version": [SCHEMA_VERSION] * n,
                "run_id": [run_id] * n,
                "benchmark": [benchmark] * n,
                "model": [self.spec.name] * n,
                "kind": [self.spec.kind] * n,
                "subset": part.column("subset"),
                "example_id": part.column("id"),
                "row_index": part.column("row_index"),
                "prompt": [_prompt_text(p) for p in prompts],
                "shard": [shard] * n,
                "scorer": ["transformers"] * n,
                "source_id": part.column("source_id"),
                **cols,
            }
        )


def score_lists(scorer: Any, prompts: list[Any], chosen: list[list[str]], rejected: list[list[str]]) -> dict[str, Any]:
    """Record columns for best-of-N rows.

    ``scores_chosen``/``scores_rejected`` hold every completion's raw score in the source's order;
    ``score_chosen`` = the first chosen completion's score (the one the reference's best-of-N rule ranks),
    ``score_rejected`` = the best rejected score, ``correct`` = every chosen completion scores strictly above
    every rejected one; ``chosen``/``rejected``/``tokens_*`` describe the first completion of each list.
    """
    flat_prompts, flat_texts = [], []
    for p, c, r in zip(prompts, chosen, rejected):
        for text in list(c) + list(r):
            flat_prompts.append(p)
            flat_texts.append(text)
    texts = format_conversations(scorer.tokenizer, flat_prompts, flat_texts)
    scores, tokens = scorer.score_texts(texts)
    out: dict[str, list[Any]] = {k: [] for k in ("chosen", "rejected", "score_chosen", "score_rejected", "correct",
                                                 "tokens_chosen", "tokens_rejected", "scores_chosen", "scores_rejected",
                                                 "texts_chosen", "texts_rejected")}
    at = 0
    for c, r in zip(chosen, rejected):
        sc = [float(x) for x in scores[at: at + len(c)]]
        tc = tokens[at: at + len(c)]
        at += len(c)
        sr = [float(x) for x in scores[at: at + len(r)]]
        tr = tokens[at: at + len(r)]
        at += len(r)
        out["chosen"].append(c[0])
        out["rejected"].append(r[0] if r else None)
        out["texts_chosen"].append(list(c))
        out["texts_rejected"].append(list(r))
        out["scores_chosen"].append(sc)
        out["scores_rejected"].append(sr)
        out["score_chosen"].append(sc[0])
        out["score_rejected"].append(max(sr) if sr else None)
        out["correct"].append(bool(min(sc) > max(sr)) if sr else False)
        out["tokens_chosen"].append(int(tc[0]))
        out["tokens_rejected"].append(int(tr[0]) if r else None)
    return out
