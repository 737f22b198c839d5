"""The judge output cache: an identical API request is never sent twice, across runs and models.

A request's key is :func:`orchestrator.scoring.judge_openai.request_key` (sha256 over the endpoint's model id,
the messages, ``max_tokens``, ``temperature``, ``top_p`` and ``seed``; no URL, header or key). Each answer is one
small JSON file in the results store (local directory or URI), written atomically::

    cache/judge-outputs/<key[:2]>/<key>.json      # {"text": ..., "usage": {...}}

so concurrent actors and runs never clash and a reader sees whole files only. Records mark outputs that came
from here (``judge_outputs[].cached``); the manifest counts them (``api.cached_outputs``). ``rayward run
--no-cache`` (or ``cache: false``) sends every request again and overwrites what it finds.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from orchestrator.results.store import Store, open_store

logger = logging.getLogger(__name__)

CACHE_DIR = "cache/judge-outputs"


class JudgeOutputCache:
    """Request key -> the endpoint's answer, stored under ``cache/judge-outputs/`` of a results store."""

    def __init__(self, store: str | Store):
        self.store = open_store(store)

    def _rel(self, key: str) -> str:
        if len(key) != 64 or any(c not in "0123456789abcdef" for c in key):
            raise ValueError(f"judge output cache: {key!r} is not a sha256 hex key")
        return f"{CACHE_DIR}/{key[:2]}/{key}.json"

    def get(self, key: str) -> dict[str, Any] | None:
        rel = self._rel(key)
        try:
            if not self.store.is_file(rel):
                return None
            doc = json.loads(self.store.read_bytes(rel).decode("utf-8"))
        except (OSError, ValueError) as exc:  # damaged entry: ask the endpoint again (the rewrite is atomic)
            logger.warning("judge output cache: unreadable entry %s (%s); asking again", rel, exc)
            return None
        if not isinstance(doc, dict) or not isinstance(doc.get("text"), str):
            return None
        return doc

    def put(self, key: str, doc: dict[str, Any]) -> None:
        data = json.dumps(doc, ensure_ascii=False).encode("utf-8")

        def _write(target: Any) -> None:
            if isinstance(target, str):
                with open(target, "wb") as fh:
                    fh.write(data)
            else:
                target.write(data)

        self.store.write_atomic(self._rel(key), _write)
