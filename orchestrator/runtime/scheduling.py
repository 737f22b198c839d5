"""Pure multi-model scheduling: cost estimates, longest-first ordering, a makespan simulator.

No Ray here: :mod:`orchestrator.runtime.driver` asks :class:`SlotScheduler` which models to start
whenever GPUs (or, for CPU actors, CPU slots) free, and :func:`simulate` runs the very
same policy on modelled durations to predict the makespan.

Cost model
    cost(model) = parameters x tokens, summed over the units still to score.
    *Parameters* are read without loading weights: the explicit ``num_parameters`` hint
    of the model, else the tensor shapes in the safetensors headers (exact), else an
    estimate from ``config.json`` (hidden size, layers, vocabulary, intermediate size),
    else :data:`DEFAULT_PARAMETERS` (hub ids with nothing local).
    *Tokens* are characters / :data:`CHARS_PER_TOKEN` of the texts one pair scores
    (prompt + chosen and prompt + rejected).
Width and duration
    A replica spans ``max(gpus_per_actor, tensor_parallel_size)`` GPUs (``cpus_per_actor``
    CPU slots for CPU actors); a model's width is replicas x that. Its duration is
    cost / (replicas x tensor_parallel_size): replicas split the units, tensor
    parallelism splits each forward pass (assumed to scale linearly).
Policy
    LPT: models sorted by duration, longest first (wider first on ties); whenever
    capacity frees, waiting models are started in that order while they fit. The first
    one that does not fit waits for its slots and nothing overtakes it, so a wide
    (tensor-parallel) model is never starved by narrow ones (``backfill=True`` lets them
    overtake; on the benchmark mix both give the same makespan).
"""

from __future__ import annotations

import json
import logging
import math
import os
import struct
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from orchestrator._safetensors import read_header
from orchestrator.config import ModelSpec, Resources

logger = logging.getLogger(__name__)

DEFAULT_PARAMETERS = 7_000_000_000
"""Parameters assumed for a model with no local config (a hub id): a typical 7B reward model."""

CHARS_PER_TOKEN = 4
"""Characters per token in the token estimate."""

_EPS = 1e-9
_WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth", ".gguf")


# ----------------------------------------------------------------------------- parameters


def _shape_numel(shape: Sequence[int]) -> int:
    return math.prod(int(d) for d in shape)


def safetensors_parameters(model_dir: str | Path) -> int | None:
    """Exact parameter count from the safetensors headers of ``model_dir`` (no tensor data read); None if none."""
    model_dir = Path(model_dir)
    files = sorted(model_dir.glob("*.safetensors"))
    index = model_dir / "model.safetensors.index.json"
    if index.is_file():
        try:
            weight_map = json.loads(index.read_text(encoding="utf-8")).get("weight_map", {})
            files = sorted({model_dir / name for name in weight_map.values()})
        except (OSError, ValueError, AttributeError):
            pass
    total = 0
    for path in files:
        try:
            header = read_header(path)
        except (OSError, ValueError, struct.error):
            return None
        total += sum(
            _shape_numel(t["shape"]) for t in header.values() if isinstance(t, dict) and "shape" in t
        )
    return total or None


def config_parameters(config: dict[str, Any]) -> int | None:
    """Parameter estimate of a decoder from a ``config.json`` mapping (Llama-like layout); None if sizes are missing.

    embeddings (vocab x hidden) + layers x (attention + gated MLP), with grouped-query
    attention's smaller key/value projections; an untied LM head adds vocab x hidden.
    """
    text_config = config.get("text_config")
    cfg: dict[str, Any] = text_config if isinstance(text_config, dict) else config
    hidden = cfg.get("hidden_size") or cfg.get("d_model") or cfg.get("n_embd")
    layers = cfg.get("num_hidden_layers") or cfg.get("n_layer") or cfg.get("num_layers")
    vocab = cfg.get("vocab_size")
    if not (hidden and layers and vocab):
        return None
    inter = cfg.get("intermediate_size") or cfg.get("n_inner") or 4 * hidden
    heads = cfg.get("num_attention_heads") or cfg.get("n_head") or 1
    kv_heads = cfg.get("num_key_value_heads") or heads
    head_dim = cfg.get("head_dim") or hidden // heads
    attention = 2 * hidden * heads * head_dim + 2 * hidden * kv_heads * head_dim
    mlp = 3 * hidden * inter
    total = vocab * hidden + layers * (attention + mlp + 2 * hidden)
    causal = any(str(a).endswith(("ForCausalLM", "LMHeadModel")) for a in config.get("architectures") or [])
    if causal and not config.get("tie_word_embeddings", cfg.get("tie_word_embeddings", True)):
        total += vocab * hidden  # the untied LM head
    return int(total)


def estimate_parameters(spec: ModelSpec) -> tuple[int, str]:
    """``(parameters, where from)``: ``hint``, ``safetensors``, ``config`` or ``default``."""
    hint = getattr(spec, "num_parameters", None)
    if hint:
        return int(hint), "hint"
    path = Path(spec.path).expanduser()
    if path.is_dir():
        exact = safetensors_parameters(path)
        if exact:
            return exact, "safetensors"
        try:
            config = json.loads((path / "config.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            config = None
        estimate = config_parameters(config) if isinstance(config, dict) else None
        if estimate:
            return estimate, "config"
    return DEFAULT_PARAMETERS, "default"


# ----------------------------------------------------------------------------- tokens


def row_tokens(table: Any) -> list[int]:
    """Estimated tokens each row of an examples table costs to score (all its prompt + response texts)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    def text_lengths(values: Any) -> list[int]:
        """Characters of each text; a message (``{role, content}``) counts its content."""
        if pa.types.is_struct(values.type):
            index = values.type.get_field_index("content")
            if index < 0:
                return [0] * len(values)
            values = pc.struct_field(values, index)
        if not (pa.types.is_string(values.type) or pa.types.is_large_string(values.type)):
            values = pc.cast(values, pa.string())
        return pc.fill_null(pc.utf8_length(values), 0).to_pylist()

    def chars(name: str) -> tuple[list[int], list[int]]:
        col = table.column(name)
        if pa.types.is_list(col.type) or pa.types.is_large_list(col.type):
            lengths = pc.fill_null(pc.list_value_length(col), 0).to_pylist()
            per_item = text_lengths(pc.list_flatten(col))
            sums, pos = [], 0
            for n in lengths:
                sums.append(sum(per_item[pos : pos + n]))
                pos += n
            return sums, lengths
        return text_lengths(col), [1] * table.num_rows

    prompt, _ = chars("prompt")
    chosen, n_chosen = chars("chosen")
    rejected, n_rejected = chars("rejected")
    return [
        max(1, (p * (nc + nr) + c + r) // CHARS_PER_TOKEN)
        for p, c, r, nc, nr in zip(prompt, chosen, rejected, n_chosen, n_rejected)
    ]


# ----------------------------------------------------------------------------- jobs and policy


@dataclass(frozen=True)
class Job:
    """One model as the scheduler sees it: how long it runs and how many slots (GPUs) it holds meanwhile."""

    name: str
    duration: float
    width: float = 1.0
    index: int = 0
    """Position in the job file (the naive order, and the tie-breaker)."""


def replica_width(resources: Resources, spec: ModelSpec) -> float:
    """Slots one replica holds: GPUs ``max(gpus_per_actor, tensor_parallel_size)`` (more for a native-head model
    split over several GPUs, :func:`~orchestrator.runtime.resources.device_map_gpus`), or CPUs for CPU actors."""
    if resources.gpus > 0:
        from orchestrator.runtime.resources import replica_gpus

        return replica_gpus(resources, spec)  # 0 for API judges: they never wait for a GPU
    return resources.cpus


def model_job(spec: ModelSpec, resources: Resources, cost: float, capacity: float, index: int = 0) -> Job:
    """The :class:`Job` of a model of ``cost`` (parameters x tokens) on a cluster of ``capacity`` slots.

    Replicas are capped to what fits the cluster (at least one); raises ValueError when
    not even one replica fits.
    """
    per = replica_width(resources, spec)
    if per > capacity + _EPS:
        unit = "GPUs" if resources.gpus > 0 else "CPUs"
        raise ValueError(
            f"model {spec.name!r}: one replica needs {per:g} {unit} "
            f"(gpus_per_actor/tensor_parallel_size) but the cluster has {capacity:g}"
        )
    if per <= 0:
        return Job(spec.name, cost / resources.actors_per_model, 0.0, index)
    replicas = max(1, min(resources.actors_per_model, int((capacity + _EPS) // per)))
    parallel = replicas * (spec.tensor_parallel_size if resources.gpus > 0 else 1)
    return Job(spec.name, cost / parallel, per * replicas, index)


def lpt_order(jobs: Iterable[Job]) -> list[Job]:
    """Longest processing time first; wider first on ties, then job-file order."""
    return sorted(jobs, key=lambda j: (-j.duration, -j.width, j.index))


def ideal_makespan(jobs: Sequence[Job], capacity: float) -> float:
    """Lower bound on any schedule: max(total work / capacity, longest job)."""
    if not jobs:
        return 0.0
    return max(sum(j.duration * j.width for j in jobs) / capacity, max(j.duration for j in jobs))


class SlotScheduler:
    """Which waiting jobs to start now: in priority order, every one that fits the free slots."""

    def __init__(self, jobs: Iterable[Job], capacity: float, *, policy: str = "lpt", backfill: bool = False):
        if policy not in ("lpt", "naive"):
            raise ValueError(f"unknown scheduling policy {policy!r}: use 'lpt' or 'naive'")
        jobs = list(jobs)
        self.waiting: list[Job] = lpt_order(jobs) if policy == "lpt" else sorted(jobs, key=lambda j: j.index)
        self.capacity = float(capacity)
        self.free = float(capacity)
        self.backfill = backfill
        for job in self.waiting:
            if job.width > self.capacity + _EPS:
                raise ValueError(f"job {job.name!r} needs {job.width:g} slots; only {self.capacity:g} exist")

    def take(self) -> list[Job]:
        """Jobs to start now (their slots are counted as held)."""
        started = []
        for job in list(self.waiting):
            if job.width <= self.free + _EPS:
                self.waiting.remove(job)
                self.free -= job.width
                started.append(job)
            elif not self.backfill:
                break  # the first job that does not fit waits for its slots; nothing overtakes it
        return started

    def release(self, job: Job) -> None:
        """A started job finished (or failed): its slots are free again."""
        self.free = min(self.capacity, self.free + job.width)

    def drop(self, name: str) -> None:
        """Forget a waiting job (its model failed before starting)."""
        self.waiting = [j for j in self.waiting if j.name != name]


@dataclass
class Simulation:
    """A simulated schedule: each job's start and end, the makespan and the lower bound."""

    makespan: float
    ideal: float
    spans: dict[str, tuple[float, float]] = field(default_factory=dict)

    @property
    def ratio(self) -> float:
        return self.makespan / self.ideal if self.ideal else 1.0

    @property
    def start_order(self) -> list[str]:
        return sorted(self.spans, key=lambda n: self.spans[n][0])  # stable: ties keep start order


def simulate(
    jobs: Sequence[Job],
    capacity: float,
    *,
    policy: str = "lpt",
    backfill: bool = False,
    overhead: float = 0.0,
) -> Simulation:
    """Run :class:`SlotScheduler` on modelled durations (``overhead`` seconds added per job, e.g. loading)."""
    scheduler = SlotScheduler(jobs, capacity, policy=policy, backfill=backfill)
    now = 0.0
    running: list[tuple[float, Job]] = []
    spans: dict[str, tuple[float, float]] = {}
    while scheduler.waiting or running:
        for job in scheduler.take():
            end = now + job.duration + overhead
            spans[job.name] = (now, end)
            running.append((end, job))
        if not running:  # nothing fits and nothing runs: cannot happen (widths are checked)
            raise RuntimeError("scheduler stalled")
        running.sort(key=lambda r: r[0])
        now = running[0][0]
        while running and running[0][0] <= now + _EPS:
            scheduler.release(running.pop(0)[1])
    makespan = max((end for _, end in spans.values()), default=0.0)
    return Simulation(
        makespan, ideal_makespan([Job(j.name, j.duration + overhead, j.width) for j in jobs], capacity), spans
    )


# ----------------------------------------------------------------------------- weight prefetch


def weight_files(model_dir: str | Path) -> list[Path]:
    """The weight files of a local model directory (empty for hub ids)."""
    path = Path(model_dir).expanduser()
    if not path.is_dir():
        return []
    return sorted(p for p in path.iterdir() if p.is_file() and p.name.endswith(_WEIGHT_SUFFIXES))


def read_into_page_cache(files: Iterable[Path], chunk: int = 16 * 1024 * 1024) -> int:
    """Read ``files`` once so that the OS page cache holds them; returns the bytes read."""
    total = 0
    for path in files:
        try:
            with open(path, "rb", buffering=0) as fh:
                while data := fh.read(chunk):
                    total += len(data)
        except OSError as exc:
            logger.warning("prefetch of %s failed: %s", path, exc)
    return total


def evict_from_page_cache(files: Iterable[Path]) -> None:
    """Ask the OS to drop ``files`` from the page cache (benchmarks: a cold load)."""
    for path in files:
        try:
            fd = os.open(path, os.O_RDONLY)
        except OSError:
            continue
        try:
            os.fsync(fd)
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        except (OSError, AttributeError):
            pass
        finally:
            os.close(fd)


class WeightPrefetcher:
    """One background thread reading the next models' weight files into the page cache.

    The driver queues a model when a running model has its last unit in flight, so the
    next model's weights come from memory when its actor loads. It helps where the
    driver shares the filesystem cache with the scoring actors (a single-node cluster);
    elsewhere it only costs one read.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._queued: set[str] = set()
        self.bytes_read: dict[str, int] = {}
        self._threads: list[threading.Thread] = []

    def prefetch(self, name: str, model_dir: str | Path) -> bool:
        """Start reading ``model_dir``'s weights in the background (once per model); False if already done."""
        with self._lock:
            if name in self._queued:
                return False
            self._queued.add(name)
        files = weight_files(model_dir)
        if not files:
            return False

        def work() -> None:
            self.bytes_read[name] = read_into_page_cache(files)

        thread = threading.Thread(target=work, name=f"rayward-prefetch-{name}", daemon=True)
        thread.start()
        self._threads.append(thread)
        return True

    def join(self, timeout: float | None = None) -> None:
        for thread in self._threads:
            thread.join(timeout)
