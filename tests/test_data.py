import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from orchestrator.benchmarks import expected_counts, subsets_of
from orchestrator.config import BenchmarkSpec
from orchestrator.data import load_examples
from orchestrator.errors import DataError

PRIOR_SETS = (
    "anthropic_helpful",
    "anthropic_hhh",
    "shp",
    "summarize",
    "anthropic_harmless",
    "mtbench_gpt4",
    "mtbench_human",
)


def test_real_filtered_split(filtered_path):
    ex = load_examples(BenchmarkSpec(source=str(filtered_path)))
    assert len(ex) == 2985
    assert ex.table.column("row_index").to_pylist() == list(range(2985))
    counts = {}
    for s in ex.table.column("subset").to_pylist():
        counts[s] = counts.get(s, 0) + 1
    prior = set(PRIOR_SETS)
    assert counts == {k: v for k, v in expected_counts("reward-bench").items() if k not in prior}
    # id is not unique upstream (3692 twice); rows stay distinct by position
    ids = ex.table.column("id").to_pylist()
    assert ids.count(3692) == 2
    assert ex.fingerprint.startswith("sha256:")


def test_subset_filter_and_limit(filtered_path):
    ex = load_examples(BenchmarkSpec(source=str(filtered_path), subsets=["hep-go", "mt-bench-easy"], limit=5))
    assert ex.table.column("subset").to_pylist() == ["mt-bench-easy"] * 5 + ["hep-go"] * 5
    # row_index still points at the source rows
    src = pq.read_table(filtered_path)
    for row, rid in zip(ex.table.column("row_index").to_pylist(), ex.table.column("id").to_pylist()):
        assert src.column("id")[row].as_py() == rid


def _small(filtered_path, n=6) -> pa.Table:
    return pq.read_table(filtered_path).slice(0, n)


def test_missing_column_named(tmp_path, filtered_path):
    path = tmp_path / "bad.parquet"
    pq.write_table(_small(filtered_path).drop_columns(["rejected"]), path)
    with pytest.raises(DataError, match=r"bad.parquet: missing column\(s\) 'rejected'"):
        load_examples(BenchmarkSpec(source=str(path)))


def test_null_text_names_column_and_row(tmp_path, filtered_path):
    table = _small(filtered_path)
    chosen = table.column("chosen").to_pylist()
    chosen[4] = None
    table = table.set_column(table.schema.get_field_index("chosen"), "chosen", pa.array(chosen, pa.string()))
    path = tmp_path / "nulls.parquet"
    pq.write_table(table, path)
    with pytest.raises(DataError, match="column 'chosen' is null at row 4"):
        load_examples(BenchmarkSpec(source=str(path)))


def test_unknown_subset_named(tmp_path, filtered_path):
    rows = _small(filtered_path).to_pylist()
    rows[2]["subset"] = "made-up"
    path = tmp_path / "rows.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in rows))
    with pytest.raises(DataError, match="row 2: unknown subset 'made-up'"):
        load_examples(BenchmarkSpec(source=str(path)))


def test_json_jsonl_and_hub_layout_dir(tmp_path, filtered_path):
    rows = _small(filtered_path).to_pylist()
    (tmp_path / "a.json").write_text(json.dumps(rows))
    (tmp_path / "b.jsonl").write_text("\n".join(json.dumps(r) for r in rows))
    hub = tmp_path / "hub" / "data"
    hub.mkdir(parents=True)
    pq.write_table(_small(filtered_path), hub / "filtered-00000-of-00001.parquet")
    for source in (tmp_path / "a.json", tmp_path / "b.jsonl", tmp_path / "hub"):
        ex = load_examples(BenchmarkSpec(source=str(source)))
        assert ex.table.column("chosen").to_pylist() == [r["chosen"] for r in rows]


def test_bad_json_line_named(tmp_path):
    path = tmp_path / "x.jsonl"
    path.write_text('{"prompt": "a"}\n{oops\n')
    with pytest.raises(DataError, match="x.jsonl:2: invalid JSON"):
        load_examples(BenchmarkSpec(source=str(path)))


def test_missing_local_source():
    with pytest.raises(DataError, match="not found"):
        load_examples(BenchmarkSpec(source="./no/such/file.parquet"))


def test_offline_hub_source_gives_hint():
    with pytest.raises(DataError, match="local .parquet"):
        load_examples(BenchmarkSpec(source="allenai/definitely-not-cached-here"))


def test_subset_table_is_complete():
    core = [s for s in subsets_of("reward-bench") if s not in PRIOR_SETS]
    assert len(core) == 23 and len(subsets_of("reward-bench")) == 23 + 7
    assert sum(expected_counts("reward-bench")[s] for s in core) == 2985
    # pref-test-sets split sizes (SOURCES.md); pku_* are not part of the benchmark
    assert (
        sum(expected_counts("reward-bench")[s] for s in PRIOR_SETS)
        == 2266 + 6192 + 221 + 9000 + 1741 + 3355 + 2400
    )
    assert expected_counts("reward-bench-2") == {
        "Factuality": 475,
        "Precise IF": 160,
        "Math": 183,
        "Safety": 450,
        "Focus": 495,
        "Ties": 102,
    }


def test_reward_bench_2_schema_checks(tmp_path):
    from tests.runtime.test_driver_benchmarks import v2_fixture

    good = tmp_path / "rb2.parquet"
    rows = v2_fixture(good)
    ex = load_examples(BenchmarkSpec(name="reward-bench-2", source=str(good)))
    t = ex.table
    assert t.column("source_id").to_pylist() == [r["id"] for r in rows]
    ties = [i for i, r in enumerate(rows) if r["subset"] == "Ties"]
    assert t.column("id").to_pylist()[ties[0]] == ties[0]  # 'ref:0' is not an integer: the row position
    assert t.column("chosen").to_pylist()[ties[1]] == ["2", "3", "5"]

    def broken(change, message):
        bad = [dict(r) for r in rows]
        change(bad)
        path = tmp_path / "bad.parquet"
        pq.write_table(pa.Table.from_pylist(bad), path)
        with pytest.raises(DataError, match=message):
            load_examples(BenchmarkSpec(name="reward-bench-2", source=str(path)))

    broken(
        lambda b: b[3].update(num_correct=2),
        r"row 3: num_correct/num_incorrect/total_completions = 2/3/4 but chosen has 1",
    )
    broken(lambda b: b[ties[0]].update(id="ref-0"), rf"row {ties[0]}: Ties id 'ref-0' must be")
    broken(lambda b: b[0].update(subset="Chat"), "row 0: unknown subset 'Chat'")
    broken(lambda b: [r.update(chosen=r["chosen"][0]) for r in b], "column 'chosen' must hold lists of text")


def test_custom_column_mapping(tmp_path):
    path = tmp_path / "d.json"
    path.write_text(
        json.dumps(
            [
                {"q": "hi", "good": "a", "bad": "b"},
                {"q": [{"role": "user", "content": "x"}], "good": "c", "bad": "d"},
            ]
        )
    )
    ex = load_examples(
        BenchmarkSpec(
            name="custom", source=str(path), columns={"prompt": "q", "chosen": "good", "rejected": "bad"}
        )
    )
    assert ex.benchmark == "custom" and ex.table.column("subset").to_pylist() == ["default", "default"]
    assert ex.table.column("prompt").to_pylist()[0] == [
        {"role": "user", "content": "hi"}
    ]  # mixed: text -> one user turn
    assert ex.table.column("chosen").to_pylist() == ["a", "c"]
    with pytest.raises(DataError, match=r"column\(s\) named in `columns` not found: chosen -> 'answer'"):
        load_examples(
            BenchmarkSpec(
                name="custom",
                source=str(path),
                columns={"prompt": "q", "chosen": "answer", "rejected": "bad"},
            )
        )
