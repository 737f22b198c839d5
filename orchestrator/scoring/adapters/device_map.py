"""A native-head model split over several devices (``device_map``): its decoder layers in order over the GPUs its
actor holds, the embeddings with the first layer, the final norm and the reward head with the last.

:func:`plan_device_map` is pure (module sizes in, device per module out); :func:`dispatch` moves the modules and
adds forward pre-hooks that move each layer's tensor inputs to its device (what accelerate's ``dispatch_model``
does, without needing accelerate). The GPU count is planned by the driver
(:func:`orchestrator.runtime.resources.device_map_gpus`); the actor then sees that many GPUs.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from orchestrator.errors import ModelError

logger = logging.getLogger(__name__)

FIRST = ("embed", "wte", "wpe", "rotary")
"""Top-level base modules placed with the first layer (their names contain one of these); the others (the final
norm) go with the last layer, as does the reward head."""


def plan_device_map(
    sizes: Sequence[tuple[str, int]], max_memory: Sequence[int], *, where: str = "model"
) -> list[int]:
    """The device index of each of the decoder layers ``sizes`` (``(name, bytes)`` in order): contiguous runs of
    about ``total / devices`` bytes each (a layer goes where its midpoint falls), a device that would pass its
    ``max_memory`` handing on to the next. Raises :class:`ModelError` when a layer does not fit."""
    n = len(max_memory)
    if n < 1:
        raise ModelError(f"{where}: no devices to place the model on")
    share = max(sum(size for _, size in sizes) / n, 1e-9)
    out: list[int] = []
    used = [0] * n
    device = cumulative = 0
    for name, size in sizes:
        device = max(device, min(n - 1, int((cumulative + size / 2) / share)))
        while used[device] + size > max_memory[device] and device < n - 1:
            device += 1
        if used[device] + size > max_memory[device]:
            raise ModelError(
                f"{where}: layer {name} ({size / 2**30:.2f} GiB) does not fit on device {device} "
                f"({used[device] / 2**30:.2f} of {max_memory[device] / 2**30:.2f} GiB used): it needs more GPUs "
                "(resources.gpu_memory_gib / gpus_per_actor)"
            )
        used[device] += size
        cumulative += size
        out.append(device)
    return out


def _module_bytes(module) -> int:
    return sum(p.numel() * p.element_size() for p in module.parameters()) + sum(
        b.numel() * b.element_size() for b in module.buffers()
    )


def layer_list(base) -> tuple[str, Any]:
    """The base model's decoder layers: the ``ModuleList`` child with ``num_hidden_layers`` entries."""
    import torch

    count = getattr(base.config, "num_hidden_layers", None)
    for name, child in base.named_children():
        if isinstance(child, torch.nn.ModuleList) and (count is None or len(child) == count):
            return name, child
    raise ModelError(f"{type(base).__name__}: no list of decoder layers to split over devices")


def _to_device(value, device):
    import torch

    if isinstance(value, torch.Tensor):
        return value.to(device)
    if isinstance(value, tuple):
        return tuple(_to_device(v, device) for v in value)
    if isinstance(value, list):
        return [_to_device(v, device) for v in value]
    if isinstance(value, dict):
        return {k: _to_device(v, device) for k, v in value.items()}
    return value


def _move_inputs_hook(device):
    def hook(module, args, kwargs):
        return _to_device(args, device), _to_device(kwargs, device)

    return hook


def dispatch(
    model, devices: Sequence[Any], max_memory: Sequence[int], *, where: str = "model"
) -> dict[str, Any]:
    """Split a native-head model (``model.base`` + its head modules) over ``devices``: layers by
    :func:`plan_device_map`, embeddings and rotary tables with the first layer, the final norm and the head with
    the last. Returns the map (module name -> device), as recorded in the model info."""
    base = model.base
    layers_name, layers = layer_list(base)
    placement = plan_device_map(
        [(f"{layers_name}.{i}", _module_bytes(layer)) for i, layer in enumerate(layers)],
        max_memory,
        where=where,
    )
    first, last = devices[placement[0]], devices[placement[-1]]
    device_map: dict[str, Any] = {}
    for name, child in base.named_children():
        if name == layers_name:
            continue
        device = first if any(k in name for k in FIRST) else last
        child.to(device)
        child.register_forward_pre_hook(_move_inputs_hook(device), with_kwargs=True)
        device_map[name] = device
    for i, (layer, index) in enumerate(zip(layers, placement)):
        layer.to(devices[index])
        layer.register_forward_pre_hook(_move_inputs_hook(devices[index]), with_kwargs=True)
        device_map[f"{layers_name}.{i}"] = devices[index]
    for name, module in head_modules(model):
        module.to(last)
        device_map[name] = last
    logger.info("%s split over %d devices: layers %s", where, len(set(placement)), placement)
    return device_map


def head_modules(model) -> list[tuple[str, Any]]:
    """The reward head module(s) of a native model (everything it holds besides ``base``)."""
    import torch

    out: list[tuple[str, Any]] = []
    for name, value in vars(model).items():
        if name == "base":
            continue
        if isinstance(value, torch.nn.Module):
            out.append((name, value))
        elif isinstance(value, dict):  # heads kept as a dict of modules
            out += [(f"{name}.{k}", v) for k, v in value.items() if isinstance(v, torch.nn.Module)]
    return out


def gpu_max_memory(count: int, fraction: float) -> list[int]:
    """Bytes each visible GPU may hold for the model's layers: ``fraction`` of its free memory."""
    import torch

    return [int(torch.cuda.mem_get_info(i)[0] * fraction) for i in range(count)]
