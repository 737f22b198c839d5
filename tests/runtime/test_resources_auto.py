"""``resources: auto`` (the default): GPU actors on a GPU cluster, whole-node CPU actors elsewhere."""

import json
import os

import pytest
import yaml

from orchestrator.config import JobConfig, Resources
from orchestrator.runtime.cluster import guess_resources, local_gpu_count
from orchestrator.runtime.resources import actor_options, torch_threads
from orchestrator.runtime.scheduling import model_job, replica_width
from tests.cli.test_cli import _rayward


def test_auto_resolves_against_the_cluster():
    auto = Resources()
    assert not auto.resolved
    with pytest.raises(ValueError, match="resolve it against the cluster"):
        _ = auto.gpus
    gpu = auto.resolve(cluster_gpus=8, node_cpus=64)
    assert (gpu.gpus, gpu.cpus) == (1.0, 1.0)
    cpu = auto.resolve(cluster_gpus=0, node_cpus=16)
    assert (cpu.gpus, cpu.cpus) == (0.0, 16.0)
    # what is written stays: explicit sizes are never replaced, a half-auto entry fills the other half
    assert Resources(gpus_per_actor=2, cpus_per_actor=4).resolve(0, 16).gpus == 2
    assert Resources(gpus_per_actor=0).resolve(8, 16).cpus == 16
    assert Resources(gpus_per_actor=1).cpus == 1  # GPU actors hold one CPU unless told otherwise
    # a CPU actor holding a whole 8-slot local node runs as many threads as there are cores, at most
    assert torch_threads(Resources(gpus_per_actor=0, cpus_per_actor=8)) == min(8, os.cpu_count())
    assert actor_options(cpu)["num_cpus"] == 16 and actor_options(cpu)["num_gpus"] == 0
    # one model's replica takes the node: models take turns instead of splitting the cores
    spec = JobConfig.from_dict(
        {"name": "j", "benchmarks": [{}], "models": [{"name": "m", "path": "p"}]}
    ).models[0]
    assert replica_width(cpu, spec) == 16 and model_job(spec, cpu, 1.0, capacity=16).width == 16


def test_guess_before_the_cluster_is_up(monkeypatch):
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "0,1")
    assert local_gpu_count() == 2 and guess_resources(Resources()).gpus == 1
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")
    assert local_gpu_count() == 0 and guess_resources(Resources()).cpus == float(os.cpu_count())


@pytest.mark.slow
def test_minimal_job_runs_on_a_cpu_machine(tmp_path, filtered_path, tiny_models):
    """A job with only benchmarks and models (no `resources:`) runs here, on CPU actors using every core."""
    job = tmp_path / "minimal.yaml"
    job.write_text(
        yaml.safe_dump(
            {
                "name": "minimal",
                "benchmarks": [{"name": "reward-bench", "source": str(filtered_path), "limit": 3}],
                "models": [{"name": "tiny-rm", "path": str(tiny_models["tiny-rm"])}],
            }
        )
    )
    out = _rayward("run", str(job), "--results", str(tmp_path / "r"))
    assert out.returncode == 0, out.stderr
    (manifest,) = [json.loads(p.read_text()) for p in (tmp_path / "r" / "runs").glob("*.json")]
    assert manifest["config"]["resources"]["gpus_per_actor"] == "auto"  # the job as written, for --resume
    (outcome,) = manifest["models"]
    assert outcome["status"] == "ok" and outcome["device"] == "cpu" and outcome["n_records"] == 3 * 23
    assert manifest["schedule"]["resource"] == "CPU"
    (entry,) = manifest["schedule"]["models"]
    assert entry["slots"] == manifest["schedule"]["capacity"]  # the whole node
