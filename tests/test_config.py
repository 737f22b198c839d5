from pathlib import Path

import pytest

from orchestrator.config import JobConfig, from_yaml
from orchestrator.errors import ConfigError

GOOD = """
name: t
benchmarks:
  - name: reward-bench
    source: data.parquet
models:
  - name: a
    path: org/model-a
"""


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "job.yaml"
    path.write_text(text)
    return path


def test_minimal_job_defaults(tmp_path):
    job = from_yaml(_write(tmp_path, GOOD))
    assert job.models[0].kind == "classifier"
    assert job.models[0].max_length == 2048
    assert job.models[0].truncation_side == "left"
    assert job.models[0].trust_remote_code is False
    assert job.resources.gpus_per_actor == "auto" and job.resources.cpus_per_actor == "auto"
    assert job.results == "results"


def test_unknown_key_names_key_path(tmp_path):
    text = GOOD + "    batch_sise: 3\n"
    with pytest.raises(ConfigError) as err:
        from_yaml(_write(tmp_path, text))
    assert "models[0].batch_sise: unknown key" in str(err.value)
    assert "job.yaml" in str(err.value)
    assert err.value.exit_code == 2


def test_wrong_type_and_missing_key(tmp_path):
    text = """
name: t
benchmarks: [{name: reward-bench}]
models:
  - name: a
    path: p
    max_length: lots
  - path: q
"""
    with pytest.raises(ConfigError) as err:
        from_yaml(_write(tmp_path, text))
    msg = str(err.value)
    assert "models[0].max_length:" in msg
    assert "models[1].name: required key is missing" in msg


def test_unknown_benchmark_and_kind(tmp_path):
    text = GOOD.replace("name: reward-bench", "name: reward-bench-9").replace(
        "path: org/model-a", "path: m\n    kind: magic"
    )
    with pytest.raises(ConfigError) as err:
        from_yaml(_write(tmp_path, text))
    assert "benchmarks[0].name" in str(err.value)
    assert "models[0].kind" in str(err.value)


def test_yaml_syntax_error_has_line(tmp_path):
    with pytest.raises(ConfigError) as err:
        from_yaml(_write(tmp_path, "name: [unclosed\n"))
    assert "job.yaml:" in str(err.value) and "invalid YAML" in str(err.value)


def test_missing_file():
    with pytest.raises(ConfigError, match="job file not found"):
        from_yaml("nope/never.yaml")


@pytest.mark.parametrize("name", ["../escape", "a/../../b", "/abs", ".hidden", "a//b", ""])
def test_unsafe_model_names_rejected(name):
    with pytest.raises(ConfigError, match="invalid model name"):
        JobConfig.from_dict({"name": "t", "benchmarks": [{}], "models": [{"name": name, "path": "p"}]})


def test_duplicate_model_names():
    with pytest.raises(ConfigError, match="duplicate model name 'a'"):
        JobConfig.from_dict(
            {
                "name": "t",
                "benchmarks": [{}],
                "models": [{"name": "a", "path": "p"}, {"name": "a", "path": "q"}],
            }
        )


def test_shipped_jobs_validate():
    root = Path(__file__).resolve().parents[1]
    for job in sorted((root / "jobs").glob("*.yaml")):
        assert from_yaml(job).models


def test_demo_job_matches_packaged_copy():
    root = Path(__file__).resolve().parents[1]
    packaged = root / "orchestrator" / "demo.yaml"
    assert (root / "jobs" / "demo.yaml").read_text() == packaged.read_text()


def test_benchmark_spec_rules():
    from orchestrator.config import BenchmarkSpec
    from orchestrator.errors import ConfigError

    ok = BenchmarkSpec(
        name="custom", source="x.jsonl", label="mine", columns={"prompt": "q", "chosen": "a", "rejected": "b"}
    )
    assert ok.record_name == "mine" and ok.columns.subset is None
    assert BenchmarkSpec(name="reward-bench-2").record_name == "reward-bench-2"
    base = {"name": "j", "models": [{"name": "m", "path": "p"}]}
    for bench, message in [
        (
            {"name": "reward-bench", "columns": {"prompt": "q"}},
            "benchmarks[0]: columns: only for custom benchmarks",
        ),
        ({"name": "custom"}, "benchmarks[0]: source: a custom benchmark needs a source"),
        (
            {"name": "custom", "source": "x", "columns": {"promt": "q"}},
            "benchmarks[0].columns.promt: unknown key",
        ),
        ({"name": "custom", "source": "x", "label": "reward-bench"}, "is a built-in benchmark's name"),
    ]:
        with pytest.raises(ConfigError, match=message.replace("[", r"\[").replace("]", r"\]")):
            JobConfig.from_dict({**base, "benchmarks": [bench]})
    with pytest.raises(ConfigError, match="benchmark 'reward-bench' appears twice"):
        JobConfig.from_dict(
            {
                **base,
                "benchmarks": [{"name": "reward-bench"}, {"name": "reward-bench", "subset_from_split": True}],
            }
        )


# ---- kind: dpo


def _dpo_job(model: dict) -> dict:
    return {
        "name": "j",
        "benchmarks": [{"name": "reward-bench"}],
        "models": [{"name": "rm", "path": "p"}, model],
    }


@pytest.mark.parametrize(
    "model, message",
    [
        (
            {"name": "d", "path": "p", "kind": "dpo"},
            "models[1].reference: required for kind dpo unless ref_free_norm is set",
        ),
        (
            {"name": "d", "path": "p", "kind": "dpo", "reference": "r", "ref_free_norm": "avg"},
            "models[1].reference: set either `reference` or `ref_free_norm`",
        ),
        (
            {"name": "d", "path": "p", "kind": "dpo", "reference": "previous"},
            "models[1].reference: `previous` needs a chain of checkpoints in `iterations`",
        ),
        (
            {"name": "d", "path": "p", "kind": "dpo", "ref_free_norm": "mean"},
            "models[1].ref_free_norm: Input should be",
        ),
        (
            {"name": "d", "path": "p", "kind": "dpo", "reference": "r", "beta": 0},
            "models[1].beta: Input should be greater than 0",
        ),
        ({"name": "d", "path": "p", "beta": 0.1}, "models[1].beta: only for kind dpo, not 'classifier'"),
        (
            {"name": "d", "path": "p", "reference": "r"},
            "models[1].reference: only for kind dpo, not 'classifier'",
        ),
        (
            {"name": "d", "kind": "dpo", "iterations": ["m0"]},
            "models[1].iterations: List should have at least 2 items",
        ),
        (
            {"name": "d", "path": "p", "kind": "dpo", "iterations": ["m0", "m1"]},
            "models[1]: path: a chain takes its checkpoints",
        ),
        (
            {"name": "d", "kind": "dpo", "iterations": ["m0", "m1"], "ref_free_norm": "sum"},
            "models[1].reference: a chain (`iterations`) scores each checkpoint against the one before",
        ),
        (
            {"name": "d", "path": "p", "kind": "dpo", "reference": "r", "refrence": "r"},
            "models[1].refrence: unknown key",
        ),
    ],
)
def test_dpo_config_errors_name_the_key(model, message):
    with pytest.raises(ConfigError) as err:
        JobConfig.from_dict(_dpo_job(model), source="job.yaml")
    assert f"job.yaml: {message}" in str(err.value)


def test_dpo_spin_chain_expands_into_iterations():
    job = JobConfig.from_dict(
        _dpo_job({"name": "spin", "kind": "dpo", "iterations": ["m0", "m1", "m2", "m3"], "beta": 0.1})
    )
    chain = job.models[1:]
    assert [(m.name, m.path, m.reference, m.iteration) for m in chain] == [
        ("spin@1", "m1", "m0", 1),
        ("spin@2", "m2", "m1", 2),
        ("spin@3", "m3", "m2", 3),
    ]
    assert all(m.kind == "dpo" and m.beta == 0.1 and m.iterations is None for m in chain)
    assert job.models[0].name == "rm" and not hasattr(job.models[0], "beta")  # dpo settings are dpo-only
    # `reference: previous` is the same chain; a fixed reference scores every iteration against it
    prev = JobConfig.from_dict(
        _dpo_job({"name": "spin", "kind": "dpo", "iterations": ["m0", "m1", "m2"], "reference": "previous"})
    )
    assert [m.reference for m in prev.models[1:]] == ["m0", "m1"]
    fixed = JobConfig.from_dict(
        _dpo_job({"name": "spin", "kind": "dpo", "iterations": ["m0", "m1", "m2"], "reference": "base"})
    )
    assert [(m.path, m.reference) for m in fixed.models[1:]] == [("m1", "base"), ("m2", "base")]
    # the expanded job (as a run manifest stores it) validates to itself
    assert JobConfig.from_dict(job.model_dump(mode="json")) == job
    with pytest.raises(ConfigError, match="duplicate model name 'spin@1'"):
        JobConfig.from_dict(
            {
                **_dpo_job({"name": "spin", "kind": "dpo", "iterations": ["m0", "m1"]}),
                "models": [
                    {"name": "spin@1", "path": "p"},
                    {"name": "spin", "kind": "dpo", "iterations": ["m0", "m1"]},
                ],
            }
        )


def test_dpo_reference_free_spec():
    job = JobConfig.from_dict(_dpo_job({"name": "d", "path": "p", "kind": "dpo", "ref_free_norm": "norm"}))
    assert (
        job.models[1].reference is None
        and job.models[1].ref_free_norm == "norm"
        and job.models[1].beta == 1.0
    )
