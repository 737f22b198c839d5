"""Bad input files end in clear errors naming the file and line, never a traceback or a silent default."""

from __future__ import annotations

import json
import logging
import math

import pyarrow.parquet as pq
import pytest

from orchestrator.config import BenchmarkSpec, from_yaml
from orchestrator.data import load_examples
from orchestrator.errors import ConfigError, DataError
from orchestrator.query.db import connect
from orchestrator.results.interop import import_reference_scores, read_reference_scores
from tests.results.test_interop import score_file

JOB = """\
name: j
benchmarks:
  - name: reward-bench
    source: {source}
{extra}models:
  - name: m
    path: {path}
"""


def _job(tmp_path, source="data.parquet", extra="", path="org/model", raw: bytes | None = None):
    f = tmp_path / "job.yaml"
    if raw is not None:
        f.write_bytes(raw)
    else:
        f.write_text(JOB.format(source=source, extra=extra, path=path))
    return f


def test_non_utf8_job_file_names_line_and_column(tmp_path):
    text = JOB.format(source="caf\xe9.parquet", extra="", path="org/m").encode("latin-1")
    with pytest.raises(ConfigError, match=r"job\.yaml:4:16: the job file is not UTF-8 text \(byte 0xe9\)"):
        from_yaml(_job(tmp_path, raw=text))


def test_duplicate_yaml_keys_are_errors(tmp_path):
    f = _job(tmp_path, extra="    limit: 3\n    limit: 5\n")
    with pytest.raises(ConfigError, match=r"job\.yaml:6: duplicate key 'limit' \(first at line 5\)"):
        from_yaml(f)


def test_empty_subsets_and_boolean_limit_name_their_line(tmp_path):
    with pytest.raises(
        ConfigError, match=r"job\.yaml:5: benchmarks\[0\]\.subsets: List should have at least 1"
    ):
        from_yaml(_job(tmp_path, extra="    subsets: []\n"))
    with pytest.raises(
        ConfigError, match=r"job\.yaml:5: benchmarks\[0\]\.limit: Input should be a valid integer"
    ):
        from_yaml(_job(tmp_path, extra="    limit: true\n"))
    assert from_yaml(_job(tmp_path, extra="    limit: 3\n")).benchmarks[0].limit == 3


def test_missing_relative_model_path_is_not_a_hub_id(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "models").mkdir()
    with pytest.raises(
        ConfigError, match=r"job\.yaml:7: models\[0\]\.path: local model directory 'models/tiny-rm' not"
    ):
        from_yaml(_job(tmp_path, path="models/tiny-rm"))
    with pytest.raises(ConfigError, match="'./rm' not found"):
        from_yaml(_job(tmp_path, path="./rm"))
    assert from_yaml(_job(tmp_path, path="OpenAssistant/reward-model")).models[0].path  # a hub id stays one


def test_non_utf8_jsonl_and_lines_that_are_not_objects(tmp_path):
    f = tmp_path / "d.jsonl"
    f.write_bytes(b'{"prompt": "a", "chosen": "b", "rejected": "c"}\n{"prompt": "\xff"}\n')
    with pytest.raises(DataError, match=r"d\.jsonl:2:13: benchmark data is not UTF-8 text \(byte 0xff\)"):
        load_examples(BenchmarkSpec(name="custom", source=str(f)))
    f.write_text('{"prompt": "a", "chosen": "b", "rejected": "c"}\n["a", "b", "c"]\n')
    with pytest.raises(DataError, match=r"d\.jsonl:2: a JSON line must be an object of columns, got a list"):
        load_examples(BenchmarkSpec(name="custom", source=str(f)))


def test_non_utf8_import_file(tmp_path):
    f = tmp_path / "scores.json"
    f.write_bytes(b'{"id": [1], "subset": ["caf\xe9"]}')
    with pytest.raises(DataError, match=r"scores\.json:1:28: the score file is not UTF-8"):
        read_reference_scores(f)


def _rows(n_dup: int) -> list[dict]:
    rows = [{"prompt": f"p{i}", "chosen": "c", "rejected": "r", "id": i, "topic": "t"} for i in range(6)]
    for j in range(n_dup):
        rows[j + 1]["id"] = 0
    return rows


def test_duplicate_example_keys_are_errors_or_row_keyed_with_a_warning(tmp_path, caplog):
    f = tmp_path / "d.jsonl"
    f.write_text("\n".join(json.dumps(r) for r in _rows(2)) + "\n")
    cols = {"subset": "topic", "id": "id"}
    with pytest.raises(DataError, match=r"2 duplicate example key\(s\).*subset 't' id 0 at rows 0 and 1"):
        load_examples(BenchmarkSpec(name="custom", source=str(f), columns=cols))
    with caplog.at_level(logging.WARNING, logger="orchestrator.data"):
        ex = load_examples(
            BenchmarkSpec(name="custom", source=str(f), columns=cols, duplicate_ids="row_position")
        )
    assert ex.table.column("id").to_pylist() == list(range(6))
    assert "keyed by its row position instead of its id" in caplog.text


def test_imported_nan_scores_are_error_records(tmp_path, filtered_path):
    examples = load_examples(BenchmarkSpec(source=str(filtered_path)))
    f = tmp_path / "s.json"
    score_file(filtered_path, f)
    data = json.loads(f.read_text())
    data["scores_chosen"][3] = [math.nan]
    f.write_text(json.dumps(data))  # Python writes NaN, as the reference's json.dump does
    res = import_reference_scores(f, examples, results=tmp_path / "r", model="m")
    assert res.status == "ok" and res.non_finite == 1  # 1 of 2985 rows is within max_error_rate 0.01
    row = connect(tmp_path / "r").sql("SELECT error, correct FROM records WHERE error IS NOT NULL").fetchall()
    assert row == [("NonFiniteScore: score_chosen is nan", False)]
    for i in range(40):
        data["scores_rejected"][i] = [math.inf]
    f.write_text(json.dumps(data))
    res = import_reference_scores(f, examples, results=tmp_path / "r2", model="m")
    assert res.status == "failed" and res.non_finite == 40
    assert "40 of 2985 rows of reward-bench failed (failures.max_error_rate 0.01 allows 29)" in res.error
    runs = connect(tmp_path / "r2").sql("SELECT status FROM run_models").fetchall()
    assert runs == [("failed",)]


def test_source_rows_stay_positional_for_real_data(filtered_path):
    """The real v1 data has unique (subset, id) keys: the duplicate check lets it through unchanged."""
    ex = load_examples(BenchmarkSpec(source=str(filtered_path)))
    assert ex.table.column("id").to_pylist() == pq.read_table(filtered_path).column("id").to_pylist()
