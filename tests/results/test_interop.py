"""Importing the reference's per-example score files and exporting ours in its layout (real Parquet/DuckDB)."""

import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from orchestrator.config import BenchmarkSpec
from orchestrator.data import load_examples
from orchestrator.errors import DataError
from orchestrator.query.db import connect, leaderboard, run_query
from orchestrator.results.interop import export_reference, import_reference_scores, read_reference_scores

REF_SCORES = Path("/work/refwork/results/eval-set-scores/work/refwork/models/tiny-rm.json")
REF_SUMMARY = Path("/work/refwork/results/eval-set/work/refwork/models/tiny-rm.json")


@pytest.fixture(scope="module")
def examples(filtered_path):
    return load_examples(BenchmarkSpec(source=str(filtered_path)))


def score_file(filtered_path, path, rows=None, *, jsonl=False, drop_id=False):
    """A reference-style score file made from the real data: chat-templated text, one-element score lists."""
    src = pq.read_table(filtered_path).to_pylist()
    rows = range(len(src)) if rows is None else rows
    cols = {
        "id": [],
        "subset": [],
        "scores_chosen": [],
        "scores_rejected": [],
        "results": [],
        "text_chosen": [],
        "text_rejected": [],
    }
    for i in rows:
        r = src[i]
        sc, sr = (i % 7) / 3.0, (i % 5) / 2.0
        cols["id"].append(r["id"])
        cols["subset"].append(r["subset"])
        cols["scores_chosen"].append(sc if jsonl else [sc])
        cols["scores_rejected"].append(sr if jsonl else [sr])
        cols["results"].append(int(sc > sr))
        cols["text_chosen"].append(f"<s><|user|>\n{r['prompt']}<|assistant|>\n{r['chosen']}</s>")
        cols["text_rejected"].append(f"<s><|user|>\n{r['prompt']}<|assistant|>\n{r['rejected']}</s>")
    if drop_id:
        del cols["id"]
    if jsonl:
        n = len(cols["subset"])
        path.write_text("".join(json.dumps({k: v[j] for k, v in cols.items()}) + "\n" for j in range(n)))
    else:
        path.write_text(
            json.dumps({**cols, "model": "org/m", "model_type": "Seq. Classifier", "chat_template": "tulu"})
        )
    return cols


@pytest.mark.skipif(not REF_SCORES.is_file(), reason="reference run outputs not on this machine")
def test_import_real_reference_file_reproduces_its_accuracies(tmp_path, examples):
    res = import_reference_scores(REF_SCORES, examples, results=tmp_path, model="ref/tiny-rm")
    assert (res.n_rows, res.n_imported, res.unmatched, res.disagreements) == (2985, 2985, [], 0)
    con = connect(tmp_path)
    ours = {
        r["subset"]: r["accuracy"]
        for r in run_query(con, "SELECT subset, accuracy FROM subset_accuracy").to_pylist()
    }
    ref = json.loads(REF_SUMMARY.read_text())
    assert {s: ours[s] for s in ours} == pytest.approx({s: ref[s] for s in ours}, abs=1e-12)
    assert leaderboard(tmp_path)[0]["complete"] is True


def test_partial_file_imports_what_it_has_and_flags_the_rest(tmp_path, filtered_path, examples):
    f = tmp_path / "part.json"
    cols = score_file(filtered_path, f, range(0, 150))  # alpacaeval-easy (100) + 50 of alpacaeval-hard
    res = import_reference_scores(f, examples, results=tmp_path / "r", model="m")
    assert res.n_imported == 150 and res.subsets == {"alpacaeval-easy": 100, "alpacaeval-hard": 50}
    (row,) = leaderboard(tmp_path / "r")
    expected_easy = sum(cols["results"][:100]) / 100
    con = connect(tmp_path / "r")
    acc = {
        r["subset"]: r["accuracy"]
        for r in run_query(con, "SELECT subset, accuracy FROM subset_accuracy").to_pylist()
    }
    assert acc["alpacaeval-easy"] == pytest.approx(expected_easy)
    assert row["complete"] is False
    assert (
        "alpacaeval-hard 50/95" in row["incomplete_subsets"]
        and "alpacaeval-length 0/95" in row["incomplete_subsets"]
    )


def test_unmatched_rows_are_reported_not_guessed(tmp_path, filtered_path, examples):
    f = tmp_path / "bad.json"
    score_file(filtered_path, f, range(0, 4))
    data = json.loads(f.read_text())
    data["text_chosen"][1] = (
        data["text_chosen"][1].replace("</s>", " extra words</s>")[:-200] + "something else</s>"
    )
    data["id"][2] = 999999
    data["subset"][3] = "hep-go"
    f.write_text(json.dumps(data))
    res = import_reference_scores(f, examples, results=tmp_path / "r", model="m")
    assert res.n_imported == 1
    reasons = dict(res.unmatched)
    assert set(reasons) == {1, 2, 3}
    assert (
        "text differs" in reasons[1]
        and "no example (alpacaeval-easy, 999999)" in reasons[2]
        and "hep-go" in reasons[3]
    )


def test_outputs_jsonl_without_ids_matches_by_text(tmp_path, filtered_path, examples):
    f = tmp_path / "m_outputs.jsonl"
    cols = score_file(filtered_path, f, range(440, 470), jsonl=True, drop_id=True)
    assert len(read_reference_scores(f)) == 30
    res = import_reference_scores(f, examples, results=tmp_path / "r", model="m")
    assert (res.n_imported, res.unmatched) == (30, [])
    con = connect(tmp_path / "r")
    got = run_query(con, "SELECT row_index, score_chosen FROM records ORDER BY row_index").to_pylist()
    for g in got:
        assert g["score_chosen"] == cols["scores_chosen"][g["row_index"] - 440]


def test_export_then_import_round_trip(tmp_path, filtered_path, examples):
    f = tmp_path / "in.json"
    score_file(filtered_path, f, range(0, 2985, 3))
    import_reference_scores(f, examples, results=tmp_path / "a", model="org/m")
    con = connect(tmp_path / "a")
    summary, scores = export_reference(con, model="org/m", benchmark="reward-bench", out=tmp_path / "out")
    assert (
        scores == tmp_path / "out/eval-set-scores/org/m.json"
        and summary == tmp_path / "out/eval-set/org/m.json"
    )
    exported = json.loads(scores.read_text())
    assert set(exported) >= {
        "id",
        "subset",
        "scores_chosen",
        "scores_rejected",
        "results",
        "text_chosen",
        "text_rejected",
        "model",
        "model_type",
        "chat_template",
    }
    assert json.loads(summary.read_text())["alpacaeval-easy"] == pytest.approx(
        run_query(con, "SELECT accuracy FROM subset_accuracy WHERE subset = 'alpacaeval-easy'").to_pylist()[
            0
        ]["accuracy"]
    )
    res = import_reference_scores(scores, examples, results=tmp_path / "b", model="org/m")
    assert res.unmatched == [] and res.n_imported == len(range(0, 2985, 3))
    q = (
        "SELECT subset, example_id, row_index, score_chosen, score_rejected, correct, chosen, rejected FROM latest_records "
        "ORDER BY row_index"
    )
    assert run_query(connect(tmp_path / "b"), q).to_pylist() == run_query(con, q).to_pylist()


def test_import_reward_bench_2_score_file(tmp_path, examples):
    from tests.runtime.test_driver_benchmarks import _bon_points, v2_fixture

    data = tmp_path / "rb2.parquet"
    rows = v2_fixture(data)
    ex = load_examples(BenchmarkSpec(name="reward-bench-2", source=str(data)))
    cols = {"id": [], "subset": [], "text": [], "scores": [], "num_correct": [], "results": []}
    for n, r in enumerate(rows):
        completions = r["chosen"] + r["rejected"]
        scores = [float((n * 3 + j * 5) % 4) for j in range(len(completions))]  # ties at the top happen
        cols["id"].append(r["id"])
        cols["subset"].append(r["subset"])
        cols["text"].append([f"<|user|>\n{r['prompt']}<|assistant|>\n{c}</s>" for c in completions])
        cols["scores"].append(scores)
        cols["num_correct"].append(r["num_correct"])
        cols["results"].append(None if r["subset"] == "Ties" else _bon_points(scores[:1], scores[1:]))
    cols["text"][2][1] = "something else entirely"
    f = tmp_path / "scores.json"
    f.write_text(
        json.dumps({**cols, "model": "m", "model_type": "Seq. Classifier", "chat_template": "tokenizer"})
    )
    res = import_reference_scores(f, ex, results=tmp_path / "r", model="m")
    assert res.n_imported == len(rows) - 1 and [u[0] for u in res.unmatched] == [2]
    con = connect(tmp_path / "r")
    acc = {
        r["subset"]: r["accuracy"]
        for r in run_query(con, "SELECT subset, accuracy FROM subset_accuracy").to_pylist()
    }
    fact = [j for j, r in enumerate(rows) if r["subset"] == "Factuality"]
    assert acc["Factuality"] == pytest.approx(sum(cols["results"][j] for j in fact) / 2)
    got = run_query(
        con, "SELECT row_index, scores_chosen, scores_rejected FROM records ORDER BY row_index"
    ).to_pylist()
    for g in got:
        k = rows[g["row_index"]]["num_correct"]
        assert (
            g["scores_chosen"] + g["scores_rejected"] == cols["scores"][g["row_index"]]
            and len(g["scores_chosen"]) == k
        )
    assert leaderboard(tmp_path / "r", "reward-bench-2")[0]["complete"] is False
    # export in the reference's v2 layout, then import again: identical records
    _, out = export_reference(con, model="m", benchmark="reward-bench-2", out=tmp_path / "out")
    exported = json.loads(out.read_text())
    assert set(exported) == {
        "chat_template",
        "id",
        "model",
        "model_type",
        "num_correct",
        "results",
        "scores",
        "subset",
        "text",
    }
    assert (
        exported["id"][:2] == ["0", "1"] and exported["results"][-1] is None
    )  # Ties rows carry no per-row result
    res = import_reference_scores(out, ex, results=tmp_path / "r3", model="m")
    assert res.unmatched == [] and res.n_imported == len(rows) - 1
    q = (
        "SELECT subset, example_id, row_index, source_id, score_chosen, score_rejected, correct, scores_chosen, "
        "scores_rejected, texts_chosen, texts_rejected FROM latest_records ORDER BY row_index"
    )
    assert run_query(connect(tmp_path / "r3"), q).to_pylist() == run_query(con, q).to_pylist()
    with pytest.raises(DataError, match="best-of-N score file, but benchmark 'reward-bench' holds pairwise"):
        import_reference_scores(f, examples, results=tmp_path / "r2", model="m")
