"""Benchmarks: a loader's defaults, a schema, and scoring rules whose weights are data.

The subset -> section mapping and the weights live in ``data/subsets.csv`` and
``data/sections.csv``; they are joined in SQL (see ``orchestrator/sql``), never
hard-coded in Python arithmetic.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from orchestrator.errors import ConfigError

DATA_DIR = Path(__file__).parent / "data"
SUBSETS_CSV = DATA_DIR / "subsets.csv"
SECTIONS_CSV = DATA_DIR / "sections.csv"


@dataclass(frozen=True)
class Benchmark:
    """What a benchmark needs from its data and where it comes from by default."""

    name: str
    default_source: str
    default_split: str
    required_columns: tuple[str, ...]
    subsets: tuple[str, ...]

    @property
    def text_columns(self) -> tuple[str, ...]:
        return ("prompt", "chosen", "rejected")


@lru_cache(maxsize=None)
def _subset_rows() -> tuple[dict[str, str], ...]:
    with SUBSETS_CSV.open(newline="", encoding="utf-8") as fh:
        return tuple(csv.DictReader(fh))


def subsets_of(benchmark: str) -> tuple[str, ...]:
    """The subsets a benchmark defines, in the data table's order."""
    return tuple(r["subset"] for r in _subset_rows() if r["benchmark"] == benchmark)


def expected_counts(benchmark: str) -> dict[str, int]:
    """Rows per subset in the full benchmark data (for completeness checks)."""
    return {r["subset"]: int(r["n_expected"]) for r in _subset_rows() if r["benchmark"] == benchmark}


_BENCHMARKS = {
    "reward-bench": Benchmark(
        name="reward-bench",
        default_source="allenai/reward-bench",
        default_split="filtered",
        required_columns=("prompt", "chosen", "rejected", "subset", "id"),
        subsets=subsets_of("reward-bench"),
    ),
}


def get_benchmark(name: str) -> Benchmark:
    """Look up a benchmark's rules by name."""
    try:
        return _BENCHMARKS[name]
    except KeyError:
        raise ConfigError(f"unknown benchmark {name!r}; known: {', '.join(sorted(_BENCHMARKS))}") from None


def benchmark_names() -> list[str]:
    return sorted(_BENCHMARKS)
