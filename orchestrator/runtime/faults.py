"""Failure policy: which errors are retried, how row errors are bounded, and the test-only fault hooks.

* **Actor loss** (the actor process died, its node was removed, Ray cannot reach it): the driver replaces the
  actor (which reloads the model) and resubmits only the unit it held, at most ``failures.unit_retries`` times
  per unit; results are committed by the driver alone, so a redone unit never yields duplicate records.
* **Out of memory** in a forward pass (``torch.OutOfMemoryError`` = ``torch.cuda.OutOfMemoryError``): the actor
  halves its batch token budget and rescores the shard, down to batches of one sequence. A scorer takes part by
  being :class:`~orchestrator.scoring.Rebatchable` (a settable ``batch_tokens``) and raising
  :class:`~orchestrator.scoring.BatchOutOfMemory` with the failing batch's size, as
  :class:`orchestrator.scoring.classifier.ClassifierScorer` does; without ``batch_tokens`` an OOM fails the model.
* **Row errors** (a row that cannot be formatted or tokenized): the row becomes a record with ``error`` set and
  null scores; above ``failures.max_error_rate`` of a benchmark's rows the model fails.

Fault hooks, for tests only (environment variables of the driver, forwarded to its scoring actors):

* ``RAYWARD_FAULT_OOM_ABOVE_TOKENS=N``: the classifier scorer raises the real ``torch.OutOfMemoryError`` for
  any batch above N padded tokens, before running it (a deterministic stand-in for a GPU's memory limit).
* ``RAYWARD_FAULT_IN_UNIT=ACTION:UNIT_ID`` (``UNIT_ID`` = ``benchmark/model/00003``, see
  :attr:`orchestrator.runtime.planning.WorkUnit.unit_id`): while scoring that unit, after its scores are computed and
  before they are returned, the actor ``exit``\\ s its process (``os._exit``, like a crash) or ``hang``\\ s
  until it is killed. With ``RAYWARD_FAULT_ONCE=PATH`` it fires only when PATH does not exist yet and creates
  it first (holding the actor's Ray node id), so the redone unit goes through; without it, it fires every time.
"""

from __future__ import annotations

import logging
import os
import time
from typing import Any

logger = logging.getLogger(__name__)

FAULT_ENV_PREFIX = "RAYWARD_FAULT_"


def is_actor_loss(exc: BaseException) -> bool:
    """True when a Ray call failed because the actor (or its node) is gone, not because its code raised."""
    from ray.exceptions import ActorUnavailableError, RayActorError

    return isinstance(exc, (RayActorError, ActorUnavailableError))


def is_oom(exc: BaseException) -> bool:
    """True for an out-of-memory error: a scorer's :class:`~orchestrator.scoring.BatchOutOfMemory` or torch's own
    (CUDA or other accelerators)."""
    import torch

    from orchestrator.scoring._protocol import BatchOutOfMemory

    return isinstance(exc, (BatchOutOfMemory, torch.OutOfMemoryError))


def row_error_allowance(max_error_rate: float, n_rows: int) -> int:
    """How many failed rows a benchmark of ``n_rows`` tolerates."""
    return int(max_error_rate * n_rows + 1e-9)


def row_error_message(
    model: str,
    benchmark: str,
    n_errors: int,
    n_rows: int,
    max_error_rate: float,
    first: dict[str, Any] | None,
    *,
    at_least: bool = False,
) -> str:
    """The model's failure message when its row errors exceed the allowance; names the first bad row.

    ``at_least``: the count stopped early (an actor gave up on its shard once the allowance was exceeded)."""
    allowed = row_error_allowance(max_error_rate, n_rows)
    text = (
        f"model {model!r}: {'at least ' if at_least else ''}{n_errors} of {n_rows} rows of {benchmark} failed "
        f"(failures.max_error_rate {max_error_rate:g} allows {allowed})"
    )
    if first:
        text += f"; first: subset {first['subset']!r} row_index {first['row_index']}: {first['error']}"
    return text


def actor_env() -> dict[str, Any]:
    """Ray actor options forwarding the driver's ``RAYWARD_FAULT_*`` variables (empty without any)."""
    env = {k: v for k, v in os.environ.items() if k.startswith(FAULT_ENV_PREFIX)}
    return {"runtime_env": {"env_vars": env}} if env else {}


def oom_threshold() -> int | None:
    """``RAYWARD_FAULT_OOM_ABOVE_TOKENS`` as an int, or None when unset."""
    value = os.environ.get(FAULT_ENV_PREFIX + "OOM_ABOVE_TOKENS")
    return int(value) if value else None


def simulated_oom(padded_tokens: int, limit: int):
    """The error a device with ``limit`` tokens of room would raise for a batch of ``padded_tokens``."""
    import torch

    return torch.OutOfMemoryError(
        f"out of memory (RAYWARD_FAULT_OOM_ABOVE_TOKENS={limit}): batch of {padded_tokens} padded tokens"
    )


def maybe_fail_in_unit(unit_id: str) -> None:
    """The ``RAYWARD_FAULT_IN_UNIT`` hook: exit or hang while scoring ``unit_id`` (tests only)."""
    spec = os.environ.get(FAULT_ENV_PREFIX + "IN_UNIT")
    if not spec:
        return
    action, _, target = spec.partition(":")
    if target != unit_id:
        return
    once = os.environ.get(FAULT_ENV_PREFIX + "ONCE")
    if once:
        try:
            fd = os.open(once, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
        except FileExistsError:
            return
        import ray

        os.write(fd, ray.get_runtime_context().get_node_id().encode())
        os.close(fd)
    logger.warning("fault hook: %s in unit %s", action, unit_id)
    if action == "exit":
        os._exit(17)
    if action == "hang":
        while True:
            time.sleep(1)
    raise ValueError(f"RAYWARD_FAULT_IN_UNIT: unknown action {action!r} (exit | hang)")
