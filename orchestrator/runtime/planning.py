"""Pure planning: (model x benchmark) -> deterministic work units. No Ray, no I/O."""

from __future__ import annotations

from dataclasses import dataclass

from orchestrator.config import JobConfig


@dataclass(frozen=True)
class WorkUnit:
    """A contiguous slice of one benchmark's examples for one model."""

    benchmark: str
    model: str
    shard: int
    start: int
    stop: int

    @property
    def unit_id(self) -> str:
        return f"{self.benchmark}/{self.model}/{self.shard:05d}"

    @property
    def size(self) -> int:
        return self.stop - self.start


def shard_ranges(n: int, shard_size: int) -> list[tuple[int, int]]:
    """Split ``n`` rows into contiguous ``[start, stop)`` ranges of at most ``shard_size``."""
    if shard_size < 1:
        raise ValueError("shard_size must be >= 1")
    return [(start, min(start + shard_size, n)) for start in range(0, n, shard_size)]


def plan_units(job: JobConfig, sizes: dict[str, int]) -> list[WorkUnit]:
    """All work units of a job, given each benchmark's example count (by benchmark name)."""
    units = []
    for model in job.models:
        for bench in job.benchmarks:
            for shard, (start, stop) in enumerate(
                shard_ranges(sizes[bench.record_name], job.resources.shard_size)
            ):
                units.append(WorkUnit(bench.record_name, model.name, shard, start, stop))
    return units
