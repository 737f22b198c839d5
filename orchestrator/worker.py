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

import pyarrow as pa

from orchestrator.config import ModelSpec
from orchestrator.records import SCHEMA_VERSION, make_table

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
            cols = self.scorer.list_columns(prompts, chosen, rejected)
        else:
            cols = self.scorer.pair_columns(prompts, chosen, rejected)
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
                "scorer": [self.scorer.backend] * n,
                "source_id": part.column("source_id"),
                **cols,
            }
        )

