"""Content-addressed cache of token ids: tokenize once per (tokenizer, dataset), reuse after.

A cache entry is the result of :func:`orchestrator.scoring.formatting.encode` for one list of
texts. Its key is a SHA-256 over

* the tokenizer's fingerprint (:func:`tokenizer_fingerprint`: its serialized vocabulary, merges,
  normalizer and post-processor, special tokens, class, and the ``tokenizers``/``transformers``
  versions),
* ``max_length`` and the truncation side,
* the chat template the texts were rendered with,
* a hash of the texts themselves (their count, each length, each content).

Changing any of these gives a different key, so a stale entry is never read; entries are
immutable and never need invalidating. On disk an entry is one ``.npz`` file (flat ``int32``
ids, row offsets, first-token-masked flags) written atomically (temp file + rename), so
concurrent writers (several actors on one node) are safe. A small in-memory layer serves
repeated calls in one process without touching the disk.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from orchestrator.scoring.formatting import Encoded, encode

logger = logging.getLogger(__name__)

DEFAULT_DIR = "~/.cache/rayward/tokens"
"""Where ``token_cache: default`` (or ``RAYWARD_TOKEN_CACHE=default``) puts entries."""

_FORMAT = "rayward-token-cache-v1"


def resolve_cache_dir(setting: str | None) -> Path | None:
    """The cache directory for a job setting: ``None``/``off`` = no disk cache, ``default`` =
    :data:`DEFAULT_DIR`, anything else a path. ``RAYWARD_TOKEN_CACHE`` applies when unset."""
    if setting is None:
        setting = os.environ.get("RAYWARD_TOKEN_CACHE") or None
    if setting is None or setting.strip().lower() in ("", "off", "none", "false", "0"):
        return None
    if setting.strip().lower() == "default":
        setting = DEFAULT_DIR
    return Path(setting).expanduser()


def tokenizer_fingerprint(tokenizer) -> str:
    """A stable identity for what a tokenizer does to text (not where it was loaded from)."""
    digest = hashlib.sha256()

    def put(label: str, value) -> None:
        data = value if isinstance(value, bytes) else str(value).encode("utf-8", "surrogatepass")
        digest.update(f"{label}:{len(data)}:".encode())
        digest.update(data)

    put("class", type(tokenizer).__name__)
    backend = getattr(tokenizer, "backend_tokenizer", None)
    if backend is not None:
        # its truncation/padding state changes with each call's arguments: not part of the identity
        state = json.loads(backend.to_str())
        state.pop("truncation", None)
        state.pop("padding", None)
        put("backend", json.dumps(state, sort_keys=True))
    else:  # slow (Python) tokenizer: its vocabulary and added tokens
        put("vocab", sorted(tokenizer.get_vocab().items()))
    put("special", sorted((k, str(v)) for k, v in tokenizer.special_tokens_map.items()))
    put("added", sorted((int(k), str(v)) for k, v in getattr(tokenizer, "added_tokens_decoder", {}).items()))
    for attr in (
        "bos_token_id",
        "eos_token_id",
        "add_bos_token",
        "add_eos_token",
        "do_lower_case",
        "clean_up_tokenization_spaces",
    ):
        put(attr, getattr(tokenizer, attr, None))
    try:
        import tokenizers
        import transformers

        put("versions", f"{tokenizers.__version__}/{transformers.__version__}")
    except ImportError:  # pragma: no cover - tokenizers ships with transformers
        pass
    return digest.hexdigest()


def texts_hash(texts: Sequence[str]) -> str:
    digest = hashlib.sha256(f"{len(texts)}\n".encode())
    for text in texts:
        data = text.encode("utf-8", "surrogatepass")
        digest.update(len(data).to_bytes(8, "little"))
        digest.update(data)
    return digest.hexdigest()


def cache_key(
    fingerprint: str, max_length: int, truncation_side: str, chat_template: str | None, text_digest: str
) -> str:
    parts = [
        _FORMAT,
        fingerprint,
        str(int(max_length)),
        str(truncation_side),
        chat_template or "",
        text_digest,
    ]
    return hashlib.sha256("\x00".join(parts).encode("utf-8", "surrogatepass")).hexdigest()


class TokenCache:
    """Token ids of text lists, in memory (bounded) and optionally on disk under ``directory``."""

    def __init__(self, directory: str | Path | None = None, memory_entries: int = 8):
        self.directory = Path(directory).expanduser() if directory is not None else None
        self.memory_entries = memory_entries
        self._memory: OrderedDict[str, Encoded] = OrderedDict()
        self._fingerprints: dict[int, tuple[Any, int, str]] = {}  # id -> (tokenizer, size, fingerprint)
        self.hits = 0
        self.misses = 0

    def fingerprint(self, tokenizer) -> str:
        # computed once per tokenizer object and size (serializing a large vocabulary takes a
        # moment); tokens added in place change the size and so the fingerprint
        held = self._fingerprints.get(id(tokenizer))
        if held is None or held[0] is not tokenizer or held[1] != len(tokenizer):
            held = (tokenizer, len(tokenizer), tokenizer_fingerprint(tokenizer))
            self._fingerprints[id(tokenizer)] = held
        return held[2]

    def key(self, tokenizer, texts: Sequence[str], max_length: int) -> str:
        return cache_key(
            self.fingerprint(tokenizer),
            max_length,
            getattr(tokenizer, "truncation_side", "right"),
            getattr(tokenizer, "chat_template", None),
            texts_hash(texts),
        )

    def path(self, key: str) -> Path | None:
        return None if self.directory is None else self.directory / key[:2] / f"{key}.npz"

    def encode(self, tokenizer, texts: Sequence[str], max_length: int) -> Encoded:
        """:func:`encode`, served from the cache when this exact input was tokenized before."""
        key = self.key(tokenizer, texts, max_length)
        found = self._get(key)
        if found is not None:
            self.hits += 1
            return found
        self.misses += 1
        enc = encode(tokenizer, texts, max_length)
        self._put(key, enc)
        return enc

    def _get(self, key: str) -> Encoded | None:
        if key in self._memory:
            self._memory.move_to_end(key)
            return self._memory[key]
        path = self.path(key)
        if path is None or not path.is_file():
            return None
        try:
            with np.load(path, allow_pickle=False) as data:
                if str(data["format"]) != _FORMAT or str(data["key"]) != key:
                    return None
                flat, offsets, masked = data["ids"], data["offsets"], data["first_masked"]
        except Exception as exc:  # a damaged entry is a miss, and is rewritten
            logger.warning("token cache: ignoring unreadable entry %s: %s", path, exc)
            return None
        ids = [flat[offsets[i] : offsets[i + 1]].tolist() for i in range(len(offsets) - 1)]
        enc = Encoded(ids, [bool(x) for x in masked])
        self._remember(key, enc)
        return enc

    def _put(self, key: str, enc: Encoded) -> None:
        self._remember(key, enc)
        path = self.path(key)
        if path is None:
            return
        offsets = np.zeros(len(enc.input_ids) + 1, dtype=np.int64)
        np.cumsum([len(x) for x in enc.input_ids], out=offsets[1:])
        flat = np.fromiter((t for ids in enc.input_ids for t in ids), dtype=np.int64, count=int(offsets[-1]))
        dtype = np.int32 if (flat.size == 0 or (flat.min() >= 0 and flat.max() < 2**31)) else np.int64
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".npz")
            with os.fdopen(fd, "wb") as f:
                np.savez(
                    f,
                    format=np.array(_FORMAT),
                    key=np.array(key),
                    ids=flat.astype(dtype),
                    offsets=offsets,
                    first_masked=np.asarray(enc.first_masked, dtype=bool),
                )
            os.replace(tmp, path)
        except OSError as exc:  # a read-only or full cache disk must not fail a run
            logger.warning("token cache: cannot write %s: %s", path, exc)

    def _remember(self, key: str, enc: Encoded) -> None:
        if self.memory_entries <= 0:
            return
        self._memory[key] = enc
        self._memory.move_to_end(key)
        while len(self._memory) > self.memory_entries:
            self._memory.popitem(last=False)
