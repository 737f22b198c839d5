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
    path: models/a
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
    assert job.resources.gpus_per_actor == 1
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
    text = GOOD.replace("name: reward-bench", "name: reward-bench-9").replace("path: models/a", "path: m\n    kind: magic")
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
        JobConfig.from_dict({"name": "t", "benchmarks": [{}], "models": [{"name": "a", "path": "p"}, {"name": "a", "path": "q"}]})


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

    ok = BenchmarkSpec(name="custom", source="x.jsonl", label="mine", columns={"prompt": "q", "chosen": "a", "rejected": "b"})
    assert ok.record_name == "mine" and ok.columns.subset is None
    assert BenchmarkSpec(name="reward-bench-2").record_name == "reward-bench-2"
    base = {"name": "j", "models": [{"name": "m", "path": "p"}]}
    for bench, message in [
        ({"name": "reward-bench", "columns": {"prompt": "q"}}, "benchmarks[0]: columns: only for custom benchmarks"),
        ({"name": "custom"}, "benchmarks[0]: source: a custom benchmark needs a source"),
        ({"name": "custom", "source": "x", "columns": {"promt": "q"}}, "benchmarks[0].columns.promt: unknown key"),
        ({"name": "custom", "source": "x", "label": "reward-bench"}, "is a built-in benchmark's name"),
    ]:
        with pytest.raises(ConfigError, match=message.replace("[", r"\[").replace("]", r"\]")):
            JobConfig.from_dict({**base, "benchmarks": [bench]})
    with pytest.raises(ConfigError, match="benchmark 'reward-bench' appears twice"):
        JobConfig.from_dict({**base, "benchmarks": [{"name": "reward-bench"}, {"name": "reward-bench", "subset_from_split": True}]})
