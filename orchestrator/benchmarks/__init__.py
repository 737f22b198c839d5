"""Benchmarks: each declares a loader, a schema check, a scoring rule and section weights, as data.

* ``data/benchmarks.csv``: one row per benchmark (default source and split, which loader shapes
  its rows: ``pairs``, ``best-of-n`` or ``custom``);
* ``data/subsets.csv``: subset -> section, subset weight, expected rows, and the subset's scoring
  ``rule`` (``pairwise``: chosen beats rejected; ``best-of-n``: 1/k when the first chosen completion
  shares the top score with k completions; ``ties``: RewardBench 2's Ties formula);
* ``data/sections.csv``: section weights and order for the overall score, and whether a section is
  ``optional`` (its absence does not make a model's row incomplete);
* ``data/rules.csv``: every scoring rule -> the SQL file that computes it (rules beyond the three built into
  ``record_points``/``ties_scores`` live in ``orchestrator/query/sql/rules/``, one file each).

A loader other than ``pairs``/``best-of-n``/``custom`` is the module ``orchestrator.benchmarks.<loader>`` (e.g.
``rm_bench``), whose ``load(source, split, revision)`` reads the benchmark's own files as published.

The tables are joined in SQL (``orchestrator/query/sql``), never hard-coded in Python arithmetic.
A ``custom`` benchmark has no rows in these tables: every subset is its own section, weight 1,
with the rule chosen by the record's shape (pairs or lists).
"""

from __future__ import annotations

import csv
import importlib
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from orchestrator.errors import ConfigError

DATA_DIR = Path(__file__).parent / "data"
BENCHMARKS_CSV = DATA_DIR / "benchmarks.csv"
SUBSETS_CSV = DATA_DIR / "subsets.csv"
SECTIONS_CSV = DATA_DIR / "sections.csv"
RULES_CSV = DATA_DIR / "rules.csv"

#: Columns every loader must produce, by loader kind (before the ``row_index``/``source_id`` it adds).
_REQUIRED = {
    "pairs": ("prompt", "chosen", "rejected", "subset", "id"),
    "best-of-n": (
        "prompt",
        "chosen",
        "rejected",
        "subset",
        "id",
        "num_correct",
        "num_incorrect",
        "total_completions",
    ),
    "custom": ("prompt", "chosen", "rejected"),
}


@dataclass(frozen=True)
class Benchmark:
    """What a benchmark needs from its data, where it comes from by default, and how it is scored."""

    name: str
    default_source: str
    default_split: str
    loader: str  # pairs | best-of-n | custom
    subsets: tuple[str, ...]
    rules: dict[str, str]
    description: str = ""

    @property
    def required_columns(self) -> tuple[str, ...]:
        return _REQUIRED.get(self.loader, ("prompt", "chosen", "rejected", "subset", "id"))

    @property
    def loader_module(self) -> Any:
        """The benchmark's own reader module (``orchestrator.benchmarks.<loader>``: its ``load(source, split,
        revision)`` reads the benchmark's files as published; importing it registers its loader), or None for the
        built-in ``pairs``/``best-of-n``/``custom`` loaders."""
        if self.loader in _REQUIRED:
            return None
        return importlib.import_module(f"orchestrator.benchmarks.{self.loader}")

    @property
    def text_columns(self) -> tuple[str, ...]:
        return ("prompt", "chosen", "rejected")

    @property
    def open_subsets(self) -> bool:
        """A custom benchmark accepts any subset name."""
        return self.loader == "custom"

    def __hash__(self) -> int:
        return hash(self.name)


_TABLE_DIRS: list[Path] = [DATA_DIR]


def register_tables(directory: str | Path) -> None:
    """Add benchmarks from another directory of data tables (any of ``benchmarks.csv``, ``subsets.csv``,
    ``sections.csv`` with the shipped tables' columns): a new pairwise benchmark is rows, not code."""
    path = Path(directory).resolve()
    if not path.is_dir():
        raise ConfigError(f"benchmark tables directory not found: {directory}")
    if path not in _TABLE_DIRS:
        _TABLE_DIRS.append(path)
    _file_rows.cache_clear()
    _benchmarks.cache_clear()


def table_files(table: str) -> list[Path]:
    """Every registered file of one data table (``benchmarks``, ``subsets`` or ``sections``), shipped first."""
    return [d / f"{table}.csv" for d in _TABLE_DIRS if (d / f"{table}.csv").is_file()]


@cache
def _file_rows(path: Path) -> tuple[dict[str, str], ...]:
    with path.open(newline="", encoding="utf-8") as fh:
        return tuple(csv.DictReader(fh))


def table_rows(table: str) -> tuple[dict[str, str], ...]:
    """The rows of one data table across every registered directory."""
    return tuple(row for path in table_files(table) for row in _file_rows(path))


def subsets_of(benchmark: str) -> tuple[str, ...]:
    """The subsets a benchmark defines, in the data table's order."""
    return tuple(r["subset"] for r in table_rows("subsets") if r["benchmark"] == benchmark)


def scored_subsets_of(benchmark: str) -> tuple[str, ...]:
    """Subsets that count towards a section (prior sets kept but unscored have no section)."""
    return tuple(r["subset"] for r in table_rows("subsets") if r["benchmark"] == benchmark and r["section"])


def expected_counts(benchmark: str) -> dict[str, int]:
    """Rows per subset in the full benchmark data (for completeness checks)."""
    return {r["subset"]: int(r["n_expected"]) for r in table_rows("subsets") if r["benchmark"] == benchmark}


def sections_of(benchmark: str) -> tuple[str, ...]:
    """Section names in the benchmark's display order."""
    rows = sorted(
        (r for r in table_rows("sections") if r["benchmark"] == benchmark),
        key=lambda r: int(r["section_order"]),
    )
    return tuple(r["section"] for r in rows)


@cache
def _benchmarks() -> dict[str, Benchmark]:
    out = {}
    for r in table_rows("benchmarks"):
        name = r["benchmark"]
        rules = {s["subset"]: s["rule"] for s in table_rows("subsets") if s["benchmark"] == name}
        out[name] = Benchmark(
            name=name,
            default_source=r["default_source"],
            default_split=r["default_split"],
            loader=r["loader"],
            subsets=subsets_of(name),
            rules=rules,
            description=r["description"],
        )
    return out


def get_benchmark(name: str) -> Benchmark:
    """Look up a benchmark's rules by name."""
    try:
        return _benchmarks()[name]
    except KeyError:
        raise ConfigError(f"unknown benchmark {name!r}; known: {', '.join(sorted(_benchmarks()))}") from None


def benchmark_names() -> list[str]:
    return sorted(_benchmarks())


@dataclass(frozen=True)
class Rule:
    """A scoring rule and the SQL that computes it (``data/rules.csv``)."""

    name: str
    sql: str  # file under orchestrator/query/sql (built-in views) or rules/<file> (rule files)
    points_view: str  # the view with each record's points ('' for the built-in rules)
    sections_view: str  # extra section rows the rule adds ('' when none)
    description: str


def rules() -> dict[str, Rule]:
    """Every scoring rule by name, in the table's order."""
    return {
        r["rule"]: Rule(r["rule"], r["sql"], r["points_view"], r["sections_view"], r["description"])
        for r in table_rows("rules")
    }
