"""The scoring worker: loads one model once and turns example slices into records.

Plain Python; :mod:`orchestrator.runtime.driver` wraps it as a Ray actor.
"""

from __future__ import annotations

import json
import logging
import os
import time
from typing import Any

import pyarrow as pa

from orchestrator.config import model_spec
from orchestrator.errors import ModelError, OutOfMemoryFailure, RowErrorFailure
from orchestrator.results.records import METADATA_COLUMN, SCHEMA_VERSION, make_table
from orchestrator.runtime import faults
from orchestrator.scoring._protocol import BatchOutOfMemory, ModelInfo, Rebatchable, Scorer
from orchestrator.scoring.finite import as_error_rows, non_finite_rows

logger = logging.getLogger(__name__)

SHARD_STATS_KEY = b"rayward.shard_stats"
"""Arrow schema metadata of a scored shard: how the actor produced it (``oom_retries``, ``batch_tokens``)."""


def _prompt_text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


class ScoringWorker:
    """Holds one loaded scorer; ``score`` returns a records table for a slice of examples."""

    def __init__(
        self,
        spec: dict[str, Any],
        want_gpu: bool,
        threads: int,
        plugins: list[str] | None = None,
        context: dict[str, Any] | None = None,
    ):
        """``context``: what the driver knows beyond the spec: ``results`` (the store, for the judge output
        cache) and ``read_cache`` (false: ``--no-cache``)."""
        from orchestrator.scoring._registry import import_plugins

        import_plugins(plugins or [])  # kinds and scorers registered outside the package, as in the driver
        self.spec = model_spec(spec)
        self.want_gpu = want_gpu
        self.threads = threads
        self.context = context or {}
        self.scorer: Scorer | None = None

    def load(self) -> ModelInfo:
        from orchestrator._lazy import require
        from orchestrator.scoring import make_scorer
        from orchestrator.scoring._hf import pick_device

        os.environ.setdefault("TOKENIZERS_PARALLELISM", "true")
        from orchestrator.runtime.resources import api_only

        endpoint_only = api_only(self.spec)  # needs neither torch nor a device
        if not endpoint_only:
            require("torch").set_num_threads(self.threads)
        scorer = make_scorer(self.spec, device="api" if endpoint_only else pick_device(self.want_gpu))
        if not isinstance(scorer, Scorer):
            raise ModelError(
                f"model {self.spec.name!r}: the {self.spec.kind}/{self.spec.backend} scorer "
                f"{type(scorer).__name__} lacks part of the Scorer contract (info, backend, device, "
                "pair_columns, list_columns)"
            )
        results = self.context.get("results")
        if results is not None:
            from orchestrator.scoring.judge_cache import JudgeOutputCache

            for one in getattr(scorer, "members", [scorer]):  # an ensemble's API members too
                if hasattr(one, "attach_output_cache"):
                    one.attach_output_cache(
                        JudgeOutputCache(results), read=self.context.get("read_cache", True)
                    )
        self.scorer = scorer
        return scorer.info

    def score(
        self,
        examples: pa.Table,
        start: int,
        stop: int,
        *,
        run_id: str,
        benchmark: str,
        shard: int,
        row_errors: tuple[int, int, float] | None = None,
    ) -> pa.Table:
        """Records of ``examples[start:stop]``; ``row_errors`` = (rows of this benchmark that failed so far, its
        rows, ``max_error_rate``): rows that fail alone become error records until the allowance runs out."""
        if self.scorer is None:
            self.load()
        assert self.scorer is not None
        part = examples.slice(start, stop - start)
        prompts = part.column("prompt").to_pylist()
        chosen = part.column("chosen").to_pylist()
        rejected = part.column("rejected").to_pylist()
        t0 = time.perf_counter()
        listy = pa.types.is_list(part.column("chosen").type)
        columns = self.scorer.list_columns if listy else self.scorer.pair_columns
        if listy and getattr(self.scorer, "wants_subsets", False):
            subsets = part.column("subset").to_pylist()
            list_columns = columns

            def columns(p, c, r, _rows=None):  # the rows' subsets travel with their slice
                return list_columns(p, c, r, [subsets[i] for i in _rows])

            columns.takes_rows = True  # type: ignore[attr-defined]
        so_far, n_rows, rate = row_errors or (0, part.num_rows, 0.0)
        allowed = faults.row_error_allowance(rate, n_rows) - so_far
        oom_retries = 0
        while True:
            failed: list[tuple[int, str]] = []
            try:
                cols, errors = _score_rows(columns, prompts, chosen, rejected, listy, 0, failed, allowed)
                break
            except _RowErrorLimit:
                i, error = failed[0]
                first = {
                    "subset": part.column("subset")[i].as_py(),
                    "row_index": part.column("row_index")[i].as_py(),
                    "error": error,
                }
                raise RowErrorFailure(
                    faults.row_error_message(
                        self.spec.name, benchmark, so_far + len(failed), n_rows, rate, first, at_least=True
                    )
                ) from None
            except Exception as exc:
                if not faults.is_oom(exc):
                    raise
                self._halve_batch_tokens(exc)
                oom_retries += 1
        bad = non_finite_rows(cols, part.num_rows)  # NaN/inf scores: error records, never comparisons
        if bad:
            cols, errors = as_error_rows(cols, errors, bad, part.num_rows)
            failed = sorted([*failed, *bad.items()])
            if len(failed) > allowed:
                i, error = failed[0]
                first = {
                    "subset": part.column("subset")[i].as_py(),
                    "row_index": part.column("row_index")[i].as_py(),
                    "error": error,
                }
                raise RowErrorFailure(
                    faults.row_error_message(
                        self.spec.name, benchmark, so_far + len(failed), n_rows, rate, first, at_least=True
                    )
                )
        if failed:
            logger.warning(
                "%d of %d rows failed in shard %d of %s", len(failed), part.num_rows, shard, benchmark
            )
        faults.maybe_fail_in_unit(f"{benchmark}/{self.spec.name}/{shard:05d}")
        logger.info("scored %d examples in %.2fs", part.num_rows, time.perf_counter() - t0)
        n = part.num_rows
        table = make_table(
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
                **(
                    {"chosen_position": part.column("chosen_position")}
                    if "chosen_position" in part.column_names
                    else {}
                ),
                **cols,
                **({"error": errors} if errors is not None else {}),
            }
        )
        if METADATA_COLUMN in part.column_names:  # the examples' metadata travels to the examples table
            table = table.append_column(METADATA_COLUMN, part.column(METADATA_COLUMN))
        budget = self.scorer.batch_tokens if isinstance(self.scorer, Rebatchable) else None
        stats: dict[str, Any] = {"oom_retries": oom_retries, "batch_tokens": budget}
        if hasattr(self.scorer, "take_usage"):
            stats["api"] = self.scorer.take_usage()
        return table.replace_schema_metadata(
            {**table.schema.metadata, SHARD_STATS_KEY: json.dumps(stats).encode()}
        )

    def _halve_batch_tokens(self, exc: BaseException) -> None:
        """After an out-of-memory error: halve the scorer's batch token budget, or give up at one sequence."""
        scorer = self.scorer
        budget = scorer.batch_tokens if isinstance(scorer, Rebatchable) else None
        rows = exc.rows if isinstance(exc, BatchOutOfMemory) else None
        if not isinstance(scorer, Rebatchable) or budget is None or budget <= 1 or rows == 1:
            raise OutOfMemoryFailure(
                f"model {self.spec.name!r}: out of memory with one sequence per batch (batch_tokens {budget}): "
                f"{str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__}"
            ) from None
        scorer.batch_tokens = max(1, budget // 2)
        logger.warning(
            "model %s: out of memory; batch_tokens %d -> %d, rescoring the shard",
            self.spec.name,
            budget,
            scorer.batch_tokens,
        )
        if self.scorer is not None and self.scorer.device.startswith("cuda"):
            from orchestrator._lazy import require

            require("torch").cuda.empty_cache()


def shard_stats(table: pa.Table) -> dict[str, Any]:
    """How the actor produced a scored shard (see ``SHARD_STATS_KEY``); empty for tables from elsewhere."""
    raw = (table.schema.metadata or {}).get(SHARD_STATS_KEY)
    return json.loads(raw) if raw else {}


def _as_list(values: Any) -> list[Any]:
    return values.tolist() if hasattr(values, "tolist") else list(values)


def _error_columns(chosen: list[Any], rejected: list[Any], listy: bool) -> dict[str, list[Any]]:
    """The columns of one row that could not be scored: its texts, no scores, not correct."""
    if not listy:
        return {"chosen": chosen, "rejected": rejected, "correct": [False]}
    c, r = chosen[0] or [], rejected[0] or []
    return {
        "chosen": [c[0] if c else None],
        "rejected": [r[0] if r else None],
        "texts_chosen": [list(c)],
        "texts_rejected": [list(r)],
        "correct": [False],
    }


class _RowErrorLimit(Exception):
    """More rows failed than the benchmark's allowance (stops the search for bad rows early)."""


def _score_rows(
    columns,
    prompts: list[Any],
    chosen: list[Any],
    rejected: list[Any],
    listy: bool,
    offset: int,
    failed: list[tuple[int, str]],
    allowed: int,
) -> tuple[dict[str, Any], list[str | None] | None]:
    """The scorer's columns for all rows; ``errors`` is None when every row scored.

    When the whole call fails for a reason other than the model itself (out of memory, :class:`ModelError`), the
    rows are split in halves until each failing row stands alone; that row becomes an error record and is
    appended to ``failed`` as (position + ``offset``, error text), until more than ``allowed`` rows failed.
    """
    try:
        if getattr(columns, "takes_rows", False):
            return columns(prompts, chosen, rejected, range(offset, offset + len(prompts))), None
        return columns(prompts, chosen, rejected), None
    except Exception as exc:
        if faults.is_oom(exc) or isinstance(exc, ModelError):
            raise
        if len(prompts) == 1:
            text = str(exc).strip().splitlines()
            failed.append((offset, f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__))
            if len(failed) > allowed:
                raise _RowErrorLimit() from None
            return _error_columns(chosen, rejected, listy), [failed[-1][1]]
    mid = len(prompts) // 2
    spans = ((0, mid), (mid, len(prompts)))
    parts = [
        _score_rows(columns, prompts[a:b], chosen[a:b], rejected[a:b], listy, offset + a, failed, allowed)
        for a, b in spans
    ]
    sizes = [b - a for a, b in spans]
    keys = list(dict.fromkeys(k for cols, _ in parts for k in cols))
    merged = {
        k: [v for (cols, _), n in zip(parts, sizes) for v in (_as_list(cols[k]) if k in cols else [None] * n)]
        for k in keys
    }
    errors = [e for (_, errs), n in zip(parts, sizes) for e in (errs if errs is not None else [None] * n)]
    return merged, errors
