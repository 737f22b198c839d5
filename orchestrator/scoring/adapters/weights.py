"""Reading a checkpoint's tensors by name: safetensors headers (names only, no weights) and tensors.

Supports ``model.safetensors``, sharded ``model-*.safetensors`` with their index, and ``pytorch_model.bin``
(loaded with ``weights_only=True``).
"""

from __future__ import annotations

import json
import struct
from pathlib import Path

from orchestrator._safetensors import read_header
from orchestrator.errors import ModelError


def _safetensors_files(local: Path) -> list[Path]:
    index = local / "model.safetensors.index.json"
    if index.is_file():
        weight_map = json.loads(index.read_text(encoding="utf-8")).get("weight_map", {})
        return [local / name for name in sorted(set(weight_map.values()))]
    return sorted(local.glob("*.safetensors"))


def tensor_names(local: Path) -> list[str]:
    """Every tensor name in a local checkpoint's safetensors files (empty when there are none). A file whose header
    does not read adds no names: the loader then reports it (``cannot load ...``), naming the model."""
    names: list[str] = []
    for file in _safetensors_files(local):
        try:
            names.extend(read_header(file))
        except (OSError, ValueError, struct.error, UnicodeDecodeError):
            continue
    return names


def load_state_dict(local: Path) -> dict:
    """Every tensor of a local checkpoint, by name (safetensors, else ``pytorch_model*.bin``)."""
    import torch
    from safetensors.torch import load_file

    files = _safetensors_files(local)
    state: dict = {}
    if files:
        for file in files:
            state.update(load_file(str(file)))
        return state
    bins = sorted(local.glob("pytorch_model*.bin"))
    if not bins:
        raise ModelError(f"{local}: no model.safetensors or pytorch_model.bin weights")
    for file in bins:
        state.update(torch.load(str(file), map_location="cpu", weights_only=True))
    return state
