"""ArmoRM (RLHFlow/ArmoRM-Llama3-8B-v0.1) read natively: a Llama base, multi-objective rewards and a gating network.

Written from the published architecture (the checkpoint's ``modeling_custom.py``, ``LlamaForRewardModelWithGating``;
the reference loads that file with ``trust_remote_code``). Tensors: ``model.*`` (the Llama base),
``regression_layer.weight`` (bias-free, ``[objectives, hidden]``), ``reward_transform_matrix``
(``[objectives, objectives]``), ``gating.layers.<i>.weight``/``.bias`` (an MLP with ReLU between its layers) and
``gating.logit_scale``. For each sequence:

* rewards = ``regression_layer`` at the token before the first pad id (the last token when there is none, as the
  reference's ``eq(pad).argmax() - 1`` modulo the length gives);
* gate = ``softmax(gating(h_g) / gating_temperature) * logit_scale``, ``h_g`` the hidden state at the first token of
  the last occurrence of ``<|eot_id|><|start_header_id|>assistant<|end_header_id|>\\n\\n`` (Llama-3 ids
  ``128009, 128006, 78191, 128007, 271``): the last assistant header;
* score = ``sum(gate * (rewards @ reward_transform_matrix))``.

The head runs in the weights' dtype (bfloat16 in the reference), as the remote code does.
"""

from __future__ import annotations

import re
from pathlib import Path

from orchestrator.errors import ModelError
from orchestrator.scoring.adapters import Adapter
from orchestrator.scoring.adapters.heads import NativeRewardModel, _derived_buffer, load_config
from orchestrator.scoring.adapters.weights import load_state_dict

GATE_PATTERN = (128009, 128006, 78191, 128007, 271)
"""The token ids the reference's ``find_token_for_gating`` looks for (last occurrence)."""


class ArmoRMRewardModel(NativeRewardModel):
    """The Llama base and ArmoRM's head; :meth:`hidden` as the other native heads, :meth:`head` with the gate."""

    gate_pattern: tuple[int, ...] = GATE_PATTERN
    """Where the gating network reads (the scorer finds the last occurrence in every input)."""

    def head(self, hidden, gate=None):
        """Scores ``[N, 1]`` (float32) from the hidden states at the reward positions and at the gate positions."""
        if gate is None:
            raise ModelError(f"adapter {self.adapter.name}: the gating network needs its read position")
        return self.head_layer(hidden, gate).float()[:, None]


def _gating_head(state: dict, config, where: str):
    import torch

    class Head(torch.nn.Module):
        def __init__(self, regression, transform, layers, logit_scale, temperature):
            super().__init__()
            self.regression = regression
            self.transform = torch.nn.Parameter(transform, requires_grad=False)
            self.layers = torch.nn.ModuleList(layers)
            self.logit_scale = torch.nn.Parameter(logit_scale, requires_grad=False)
            self.temperature = temperature

        def forward(self, hidden, gate_hidden):
            dtype = self.transform.dtype
            rewards = self.regression(hidden.to(dtype))
            x = gate_hidden.to(dtype)
            for i, layer in enumerate(self.layers):
                x = layer(x)
                if i < len(self.layers) - 1:
                    x = torch.relu(x)
            weights = torch.softmax(x / self.temperature, dim=1) * self.logit_scale[0]
            return torch.sum(weights * (rewards @ self.transform), dim=1)

    needed = ("regression_layer.weight", "reward_transform_matrix", "gating.logit_scale")
    absent = [k for k in needed if k not in state]
    if absent:
        raise ModelError(f"{where}: {', '.join(absent)} missing from the checkpoint: not the ArmoRM layout")
    w = state["regression_layer.weight"]
    regression = torch.nn.Linear(w.shape[1], w.shape[0], bias=False)
    regression.load_state_dict({"weight": w})
    indices = sorted(
        {int(m.group(1)) for k in state if (m := re.match(r"gating\.layers\.(\d+)\.weight$", k))}
    )
    if not indices or indices != list(range(len(indices))):
        raise ModelError(f"{where}: gating.layers.<i>.weight tensors missing or not numbered 0..n")
    layers = []
    for i in indices:
        lw = state[f"gating.layers.{i}.weight"]
        bias = state.get(f"gating.layers.{i}.bias")
        layer = torch.nn.Linear(lw.shape[1], lw.shape[0], bias=bias is not None)
        layer.load_state_dict({"weight": lw, **({"bias": bias} if bias is not None else {})})
        layers.append(layer)
    transform = state["reward_transform_matrix"]
    objectives = w.shape[0]
    if tuple(transform.shape) != (objectives, objectives) or layers[-1].out_features != objectives:
        raise ModelError(
            f"{where}: regression_layer has {objectives} objectives but reward_transform_matrix is "
            f"{list(transform.shape)} and the gating network gives {layers[-1].out_features}"
        )
    temperature = float(getattr(config, "gating_temperature", 10))
    used = {"regression_layer.weight", "reward_transform_matrix", "gating.logit_scale"}
    used |= {f"gating.layers.{i}.{p}" for i in indices for p in ("weight", "bias")}
    return Head(regression, transform, layers, state["gating.logit_scale"], temperature), used


def load_armorm(adapter: Adapter, path: str, name: str, dtype, attn_implementation: str | None):
    """The checkpoint at ``path`` as an :class:`ArmoRMRewardModel` (every tensor used, every weight filled)."""
    transformers = __import__("transformers")
    config = load_config(path)
    if attn_implementation:
        config._attn_implementation = attn_implementation
    where = f"model {name!r} ({path}, adapter {adapter.name})"
    state = load_state_dict(Path(path).expanduser())
    head, used = _gating_head(state, config, where)
    leftover = sorted(k for k in state if not k.startswith(adapter.base_prefix) and k not in used)
    if leftover:
        raise ModelError(f"{where}: unexpected tensors {', '.join(leftover[:8])}: not the ArmoRM layout")
    base = transformers.AutoModel.from_config(config, dtype=dtype)
    base_state = {
        k[len(adapter.base_prefix) :]: v for k, v in state.items() if k.startswith(adapter.base_prefix)
    }
    result = base.load_state_dict(base_state, strict=False)
    missing = [k for k in result.missing_keys if not _derived_buffer(k)]
    if missing or result.unexpected_keys:
        names = [f"{adapter.base_prefix}{k} missing" for k in missing[:8]]
        names += [f"{adapter.base_prefix}{k} unexpected" for k in result.unexpected_keys[:8]]
        raise ModelError(f"{where}: {', '.join(names)}: not the ArmoRM layout")
    head.to(dtype)
    return ArmoRMRewardModel(base, head, config, adapter)
