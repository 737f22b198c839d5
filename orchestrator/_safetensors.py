"""Reading a safetensors file's header (tensor names, shapes, dtypes) without its data: the one reader that
parameter estimation (:mod:`orchestrator.runtime.scheduling`) and adapter selection
(:mod:`orchestrator.scoring.adapters.weights`) share."""

from __future__ import annotations

import json
import struct
from pathlib import Path
from typing import Any

_MAX_HEADER = 100 * 1024 * 1024


def read_header(file: Path) -> dict[str, Any]:
    """The tensor entries of ``file``'s header (``__metadata__`` left out); ValueError when it is not a
    safetensors file (a length past the file's end or over 100 MiB, a header that is not a JSON mapping)."""
    with file.open("rb") as fh:
        (size,) = struct.unpack("<Q", fh.read(8))
        if size > min(_MAX_HEADER, file.stat().st_size - 8):
            raise ValueError(f"{file}: not a safetensors file (header length {size})")
        header = json.loads(fh.read(size))
    if not isinstance(header, dict):
        raise ValueError(f"{file}: not a safetensors file (header is not a mapping)")
    header.pop("__metadata__", None)
    return header
