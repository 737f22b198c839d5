"""Safety: job files never run code, remote model code only when a model sets trust_remote_code, names never escape
the results root, SQL takes parameters."""

import ast
import json
import shutil
from pathlib import Path

import pytest

from orchestrator.config import JobConfig, from_yaml, model_spec
from orchestrator.errors import ConfigError
from orchestrator.query.db import connect, stored_query
from orchestrator.results.records import (
    manifest_path,
    read_manifests,
    record_files,
    write_manifest,
    write_shard,
)
from tests._synth import bools, write_run
from tests.results.test_records import _table

PACKAGE = Path(__file__).resolve().parents[1] / "orchestrator"


def test_job_file_yaml_tags_never_run_code(tmp_path):
    marker = tmp_path / "ran"
    job = tmp_path / "evil.yaml"
    job.write_text(
        f"name: !!python/object/apply:os.system ['touch {marker}']\nbenchmarks: [{{}}]\n"
        "models: [{name: m, path: p}]\n"
    )
    with pytest.raises(ConfigError, match="evil.yaml"):
        from_yaml(job)
    assert not marker.exists()


def _remote_code_model(root: Path, marker: Path, tiny: Path) -> Path:
    """A model directory whose config names its own Python code (auto_map) for a model type transformers lacks;
    importing that code creates ``marker``."""
    out = root / "remote-code-rm"
    shutil.copytree(tiny, out)
    (out / "configuration_evil.py").write_text(
        "from pathlib import Path\n"
        f"Path({str(marker)!r}).write_text('the model repository code ran')\n"
        "from transformers import LlamaConfig\n\n\n"
        "class EvilConfig(LlamaConfig):\n    model_type = 'rayward-evil'\n"
    )
    config = json.loads((out / "config.json").read_text())
    config.update(model_type="rayward-evil", auto_map={"AutoConfig": "configuration_evil.EvilConfig"})
    (out / "config.json").write_text(json.dumps(config))
    return out


def test_remote_code_runs_only_when_the_model_sets_trust_remote_code(tmp_path, tiny_models):
    from orchestrator.scoring.classifier import ClassifierScorer

    marker = tmp_path / "ran"
    path = _remote_code_model(tmp_path, marker, tiny_models["tiny-rm"])
    spec = model_spec(name="evil", path=str(path))
    assert spec.trust_remote_code is False
    with pytest.raises(Exception, match="trust_remote_code"):
        ClassifierScorer(spec)
    assert not marker.exists()
    try:
        ClassifierScorer(model_spec(name="evil", path=str(path), trust_remote_code=True))
    except Exception:
        pass  # the fake config need not make a working model; what matters is whether its code ran
    assert marker.read_text() == "the model repository code ran"


@pytest.mark.parametrize(
    "key, value, what",
    [
        ("models", [{"name": "../../x", "path": "p"}], "invalid model name"),
        ("name", "../x", "invalid job name"),
        ("benchmarks", [{"name": "custom", "source": "s.jsonl", "label": "../x"}], "invalid benchmark label"),
        (
            "benchmarks",
            [{"name": "custom", "source": "s.jsonl", "label": "a/../../x"}],
            "invalid benchmark label",
        ),
    ],
)
def test_job_names_that_would_escape_are_rejected(key, value, what):
    data = {
        "name": "n",
        "benchmarks": [{"name": "reward-bench"}],
        "models": [{"name": "m", "path": "p"}],
        key: value,
    }
    with pytest.raises(ConfigError, match=what):
        JobConfig.from_dict(data)


@pytest.mark.parametrize("bad", ["../../../outside", "a/../../..", "..%2F..", "/abs/path", "..\\..\\x"])
def test_no_name_escapes_the_results_root(tmp_path, bad):
    """Model, benchmark and run names reach the store (imports, manifests written by hand) unchecked by the job
    schema: each is one percent-encoded path component under the root."""
    root = tmp_path / "store" / "results"
    path = write_shard(root, _table(1, model=bad, run_id=bad), benchmark=bad, model=bad, run_id=bad, shard=0)
    assert root.resolve() in path.resolve().parents
    write_manifest(root, {"run_id": bad, "models": []})
    assert root.resolve() in Path(manifest_path(root, bad)).resolve().parents
    # the shard, its texts (examples/) and the manifest: all under the root
    assert (
        sorted(p.relative_to(tmp_path).parts[:2] for p in tmp_path.rglob("*") if p.is_file())
        == [
            ("store", "results"),
        ]
        * 3
    )
    assert record_files(root) == [path]
    assert [m["run_id"] for m in read_manifests(root)] == [bad]


def test_import_rejects_a_traversing_model_name(tmp_path, filtered_path):
    from tests.cli.test_cli import _rayward

    out = _rayward(
        "import",
        str(tmp_path / "scores.json"),
        "--model",
        "../../evil",
        "--source",
        str(filtered_path),
        "--results",
        str(tmp_path / "r"),
    )
    assert out.returncode == 2 and "invalid model name" in out.stderr
    assert not (tmp_path / "r").exists()


def _sql_calls(tree: ast.AST):
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in ("sql", "execute", "query")
        ):
            if node.args:
                yield node, node.args[0]


def test_sql_text_is_never_built_from_values():
    """No SQL call in the package gets an f-string, %-formatting, .format() or concatenation: values go in as
    $named parameters (the .sql files) or registered Arrow tables."""
    offenders = []
    for file in sorted(PACKAGE.rglob("*.py")):
        for node, arg in _sql_calls(ast.parse(file.read_text(encoding="utf-8"))):
            built = (
                isinstance(arg, ast.JoinedStr)
                or (isinstance(arg, ast.BinOp) and isinstance(arg.op, (ast.Mod, ast.Add)))
                or (
                    isinstance(arg, ast.Call)
                    and isinstance(arg.func, ast.Attribute)
                    and arg.func.attr == "format"
                )
            )
            if built:
                offenders.append(f"{file.relative_to(PACKAGE)}:{node.lineno}")
    assert offenders == []
    for sql in sorted((PACKAGE / "sql").rglob("*.sql")):
        assert "{" not in sql.read_text(encoding="utf-8").replace("{'", "").replace('{"', ""), sql


def test_hostile_strings_are_data_not_sql(tmp_path):
    """A subset and a model name full of SQL syntax go through the views and the parameters as plain values."""
    hostile = "x'); DROP TABLE run_models; --"
    root = tmp_path / "r"
    write_run(root, "20260101T000000000Z-aaaaaa", {"m": {"alpacaeval-easy": bools(3, 4)}})
    write_run(root, "20260101T000000000Z-bbbbbb", {"m2": {"alpacaeval-easy": bools(1, 4)}})
    con = connect(root)
    rows = stored_query(con, "model_runs", benchmark="reward-bench", model=hostile).to_pylist()
    assert rows == []
    assert con.sql("SELECT count(*) FROM run_models").fetchall() == [(2,)]  # still there
    rows = stored_query(con, "model_runs", benchmark="reward-bench", model="m").to_pylist()
    assert [r["run_id"] for r in rows] == ["20260101T000000000Z-aaaaaa"]
