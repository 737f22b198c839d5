"""Stopping the local Ray cluster ``rayward run`` started, leaving no process behind.

Ray's own ``ray.shutdown()`` runs at exit; a second Ctrl-C while it runs interrupts it half-way, and the Ray
agents it had not stopped yet (the dashboard and runtime-env agents ignore SIGTERM) live on. So the CLI stops
the cluster itself, once, with Ctrl-C ignored for the few seconds it takes: it snapshots every descendant
process of the driver first (Linux ``/proc``; after the raylet dies its children are re-parented and could no
longer be found), calls ``ray.shutdown()``, then SIGKILLs whatever of the snapshot is still alive and waits
for it. Clusters the driver only connected to (``--address``, a Ray Job) are never touched.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)


def _children_map() -> dict[int, list[int]]:
    out: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # pid (comm) state ppid ...; comm may hold spaces or parentheses
        fields = stat[stat.rfind(")") + 2 :].split()
        out.setdefault(int(fields[1]), []).append(int(entry.name))
    return out


def descendants(pid: int | None = None) -> list[int]:
    """Every live descendant of ``pid`` (default: this process); empty where ``/proc`` is missing."""
    if not Path("/proc/self/stat").exists():
        return []
    children = _children_map()
    todo, seen = [pid or os.getpid()], []
    while todo:
        for child in children.get(todo.pop(), []):
            if child not in seen:
                seen.append(child)
                todo.append(child)
    return seen


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return state[state.rfind(")") + 2 :].split()[0] != "Z"  # a zombie is gone (its parent reaps it)


def stop_local_cluster(ray: Any | None = None, *, grace_s: float = 10.0) -> list[int]:
    """Shut down the Ray cluster this process started, with Ctrl-C ignored meanwhile; SIGKILL what is left.

    Returns the pids that had to be killed. A no-op when this process did not start a local cluster."""
    from orchestrator.runtime.cluster import cluster_processes, started_local_cluster

    if not started_local_cluster():
        return []
    ray = ray or sys.modules.get("ray")
    main = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN) if main else None
    try:
        pids = cluster_processes(descendants())
        if ray is not None and ray.is_initialized():
            try:
                ray.shutdown()
            except Exception as exc:  # keep going: the processes still have to go
                logger.warning("ray.shutdown() failed: %s", exc)
        deadline = time.monotonic() + grace_s
        left = [p for p in pids if _alive(p)]
        while left and time.monotonic() < deadline:
            time.sleep(0.1)
            left = [p for p in left if _alive(p)]
        for pid in left:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        end = time.monotonic() + 5
        while any(_alive(p) for p in left) and time.monotonic() < end:
            time.sleep(0.05)
        if left:
            logger.warning("killed %d Ray process(es) that outlived ray.shutdown(): %s", len(left), left)
        return left
    finally:
        from orchestrator.runtime.cluster import forget_local_cluster

        forget_local_cluster()
        if main and previous is not None:
            signal.signal(signal.SIGINT, previous)
