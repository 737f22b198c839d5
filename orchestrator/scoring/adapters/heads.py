"""Native reward heads on a transformers base model, written against transformers 5 (no remote code).

:func:`load_native` builds the checkpoint's base transformer from its ``config.json`` (``AutoModel.from_config``),
loads the base tensors (prefix :attr:`Adapter.base_prefix`) and builds the head from the head tensors' names and
shapes: one ``Linear`` (``<prefix>weight``) or a stack (``<prefix>0.weight``, ``<prefix>2.weight``, ... with the
family's activation between). Every checkpoint tensor must be used and every model tensor filled: anything else
is a :class:`ModelError` naming the tensors, never a randomly initialised layer.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Any

from orchestrator.errors import ModelError
from orchestrator.scoring.adapters import Adapter
from orchestrator.scoring.adapters.weights import load_state_dict

logger = logging.getLogger(__name__)

_HEAD_ACTIVATION = {"value-head": "relu", "mlp-score": "relu", "pair-ranker": "tanh"}
"""Activation between the stacked head layers (GRM's value head and INF-ORM's score MLP use ReLU, PairRM's
head tanh)."""

_BASE_MODEL_TYPE = {"gpt_neox_reward_model": "gpt_neox"}
"""``model_type`` values of reward checkpoints whose base is a standard transformers architecture."""


def _head_module(state: dict, prefixes: tuple[str, ...], activation: str | None, where: str):
    """A head from its tensors: ``<prefix>weight`` (+bias) = one Linear; ``<prefix><i>.weight`` = a stack."""
    import torch

    absent = [p for p in prefixes if not any(k.startswith(p) for k in state)]
    if absent:
        raise ModelError(
            f"{where}: head tensors {', '.join(p + '*' for p in absent)} missing from the checkpoint"
        )
    prefix = prefixes[-1]
    names = {k[len(prefix) :]: v for k, v in state.items() if k.startswith(prefix)}
    if "weight" in names:
        w = names["weight"]
        layer = torch.nn.Linear(w.shape[1], w.shape[0], bias="bias" in names)
        unknown = set(names) - {"weight", "bias"}
        if unknown:
            raise ModelError(f"{where}: unexpected head tensors {sorted(prefix + n for n in unknown)}")
        layer.load_state_dict({k: v for k, v in names.items()})
        return layer, prefix
    indices = sorted({int(m.group(1)) for n in names if (m := re.match(r"(\d+)\.weight$", n))})
    if not indices:
        raise ModelError(f"{where}: cannot read the head from tensors {sorted(prefix + n for n in names)}")
    act = {"relu": torch.nn.ReLU, "tanh": torch.nn.Tanh, None: torch.nn.Identity}[activation]
    modules: list[Any] = []
    used = set()
    for pos, i in enumerate(indices):
        w = names[f"{i}.weight"]
        has_bias = f"{i}.bias" in names
        layer = torch.nn.Linear(w.shape[1], w.shape[0], bias=has_bias)
        layer.load_state_dict({"weight": w, **({"bias": names[f"{i}.bias"]} if has_bias else {})})
        used |= {f"{i}.weight", f"{i}.bias"} if has_bias else {f"{i}.weight"}
        modules.append(layer)
        if pos < len(indices) - 1:
            modules.append(act())
    unknown = set(names) - used
    if unknown:
        raise ModelError(f"{where}: unexpected head tensors {sorted(prefix + n for n in unknown)}")
    return torch.nn.Sequential(*modules), prefix


class NativeRewardModel:
    """A base transformer + a reward head; :meth:`hidden` gives the last hidden states, :meth:`head` the scores."""

    def __init__(self, base, head, config, adapter: Adapter, aux: dict | None = None):
        self.base = base
        self.head_layer = head
        self.config = config
        self.adapter = adapter
        self.normalize = None
        if adapter.head == "score-head" and getattr(config, "do_normalize", False):
            self.normalize = _beaver_normalizer(config, adapter, aux or {})

    def to(self, device):
        self.base.to(device)
        self.head_layer.to(device)
        return self

    def eval(self):
        self.base.eval()
        self.head_layer.eval()
        return self

    def parameters(self):
        yield from self.base.parameters()
        yield from self.head_layer.parameters()

    def hidden(self, **inputs):
        return self.base(**inputs, use_cache=False).last_hidden_state

    def head(self, hidden):
        """Scores ``[N, D]`` of pooled hidden states ``[N, H]`` (float32, normalised as the checkpoint says)."""
        weight = next(self.head_layer.parameters())
        out = self.head_layer(hidden.to(weight.dtype))
        if self.adapter.extra.get("reduce") == "mean":  # Ziya: the mean of the head's outputs, in its dtype
            out = out.mean(dim=-1, keepdim=True)
        out = out.float()
        if self.normalize is not None:
            out = self.normalize(out)
        return out


def _beaver_normalizer(config, adapter: Adapter, aux: dict):
    """safe-rlhf's score normaliser (``do_normalize``): affine for rewards, scale for costs, eps 1e-8; its
    ``normalizer.mean``/``normalizer.var`` tensors (else config ``mean``/``var``)."""
    import torch

    mean = aux.get("normalizer.mean", getattr(config, "mean", None))
    var = aux.get("normalizer.var", getattr(config, "var", None))
    if mean is None or var is None:
        raise ModelError(
            f"adapter {adapter.name}: config sets do_normalize but there is no normalizer mean/var"
        )
    mean_t = torch.as_tensor(mean, dtype=torch.float32)
    std_t = torch.as_tensor(var, dtype=torch.float32).sqrt()
    kind = {"reward": "affine", "cost": "scale", "critic": "identity"}[
        getattr(config, "score_type", "reward")
    ]

    def apply(x):
        m, s = mean_t.to(x.device), std_t.to(x.device)
        if kind == "affine":
            return (x - m) / (s + 1e-8)
        if kind == "scale":
            return x / (s + 1e-8)
        return x

    return apply


def load_config(path: str):
    """The checkpoint's config as a transformers config of its base architecture."""
    import json

    transformers = __import__("transformers")
    file = Path(path).expanduser() / "config.json"
    if not file.is_file():
        raise ModelError(f"{path}: no config.json (native adapters need a local checkpoint directory)")
    data = json.loads(file.read_text(encoding="utf-8"))
    model_type = _BASE_MODEL_TYPE.get(data.get("model_type"), data.get("model_type"))
    data.pop("model_type", None)
    data.pop("architectures", None)
    data.pop("auto_map", None)
    try:
        return transformers.AutoConfig.for_model(model_type, **data)
    except Exception as exc:
        raise ModelError(f"{file}: cannot build a {model_type!r} config: {exc}") from None


def load_native(adapter: Adapter, path: str, name: str, dtype, attn_implementation: str | None):
    """The checkpoint at ``path`` as a :class:`NativeRewardModel` (weights checked tensor by tensor)."""
    if adapter.head in _LOADERS:
        return _LOADERS[adapter.head](adapter, path, name, dtype, attn_implementation)
    transformers = __import__("transformers")
    config = load_config(path)
    if attn_implementation:
        config._attn_implementation = attn_implementation
    where = f"model {name!r} ({path}, adapter {adapter.name})"
    state = load_state_dict(Path(path).expanduser())
    head, head_prefix = _head_module(state, adapter.head_tensors, _HEAD_ACTIVATION.get(adapter.head), where)
    base = transformers.AutoModel.from_config(config, dtype=dtype)
    base_state = {
        k[len(adapter.base_prefix) :]: v for k, v in state.items() if k.startswith(adapter.base_prefix)
    }
    ignored = set(adapter.extra.get("ignore_tensors", ()))
    aux_prefixes = tuple(adapter.extra.get("aux_tensors", ()))
    aux = {k: v for k, v in state.items() if aux_prefixes and k.startswith(aux_prefixes)}
    leftover = sorted(
        k
        for k in state
        if not k.startswith(adapter.base_prefix)
        and not k.startswith(head_prefix)
        and k not in ignored
        and k not in aux
    )
    if leftover:
        raise ModelError(
            f"{where}: unexpected tensors {', '.join(leftover[:8])}: not the {adapter.family} layout"
        )
    result = base.load_state_dict(base_state, strict=False)
    missing = [k for k in result.missing_keys if not _derived_buffer(k)]
    if missing:
        raise ModelError(
            f"{where}: {', '.join(adapter.base_prefix + k for k in missing[:8])} missing from the checkpoint: "
            "it is not this family's layout; set another `adapter:`"
        )
    if result.unexpected_keys:
        raise ModelError(
            f"{where}: unexpected tensors {', '.join(adapter.base_prefix + k for k in result.unexpected_keys[:8])}"
        )
    head.to(dtype)
    return NativeRewardModel(base, head, config, adapter, aux)


def _derived_buffer(key: str) -> bool:
    """Buffers a model computes itself (rotary frequencies, causal masks), never stored in checkpoints."""
    return key.endswith(("rotary_emb.inv_freq", "attention.bias", "attention.masked_bias", "position_ids"))


# ---------------------------------------------------------------------------------------------------------------
# Gating heads (QRM, LDL-Reward) and the InternLM2 reward model: each has its own loader (``_LOADERS``).


class _HeadBase:
    """A base transformer and a head computed in float32 from pooled hidden states (the families here compute
    their heads in float32 whatever the base's dtype)."""

    gate_pattern: tuple[int, ...] | None = None
    """Token ids whose last occurrence (its first token) is where the gating network reads (QRM)."""

    reward_token_id: int | None = None
    """A token appended to every input when it does not already end with it (InternLM2)."""

    def __init__(self, base, modules: dict, config, adapter: Adapter):
        self.base = base
        self.modules = modules
        self.config = config
        self.adapter = adapter

    def to(self, device):
        self.base.to(device)
        for module in self.modules.values():
            module.to(device)
        return self

    def eval(self):
        self.base.eval()
        for module in self.modules.values():
            module.eval()
        return self

    def parameters(self):
        yield from self.base.parameters()
        for module in self.modules.values():
            yield from module.parameters()

    def hidden(self, **inputs):
        return self.base(**inputs, use_cache=False).last_hidden_state


def _mlp(state: dict, prefix: str, activation, where: str, *, batchnorm: bool = False):
    """A stack of ``Linear`` layers read from ``<prefix><i>.weight`` (+ ``bias``), ``activation`` after every
    layer but the last; with ``batchnorm`` a BatchNorm1d (``<prefix><i>.running_mean`` ...) follows each
    activation at the index the tensors give. Returns the module and the tensor names it used."""
    import torch

    names = {k[len(prefix) :]: v for k, v in state.items() if k.startswith(prefix)}
    if not names:
        raise ModelError(f"{where}: head tensors {prefix}* missing from the checkpoint")
    linear_idx = sorted(
        int(m.group(1))
        for n in names
        if (m := re.match(r"(\d+)\.weight$", n)) and f"{m.group(1)}.running_mean" not in names
    )
    norm_idx = sorted(int(m.group(1)) for n in names if (m := re.match(r"(\d+)\.running_mean$", n)))
    if not linear_idx:
        raise ModelError(f"{where}: cannot read a head from tensors {sorted(prefix + n for n in names)}")
    if norm_idx and not batchnorm:
        raise ModelError(f"{where}: unexpected normalisation tensors under {prefix}")
    modules: list[Any] = []
    used: set[str] = set()
    for pos, i in enumerate(linear_idx):
        w = names[f"{i}.weight"]
        has_bias = f"{i}.bias" in names
        layer = torch.nn.Linear(w.shape[1], w.shape[0], bias=has_bias)
        layer.load_state_dict({"weight": w, **({"bias": names[f"{i}.bias"]} if has_bias else {})})
        used |= {f"{i}.weight"} | ({f"{i}.bias"} if has_bias else set())
        modules.append(layer)
        if pos == len(linear_idx) - 1:
            break
        modules.append(activation())
        follow = [j for j in norm_idx if i < j < linear_idx[pos + 1]]
        for j in follow:
            bn = torch.nn.BatchNorm1d(names[f"{j}.running_mean"].shape[0])
            keys = ("weight", "bias", "running_mean", "running_var", "num_batches_tracked")
            missing = [k for k in keys if f"{j}.{k}" not in names]
            if missing:
                raise ModelError(f"{where}: {', '.join(f'{prefix}{j}.{k}' for k in missing)} missing")
            bn.load_state_dict({k: names[f"{j}.{k}"] for k in keys})
            used |= {f"{j}.{k}" for k in keys}
            modules.append(bn)
    unknown = set(names) - used
    if unknown:
        raise ModelError(f"{where}: unexpected head tensors {sorted(prefix + n for n in unknown)}")
    return torch.nn.Sequential(*modules).float(), {prefix + n for n in used}


def _load_base(
    config, state: dict, prefix: str, dtype, where: str, adapter: Adapter, *, optional_prefix=False
):
    """``AutoModel.from_config`` filled from the checkpoint tensors under ``prefix`` (every tensor required)."""
    transformers = __import__("transformers")
    base = transformers.AutoModel.from_config(config, dtype=dtype)
    if optional_prefix and not any(k.startswith(prefix) for k in state):
        prefix = ""
    base_state = {k[len(prefix) :]: v for k, v in state.items() if k.startswith(prefix)}
    result = base.load_state_dict(base_state, strict=False)
    missing = [k for k in result.missing_keys if not _derived_buffer(k)]
    if missing:
        raise ModelError(
            f"{where}: {', '.join(prefix + k for k in missing[:8])} missing from the checkpoint: it is not the "
            f"{adapter.family} layout; set another `adapter:`"
        )
    if result.unexpected_keys:
        raise ModelError(
            f"{where}: unexpected tensors {', '.join(prefix + k for k in result.unexpected_keys[:8])}: not the "
            f"{adapter.family} layout"
        )
    return base, {prefix + k for k in base_state}


def _raw_config(local: Path) -> dict:
    import json

    return json.loads((local / "config.json").read_text(encoding="utf-8"))


def _leftover(state: dict, used: set[str], where: str, adapter: Adapter) -> None:
    rest = sorted(set(state) - used)
    if rest:
        raise ModelError(
            f"{where}: unexpected tensors {', '.join(rest[:8])}: not the {adapter.family} layout"
        )


QRM_GATE_PATTERN = (128009, 128006, 78191, 128007, 271)
"""``<|eot_id|><|start_header_id|>assistant<|end_header_id|>\\n\\n`` in the Llama-3 vocabulary: QRM's gating
network reads the hidden state at the first token of its last occurrence (the reference hard-codes the ids)."""


class QRMRewardModel(_HeadBase):
    """QRM (quantile regression + gating, rewardbench ``LlamaForRewardModelWithGating31``/``3``).

    The regression layer maps the pooled hidden state to ``num_objectives x num_quantiles`` quantiles; their mean
    per objective, times ``reward_transform_matrix``, weighted by the gating network's output at the last
    Llama-3 assistant header and summed, is the score. The gating network: (bias-free Linear, ReLU,
    BatchNorm1d) x n, Linear; softmax over objectives at temperature ``gating_temperature`` (10), times
    ``logit_scale``."""

    gate_pattern = QRM_GATE_PATTERN
    num_objectives: int
    num_quantiles: int
    temperature: float
    logit_scale: Any
    transform: Any

    def head(self, hidden, gate=None):
        import torch

        if gate is None:
            raise ModelError(f"adapter {self.adapter.name}: the gating position is needed")
        objectives, quantiles = self.num_objectives, self.num_quantiles
        rewards = self.modules["regression"](hidden.float()).reshape(-1, objectives, quantiles)
        weights = torch.softmax(self.modules["gating"](gate.float()) / self.temperature, dim=1)
        weights = weights * self.logit_scale.to(weights.device)[0]
        expected = rewards.mean(dim=2) @ self.transform.to(rewards.device)
        return (weights * expected).sum(dim=1, keepdim=True)


def _load_qrm(adapter: Adapter, path: str, name: str, dtype, attn_implementation: str | None):
    config = load_config(path)
    if attn_implementation:
        config._attn_implementation = attn_implementation
    where = f"model {name!r} ({path}, adapter {adapter.name})"
    state = load_state_dict(Path(path).expanduser())
    base, used = _load_base(config, state, adapter.base_prefix, dtype, where, adapter)
    import torch

    gating, gating_used = _mlp(state, "gating.layers.", torch.nn.ReLU, where, batchnorm=True)
    regression, _ = _head_module(state, ("regression_layer.",), None, where)
    regression = regression.float()
    regression_used = {k for k in state if k.startswith("regression_layer.")}
    for key in ("gating.logit_scale", "reward_transform_matrix"):
        if key not in state:
            raise ModelError(f"{where}: {key} missing from the checkpoint")
    _leftover(
        state,
        used | gating_used | regression_used | {"gating.logit_scale", "reward_transform_matrix"},
        where,
        adapter,
    )
    model = QRMRewardModel(base, {"gating": gating, "regression": regression}, config, adapter)
    raw = _raw_config(Path(path).expanduser())
    if "num_quantiles" not in raw:
        raise ModelError(f"{where}: config.json has no num_quantiles (the QRM config has one)")
    model.num_objectives = int(raw.get("num_objectives", 19))
    model.num_quantiles = int(raw["num_quantiles"])
    model.temperature = float(raw.get("gating_temperature", 10))
    model.logit_scale = state["gating.logit_scale"].float()
    model.transform = state["reward_transform_matrix"].float()
    out_rows = regression.weight.shape[0]
    if out_rows != model.num_objectives * model.num_quantiles:
        raise ModelError(
            f"{where}: regression_layer.weight has {out_rows} rows, config says num_objectives x num_quantiles = "
            f"{model.num_objectives} x {model.num_quantiles}"
        )
    if tuple(model.transform.shape) != (model.num_objectives,) * 2:
        raise ModelError(f"{where}: reward_transform_matrix has shape {list(model.transform.shape)}")
    return model


class LDLRewardModel(_HeadBase):
    """LDL-Reward (label-distribution learning, rewardbench ``LDLRewardModel27B``).

    The regression MLP (Linear + LeakyReLU stack) gives ``num_objectives / 10`` distributions over 10 bins
    (softmax per objective); the gating MLP gives the objectives' weights (softmax at ``temperature`` when the
    config sets ``softmax``); the weighted distribution's expectation over the bins 0, 1/9, ..., 1 is the
    score."""

    bins = 10
    softmax: bool
    temperature: float

    def head(self, hidden, gate=None):
        import torch

        x = hidden.float()
        dist = torch.softmax(self.modules["regression"](x).view(x.shape[0], -1, self.bins), dim=-1)
        weights = self.modules["gating"](x)
        if self.softmax:
            weights = torch.softmax(weights / self.temperature, dim=1)
        total = torch.bmm(weights.unsqueeze(1), dist).squeeze(1)
        levels = torch.linspace(0, 1, total.shape[-1], device=total.device)
        return (total * levels).sum(-1, keepdim=True)


def _load_ldl(adapter: Adapter, path: str, name: str, dtype, attn_implementation: str | None):
    import torch

    config = load_config(path)
    if attn_implementation:
        config._attn_implementation = attn_implementation
    where = f"model {name!r} ({path}, adapter {adapter.name})"
    local = Path(path).expanduser()
    state = load_state_dict(local)
    base, used = _load_base(config, state, adapter.base_prefix, dtype, where, adapter, optional_prefix=True)
    _leftover(state, used, where, adapter)
    modules = {}
    for key, file in (("regression", "regression_layer.pt"), ("gating", "gating_layer.pt")):
        if not (local / file).is_file():
            raise ModelError(f"{where}: {file} missing (the {adapter.family} head)")
        try:
            head_state = torch.load(str(local / file), map_location="cpu", weights_only=True)
        except Exception as exc:
            raise ModelError(f"{where}: cannot read {local / file}: {exc}") from None
        modules[key], _ = _mlp(head_state, "network.", torch.nn.LeakyReLU, f"{where}, {file}")
    model = LDLRewardModel(base, modules, config, adapter)
    # the head settings from config.json itself: transformers 5 moves `temperature` (a generation parameter) out
    # of the model config
    raw = _raw_config(local)
    objectives = int(raw.get("num_objectives", 220))
    rows = modules["regression"][-1].weight.shape[0]
    gates = modules["gating"][-1].weight.shape[0]
    if rows != objectives or gates != objectives // LDLRewardModel.bins:
        raise ModelError(
            f"{where}: the head gives {rows} regression outputs and {gates} gates; num_objectives = {objectives} "
            f"needs {objectives} and {objectives // LDLRewardModel.bins}"
        )
    model.softmax = bool(raw.get("softmax", False))
    model.temperature = float(raw.get("temperature", 1.0))
    return model


class InternLM2RewardModel(_HeadBase):
    """InternLM2 reward (``InternLM2ForRewardModel``, remote code on the hub): the InternLM2 decoder, which is the
    Llama architecture with a fused ``wqkv`` projection and other tensor names, run as transformers'
    ``LlamaModel`` on converted weights; a bias-free ``v_head`` at the last attended token (the reward token
    the input rule appends)."""

    def head(self, hidden, gate=None):
        layer = self.modules["v_head"]
        return layer(hidden.to(layer.weight.dtype)).float()


def internlm2_llama_config(data: dict):
    """A transformers ``LlamaConfig`` equal to an InternLM2 ``config.json`` (InternLM2's ``bias`` applies to the
    attention projections only; ``rope_scaling`` ``dynamic``/``linear`` as Llama's)."""
    transformers = __import__("transformers")
    heads = int(data["num_attention_heads"])
    rope = {"rope_type": "default", "rope_theta": float(data.get("rope_theta", 10000.0))}
    scaling = data.get("rope_scaling")
    if scaling:
        kind = scaling.get("type", scaling.get("rope_type"))
        if kind not in ("dynamic", "linear"):
            raise ModelError(f"InternLM2 rope_scaling type {kind!r} is not supported (dynamic, linear)")
        rope.update(rope_type=kind, factor=float(scaling["factor"]))
    return transformers.LlamaConfig(
        vocab_size=data["vocab_size"],
        hidden_size=data["hidden_size"],
        intermediate_size=data["intermediate_size"],
        num_hidden_layers=data["num_hidden_layers"],
        num_attention_heads=heads,
        num_key_value_heads=data.get("num_key_value_heads") or heads,
        head_dim=data["hidden_size"] // heads,
        hidden_act=data.get("hidden_act", "silu"),
        max_position_embeddings=data.get("max_position_embeddings", 2048),
        rms_norm_eps=data.get("rms_norm_eps", 1e-6),
        rope_parameters=rope,
        attention_bias=bool(data.get("bias", True)),  # InternLM2Config's default
        mlp_bias=False,
        pad_token_id=data.get("pad_token_id"),
        bos_token_id=data.get("bos_token_id"),
        eos_token_id=data.get("eos_token_id"),
        tie_word_embeddings=False,
    )


_INTERNLM2_NAMES = (
    (re.compile(r"model\.tok_embeddings\.(.*)"), "embed_tokens.{}"),
    (re.compile(r"model\.norm\.(.*)"), "norm.{}"),
    (re.compile(r"model\.layers\.(\d+)\.attention\.wo\.(.*)"), "layers.{}.self_attn.o_proj.{}"),
    (re.compile(r"model\.layers\.(\d+)\.feed_forward\.w1\.(.*)"), "layers.{}.mlp.gate_proj.{}"),
    (re.compile(r"model\.layers\.(\d+)\.feed_forward\.w3\.(.*)"), "layers.{}.mlp.up_proj.{}"),
    (re.compile(r"model\.layers\.(\d+)\.feed_forward\.w2\.(.*)"), "layers.{}.mlp.down_proj.{}"),
    (re.compile(r"model\.layers\.(\d+)\.attention_norm\.(.*)"), "layers.{}.input_layernorm.{}"),
    (re.compile(r"model\.layers\.(\d+)\.ffn_norm\.(.*)"), "layers.{}.post_attention_layernorm.{}"),
)


def internlm2_to_llama(state: dict, config, where: str) -> dict:
    """InternLM2 decoder tensors (``model.*``) renamed to ``LlamaModel``'s, the fused ``wqkv`` split.

    ``wqkv``'s output rows are grouped per key/value head: for each of the ``num_key_value_heads`` groups, the
    group's ``num_attention_heads / num_key_value_heads`` query heads, then one key head, then one value head,
    ``head_dim`` rows each."""
    kv, heads, dim = config.num_key_value_heads, config.num_attention_heads, config.head_dim
    group = heads // kv
    out: dict = {}
    for key, value in state.items():
        m = re.match(r"model\.layers\.(\d+)\.attention\.wqkv\.(weight|bias)$", key)
        if m:
            layer, kind = m.groups()
            rows = value.reshape(kv, group + 2, dim, *value.shape[1:])
            if rows.shape[0] * rows.shape[1] * dim != value.shape[0]:
                raise ModelError(
                    f"{where}: {key} has {value.shape[0]} rows, not (heads + 2 x kv heads) x head_dim"
                )
            for proj, part in (
                ("q_proj", rows[:, :group]),
                ("k_proj", rows[:, group]),
                ("v_proj", rows[:, group + 1]),
            ):
                out[f"layers.{layer}.self_attn.{proj}.{kind}"] = part.reshape(
                    -1, *value.shape[1:]
                ).contiguous()
            continue
        for pattern, target in _INTERNLM2_NAMES:
            m = pattern.fullmatch(key)
            if m:
                out[target.format(*m.groups())] = value
                break
        else:
            if key != "v_head.weight":
                raise ModelError(f"{where}: unexpected tensor {key}: not the InternLM2 reward layout")
    return out


def _load_internlm2(adapter: Adapter, path: str, name: str, dtype, attn_implementation: str | None):
    import json

    import torch

    transformers = __import__("transformers")
    local = Path(path).expanduser()
    where = f"model {name!r} ({path}, adapter {adapter.name})"
    file = local / "config.json"
    if not file.is_file():
        raise ModelError(f"{path}: no config.json (native adapters need a local checkpoint directory)")
    data = json.loads(file.read_text(encoding="utf-8"))
    if data.get("reward_token_id") is None:
        raise ModelError(f"{file}: no reward_token_id (the InternLM2 reward model's config has one)")
    try:
        config = internlm2_llama_config(data)
    except KeyError as exc:
        raise ModelError(f"{file}: InternLM2 config lacks {exc}") from None
    if attn_implementation:
        config._attn_implementation = attn_implementation
    state = load_state_dict(local)
    if "v_head.weight" not in state:
        raise ModelError(f"{where}: v_head.weight missing from the checkpoint")
    converted = internlm2_to_llama(state, config, where)
    base = transformers.LlamaModel(config).to(dtype)
    result = base.load_state_dict(converted, strict=False)
    missing = [k for k in result.missing_keys if not _derived_buffer(k)]
    if missing or result.unexpected_keys:
        raise ModelError(
            f"{where}: the InternLM2 tensors do not fill the decoder (missing {missing[:8]}, unexpected "
            f"{result.unexpected_keys[:8]})"
        )
    w = state["v_head.weight"]
    v_head = torch.nn.Linear(w.shape[1], w.shape[0], bias=False)
    v_head.load_state_dict({"weight": w})
    if w.shape[0] != 1:
        raise ModelError(f"{where}: v_head.weight has {w.shape[0]} rows, not 1")
    model = InternLM2RewardModel(base, {"v_head": v_head.to(dtype)}, config, adapter)
    model.reward_token_id = int(data["reward_token_id"])
    return model


_LOADERS = {"qrm-gating": _load_qrm, "ldl-gating": _load_ldl, "internlm2-reward": _load_internlm2}
"""Heads with their own loader (the others: :func:`load_native`'s generic one)."""
