"""Padded batches prepared off the critical path: a background thread builds (and pins) the next
batch while the current one runs on the device.

:func:`padded_batches` describes every batch of a scoring pass (pure, deterministic);
:func:`prefetch` runs any iterator ahead in a daemon thread with a bounded queue. The padding
is built with NumPy in one vectorised copy per batch, then wrapped as torch tensors (pinned
when the target is a CUDA device, so the host-to-device copy can be non-blocking).
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from orchestrator.scoring.batching import token_budget_batches

_END = object()


@dataclass
class PaddedBatch:
    """One batch: which inputs it holds (``indices``) and the model's keyword inputs."""

    indices: list[int]
    inputs: dict[str, Any]
    tokens: int
    """Real (unpadded) tokens in the batch."""


def _pad(
    seqs: Sequence[Sequence[int]], batch: list[int], lengths: Sequence[int], width: int, pad: int
) -> np.ndarray:
    ids = np.full((len(batch), width), pad, dtype=np.int64)
    for row, i in enumerate(batch):
        ids[row, : lengths[i]] = seqs[i]
    return ids


def padded_batches(
    seqs: Sequence[Sequence[int]],
    pad_id: int,
    batch_tokens: int,
    *,
    causal: bool,
    offsets: Sequence[int] | None = None,
    first_masked: Sequence[bool] | None = None,
    pin_memory: bool = False,
) -> Iterator[PaddedBatch]:
    """Length-sorted, right-padded batches under ``batch_tokens`` (see :func:`token_budget_batches`).

    ``causal``: inputs are ``input_ids`` + ``position_ids`` starting at ``offsets[i]`` (no padding
    mask). Otherwise ``input_ids`` + ``attention_mask`` with the first token masked where
    ``first_masked[i]`` (RewardBench's doubled BOS).
    """
    import torch

    lengths = [len(x) for x in seqs]
    offsets = offsets if offsets is not None else [0] * len(seqs)
    first_masked = first_masked if first_masked is not None else [False] * len(seqs)
    for batch in token_budget_batches(lengths, batch_tokens):
        width = max(lengths[i] for i in batch)
        ids = _pad(seqs, batch, lengths, width, pad_id)
        if causal:
            start = np.asarray([offsets[i] for i in batch], dtype=np.int64)[:, None]
            arrays = {"input_ids": ids, "position_ids": start + np.arange(width, dtype=np.int64)[None, :]}
        else:
            lens = np.asarray([lengths[i] for i in batch], dtype=np.int64)
            mask = (np.arange(width, dtype=np.int64)[None, :] < lens[:, None]).astype(np.int64)
            mask[np.asarray([bool(first_masked[i]) for i in batch], dtype=bool), 0] = 0
            arrays = {"input_ids": ids, "attention_mask": mask}
        inputs = {k: torch.from_numpy(v) for k, v in arrays.items()}
        if pin_memory:
            inputs = {k: v.pin_memory() for k, v in inputs.items()}
        yield PaddedBatch(list(batch), inputs, sum(lengths[i] for i in batch))


class _Failure:
    def __init__(self, exc: BaseException):
        self.exc = exc


def prefetch(items: Iterable[Any], depth: int = 2) -> Iterator[Any]:
    """Yield ``items`` in order while a background thread produces up to ``depth`` ahead.

    An exception in the producer is re-raised in the consumer at that point. Closing the
    generator early (``break``) stops the producer.
    """
    if depth <= 0:
        yield from items
        return
    out: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def put(item: Any) -> bool:
        """Queue ``item`` unless the consumer stopped first; True when it was queued."""
        while not stop.is_set():
            try:
                out.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for item in items:
                if not put(item):
                    return
            final: Any = _END
        except BaseException as exc:
            final = _Failure(exc)
        put(final)

    thread = threading.Thread(target=produce, name="rayward-prefetch", daemon=True)
    thread.start()
    try:
        while True:
            item = out.get()
            if item is _END:
                return
            if isinstance(item, _Failure):
                raise item.exc
            yield item
    finally:
        stop.set()
        thread.join(timeout=5)
