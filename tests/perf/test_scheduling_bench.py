"""perf/scheduling.py: its modelled worker is the real scoring worker with a modelled scorer, so the
driver's calls into it cannot drift from what the benchmark measures."""

from __future__ import annotations

import importlib.util
import inspect

import pytest

from tests.conftest import REPO

SCRIPT = REPO / "perf" / "scheduling.py"


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("perf_scheduling", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_modelled_worker_keeps_the_real_workers_interface(bench):
    from orchestrator.runtime.worker import ScoringWorker

    own = {
        name
        for name, value in vars(bench.ModelledWorker).items()
        if callable(value) and not name.startswith("__")
    }
    assert own == {"load"}, f"ModelledWorker overrides {sorted(own)}: only load may be modelled"
    assert "score" not in vars(bench.ModelledWorker) and "__init__" not in vars(bench.ModelledWorker)
    for name in ("__init__", "load", "score"):
        assert _signature(getattr(bench.ModelledWorker, name)) == _signature(getattr(ScoringWorker, name)), (
            name
        )


def _signature(method) -> inspect.Signature:
    """A method's signature without the ``_ray_trace_ctx`` keyword that ``ray.remote`` adds to an actor class's
    methods in place (so a session that ran the driver sees it on ``ScoringWorker``)."""
    sig = inspect.signature(method)
    return sig.replace(parameters=[p for p in sig.parameters.values() if p.name != "_ray_trace_ctx"])


def test_modelled_worker_scores_through_the_real_score(bench, filtered_path, tiny_models, monkeypatch):
    """The real ``score`` (with the driver's ``row_errors`` keyword) over real v1 rows gives real records:
    scores are the texts' lengths, the cost a sleep of parameters x tokens x rate / TP."""
    from orchestrator.config import BenchmarkSpec, model_spec
    from orchestrator.data import load_examples
    from orchestrator.results.records import SCHEMA_VERSION
    from orchestrator.runtime.worker import shard_stats
    from orchestrator.scoring._protocol import Scorer

    monkeypatch.setenv("RAYWARD_BENCH_RATE", "1e-15")
    examples = load_examples(BenchmarkSpec(name="reward-bench", source=str(filtered_path), limit=2)).table
    spec = model_spec(
        name="m", path=str(tiny_models["tiny-rm"]), num_parameters=7_000_000_000, tensor_parallel_size=2
    )
    worker = bench.ModelledWorker(spec.model_dump(), False, 1)
    info = worker.load()
    assert isinstance(worker.scorer, Scorer)  # the contract the real worker checks of every scorer
    assert info.num_parameters == 7_000_000_000 and info.fingerprint == "modelled"
    table = worker.score(
        examples,
        0,
        10,
        run_id="r1",
        benchmark="reward-bench",
        shard=3,
        row_errors=(0, examples.num_rows, 0.0),
    )
    rows = table.to_pylist()
    want = examples.slice(0, 10).to_pylist()
    assert len(rows) == 10
    assert [r["row_index"] for r in rows] == [w["row_index"] for w in want]
    assert [r["score_chosen"] for r in rows] == [float(len(w["chosen"])) for w in want]
    assert [r["score_rejected"] for r in rows] == [float(len(w["rejected"])) for w in want]
    assert [r["correct"] for r in rows] == [len(w["chosen"]) > len(w["rejected"]) for w in want]
    assert {r["scorer"] for r in rows} == {"modelled"} and {r["shard"] for r in rows} == {3}
    assert {r["schema_version"] for r in rows} == {SCHEMA_VERSION}
    assert shard_stats(table) == {"oom_retries": 0, "batch_tokens": None}
