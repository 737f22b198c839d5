"""Extension points: a new model kind and a new benchmark added without editing any module of the package."""

import csv
import json

import pytest

from orchestrator.benchmarks import benchmark_names, register_tables
from orchestrator.config import JobConfig, model_kinds
from orchestrator.errors import ConfigError
from orchestrator.query.db import connect, leaderboard_rows, run_query
from orchestrator.runtime.driver import run_job


def _toy_benchmark(root):
    """A pairwise benchmark as rows in data tables: two subsets, two sections weighted 1 and 3."""
    tables = root / "tables"
    tables.mkdir()
    with open(tables / "benchmarks.csv", "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["benchmark", "default_source", "default_split", "loader", "description"])
        w.writerow(["toy-bench", "", "train", "pairs", "A toy pairwise benchmark"])
    with open(tables / "subsets.csv", "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["benchmark", "subset", "section", "weight", "n_expected", "length_category", "rule"])
        w.writerow(["toy-bench", "short", "Brevity", "2", "2", "", "pairwise"])
        w.writerow(["toy-bench", "long", "Detail", "2", "2", "", "pairwise"])
    with open(tables / "sections.csv", "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["benchmark", "section", "section_weight", "section_order", "optional"])
        w.writerow(["toy-bench", "Brevity", "1", "1", "false"])
        w.writerow(["toy-bench", "Detail", "3", "2", "false"])
    rows = [  # (subset, chosen, rejected): a longer chosen completion wins under kind length (weight > 0)
        ("short", "ok", "a much longer answer"),
        ("short", "yes", "no"),
        ("long", "a thorough, detailed answer", "meh"),
        ("long", "a detailed and complete answer", "short"),
    ]
    data = root / "toy.jsonl"
    data.write_text(
        "".join(
            json.dumps({"id": i, "subset": s, "prompt": f"q{i}", "chosen": c, "rejected": r}) + "\n"
            for i, (s, c, r) in enumerate(rows)
        )
    )
    return tables, data, rows


@pytest.fixture
def restore_tables():
    import orchestrator.benchmarks as benchmarks

    before = list(benchmarks._TABLE_DIRS)
    yield
    benchmarks._TABLE_DIRS[:] = before
    benchmarks._file_rows.cache_clear()
    benchmarks._benchmarks.cache_clear()


def test_toy_kind_and_toy_benchmark_run_end_to_end(ray_cluster, tmp_path, restore_tables):
    import tests.plugins.toy_kind  # noqa: F401  (registers kind `length` and its scorer)

    tables, data, rows = _toy_benchmark(tmp_path)
    with pytest.raises(ConfigError, match="unknown benchmark 'toy-bench'"):
        JobConfig.from_dict(
            {"name": "t", "benchmarks": [{"name": "toy-bench"}], "models": [{"name": "m", "path": "p"}]}
        )
    register_tables(tables)
    assert "toy-bench" in benchmark_names() and "length" in model_kinds()

    job = JobConfig.from_dict(
        {
            "name": "toy",
            "benchmarks": [{"name": "toy-bench", "source": str(data)}],
            "models": [
                {"name": "longer", "kind": "length", "weight": 1.0},
                {"name": "shorter", "kind": "length", "weight": -1.0},
            ],
            "resources": {"gpus_per_actor": 0, "cpus_per_actor": 1},
            "results": str(tmp_path / "results"),
        }
    )
    assert type(job.models[0]).__name__ == "LengthSpec"
    with pytest.raises(ConfigError, match=r"models\[0\].weight: only for kind length, not 'classifier'"):
        JobConfig.from_dict(
            {
                "name": "t",
                "benchmarks": [{"name": "toy-bench"}],
                "models": [{"name": "m", "path": "p", "weight": 2}],
            }
        )
    result = run_job(job)
    assert result.ok, [(o.model, o.error) for o in result.outcomes]

    con = connect(tmp_path / "results")
    records = run_query(
        con,
        "SELECT model, row_index, score_chosen, score_rejected, correct, scorer FROM records ORDER BY ALL",
    ).to_pylist()
    expected = []
    for model, w in (("longer", 1.0), ("shorter", -1.0)):
        for i, (_, c, r) in enumerate(rows):
            expected.append((model, i, w * len(c), w * len(r), w * len(c) > w * len(r), "toy-length"))
    assert [tuple(r.values()) for r in records] == sorted(expected)

    board, sections = leaderboard_rows(con, "toy-bench")
    assert sections == ["Brevity", "Detail"]
    by_model = {r["model"]: r for r in board}
    # longer: short 1/2, long 2/2 -> (1 * 0.5 + 3 * 1.0) / 4; shorter: short 1/2, long 0/2 -> (1 * 0.5) / 4
    assert (by_model["longer"]["Brevity"], by_model["longer"]["Detail"]) == pytest.approx((0.5, 1.0))
    assert by_model["longer"]["score"] == pytest.approx(0.875)
    assert (by_model["shorter"]["Brevity"], by_model["shorter"]["Detail"]) == pytest.approx((0.5, 0.0))
    assert by_model["shorter"]["score"] == pytest.approx(0.125)
