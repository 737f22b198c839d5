"""Benchmark entries of a job: which benchmark's rules (a name from the benchmark data tables) and where its
data lives."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator, model_validator

from orchestrator.config._base import Strict, check_name


class ColumnMap(Strict):
    """Which source columns hold the preference data (custom benchmarks); each value is a column name."""

    prompt: str = "prompt"
    """The prompt: a string, or a list of messages (``{role, content}`` or plain strings) alternating user/assistant."""

    chosen: str = "chosen"
    """The preferred completion (a string), or a list of them (best-of-N)."""

    rejected: str = "rejected"
    """The dispreferred completion (a string), or a list of them (best-of-N)."""

    subset: str | None = None
    """Optional subset column (default: every row is in subset ``default``)."""

    id: str | None = None
    """Optional example id column (default: the row's position)."""


class BenchmarkSpec(Strict):
    """One benchmark to run: its scoring rules (``name``) and where its data lives."""

    name: str = "reward-bench"
    """The benchmark's scoring rules, by name from the benchmark data tables (``rayward benchmarks`` lists them):
    ``reward-bench`` (v1: Chat, Chat Hard, Safety, Reasoning, optional Prior Sets), ``reward-bench-2``
    (Factuality, Precise IF, Math, Safety, Focus, Ties), ``custom`` (your own preference file), and any
    benchmark registered since."""

    source: str | None = None
    """A local .parquet/.json/.jsonl file or directory, or a Hugging Face hub dataset id (default: the benchmark's hub id)."""

    split: str | None = None
    """Dataset split; defaults to the benchmark's own (``filtered`` for v1, ``test`` for v2, ``train`` for custom hub data)."""

    revision: str | None = None
    """Hub dataset revision (ignored for local sources)."""

    subsets: list[str] | None = Field(default=None, min_length=1)
    """Only evaluate these subsets (default: all; an empty list is an error, not "all")."""

    limit: int | None = Field(default=None, ge=1, strict=True)
    """Only evaluate the first N rows of each subset (quick runs); default all. A whole number (``true`` is an
    error, not 1)."""

    duplicate_ids: Literal["error", "row_position"] = "error"
    """Two examples with the same (subset, id) key: ``error`` (default) stops before anything runs;
    ``row_position`` keys every example by its row position instead (with a warning: runs over a reordered
    file then no longer pair up in compare and diff)."""

    subset_from_split: bool = False
    """Every split (hub) or file (local directory) is one subset named after it, as ``allenai/pref-test-sets``
    (the Prior Sets) is laid out; splits the benchmark does not define (pku_*) are skipped."""

    languages: list[str] | None = Field(default=None, min_length=1)
    """M-RewardBench only (``m-reward-bench``): the language configs to load, e.g. ``[arb_Arab, kor_Hang]``
    (default all 23; an empty list is an error). Each config is a hub config (or a folder / file of a local
    ``source``); the languages not loaded leave the leaderboard row incomplete."""

    columns: ColumnMap | None = None
    """Custom benchmarks only: which columns hold prompt, chosen, rejected (and optionally subset, id)."""

    label: str | None = None
    """Custom benchmarks only: the benchmark name used in records and the leaderboard (default ``custom``)."""

    @field_validator("name")
    @classmethod
    def _known_benchmark(cls, value: str) -> str:
        from orchestrator.benchmarks import benchmark_names

        known = benchmark_names()
        if value not in known:
            raise ValueError(f"unknown benchmark {value!r}; known: {', '.join(known)}")
        return value

    @field_validator("label")
    @classmethod
    def _valid_label(cls, value: str | None) -> str | None:
        return None if value is None else check_name(value, "benchmark label")

    @model_validator(mode="after")
    def _custom_only(self) -> BenchmarkSpec:
        if self.languages is not None and "languages" not in _loader_options(self.name):
            raise ValueError(f"languages: only for m-reward-bench, not {self.name!r}")
        if self.name != "custom":
            if self.columns is not None:
                raise ValueError(f"columns: only for custom benchmarks, not {self.name!r}")
            if self.label is not None:
                raise ValueError(f"label: only for custom benchmarks, not {self.name!r}")
        elif self.source is None:
            raise ValueError("source: a custom benchmark needs a source (file, directory or hub id)")
        elif self.label is not None and self.label in _builtin_names():
            raise ValueError(f"label: {self.label!r} is a built-in benchmark's name")
        return self

    @property
    def record_name(self) -> str:
        """The benchmark name in records (the label of a custom benchmark)."""
        return self.label or self.name


def _loader_options(name: str) -> tuple[str, ...]:
    """The job keys a benchmark's own reader takes (its module's ``OPTIONS``; none for the built-in loaders)."""
    from orchestrator.benchmarks import get_benchmark

    return tuple(getattr(get_benchmark(name).loader_module, "OPTIONS", ()))


def _builtin_names() -> list[str]:
    from orchestrator.benchmarks import benchmark_names

    return [name for name in benchmark_names() if name != "custom"]
