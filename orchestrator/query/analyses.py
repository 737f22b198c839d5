"""Named analyses over the results store: each is a SQL view (``orchestrator/query/sql/5x_*.sql``)
read through a stored query (``queries/analyze_<name>.sql``)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa

from orchestrator.errors import QueryError


@dataclass(frozen=True)
class Analysis:
    name: str
    view: str
    description: str
    percent: tuple[str, ...] = ()  # columns holding fractions in [0, 1]


def _core_sections(benchmark: str = "reward-bench") -> tuple[str, ...]:
    """The benchmark's non-optional sections, from the data tables (the family view's section columns)."""
    from orchestrator.benchmarks import table_rows

    rows = sorted(
        (r for r in table_rows("sections") if r["benchmark"] == benchmark and r["optional"] != "true"),
        key=lambda r: int(r["section_order"]),
    )
    return tuple(r["section"] for r in rows)


ANALYSES: dict[str, Analysis] = {
    a.name: a
    for a in (
        Analysis(
            "refusals",
            "refusal_balance",
            "refuse vs comply accuracy per model (pooled over examples) and its placement",
            ("refuse_accuracy", "comply_accuracy"),
        ),
        Analysis(
            "refusal-prompts",
            "refusal_hard_prompts",
            "refusal/compliance prompts that most models get wrong",
            ("wrong_share",),
        ),
        Analysis(
            "reasoning",
            "reasoning_breakdown",
            "math vs code, code per language, spread across languages",
            (
                "math",
                "code",
                "math_minus_code",
                "cpp",
                "go",
                "java",
                "js",
                "python",
                "rust",
                "code_spread",
                "code_stddev",
            ),
        ),
        Analysis(
            "length",
            "length_bias",
            "accuracy by whether the chosen completion is longer, per subset and overall",
            ("accuracy", "acc_chosen_longer", "acc_chosen_shorter", "acc_equal", "gap"),
        ),
        Analysis(
            "length-category",
            "length_bias_by_category",
            "accuracy per reference length category (True / Neutral / False)",
            ("accuracy",),
        ),
        Analysis(
            "length-correlation", "length_score_correlation", "correlation of score with length per model"
        ),
        Analysis(
            "instruction",
            "instruction_following",
            "LLMBar natural vs adversarial",
            (
                "natural",
                "adversarial",
                "natural_minus_adversarial",
                "adver_neighbor",
                "adver_gptinst",
                "adver_gptout",
                "adver_manual",
            ),
        ),
        Analysis(
            "families",
            "family_leaderboard",
            "leaderboard grouped by model kind",
            ("mean_score", "best_score", *_core_sections()),
        ),
        Analysis("size", "size_vs_score", "score against parameter count", ("score",)),
        Analysis(
            "iterations",
            "iteration_progress",
            "dpo chains (SPIN / self-rewarding): accuracy and score per iteration, "
            "deltas vs the previous one",
            ("accuracy", "score", "delta_accuracy", "delta_score"),
        ),
    )
}


def get_analysis(name: str) -> Analysis:
    try:
        return ANALYSES[name]
    except KeyError:
        raise QueryError(f"unknown analysis {name!r}; choose one of: {', '.join(ANALYSES)}") from None


def analysis_table(results: str | Path | Any, name: str, benchmark: str = "reward-bench") -> pa.Table:
    """The analysis ``name`` as an Arrow table (a results directory or an open store connection)."""
    from orchestrator.query.db import connect, stored_query

    get_analysis(name)
    if isinstance(results, (str, Path)):
        con = connect(results)
        try:
            return stored_query(con, f"analyze_{name}", benchmark=benchmark)
        finally:
            con.close()
    return stored_query(results, f"analyze_{name}", benchmark=benchmark)


def analyze(results: str | Path | Any, name: str, benchmark: str = "reward-bench") -> list[dict[str, Any]]:
    """Rows of the analysis ``name`` as dicts (fractions in [0, 1])."""
    return analysis_table(results, name, benchmark).to_pylist()
