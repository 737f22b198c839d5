"""The driver's state per model: where it is in its life (queued -> loading -> scoring -> done | failed),
its work queue, actors, placement groups, clocks and outcomes. One object per model instead of parallel
dicts keyed by model name."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from orchestrator.config import ModelBase
from orchestrator.results.manifest import ModelOutcome, ScheduleEntry
from orchestrator.results.records import Stopwatch
from orchestrator.runtime.planning import WorkUnit


class Phase(Enum):
    """A model's place in its run."""

    QUEUED = "queued"  # waiting for slots (or for its turn in the schedule)
    LOADING = "loading"  # actors started, weights loading
    SCORING = "scoring"  # at least one actor loaded; shards in flight
    DONE = "done"  # every unit written
    FAILED = "failed"  # see ``failure``

    @property
    def finished(self) -> bool:
        return self in (Phase.DONE, Phase.FAILED)


@dataclass
class ModelState:
    """Everything the driver tracks about one model of the run."""

    spec: ModelBase
    outcomes: dict[str, ModelOutcome]
    """Benchmark -> this model's outcome on it (the same objects the manifest lists)."""
    queue: deque[WorkUnit] = field(default_factory=deque)
    phase: Phase = Phase.QUEUED
    actors: list[Any] = field(default_factory=list)
    groups: list[Any] = field(default_factory=list)
    """Placement group (or None) per actor index."""
    job: Any = None
    """Its :class:`orchestrator.runtime.scheduling.Job` while it holds slots."""
    entry: ScheduleEntry | None = None
    load_attempts: dict[int, int] = field(default_factory=dict)
    """Actor index -> actor losses while loading."""
    clocks: dict[str, Stopwatch] = field(default_factory=dict)
    """Benchmark -> scoring time since its first unit was submitted."""

    @property
    def name(self) -> str:
        return self.spec.name
