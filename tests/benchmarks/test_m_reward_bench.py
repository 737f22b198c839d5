"""M-RewardBench: the loader on a fixture in the hub's exact layout and schema (three configs: Arabic script,
Latin, Hangul), bad rows named, and the language-matrix SQL against hand-computed numbers and against
M-RewardBench's own leaderboard code (tests/fixtures/benchmarks/m_reward_bench.json, made by
perf/reference/m_reward_bench.py): per-language scores, the language x section matrix, the mean over languages,
and Cohen's kappa between languages."""

import json
import shutil

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from pydantic import ValidationError

from orchestrator.benchmarks import sections_of, subsets_of, table_rows
from orchestrator.benchmarks.m_reward_bench import LANGUAGES, SUBSETS
from orchestrator.config import BenchmarkSpec
from orchestrator.data import load_examples
from orchestrator.errors import DataError
from orchestrator.query.db import connect, leaderboard, run_query, stored_query
from tests.benchmarks._records import write_records
from tests.conftest import FIXTURES

FIXTURE = FIXTURES / "benchmarks" / "m-reward-bench"
CROSS = json.loads((FIXTURES / "benchmarks" / "m_reward_bench.json").read_text(encoding="utf-8"))
LANGS = ("arb_Arab", "deu_Latn", "kor_Hang")


def test_tables_declare_every_language_and_subset():
    assert sections_of("m-reward-bench") == LANGUAGES and len(LANGUAGES) == 23
    assert subsets_of("m-reward-bench") == tuple(f"{lang}/{s}" for lang in LANGUAGES for s in SUBSETS)
    # the v1 subsets are RewardBench's four sections' subsets, whose section each takes here
    v1 = {r["subset"]: r["section"] for r in table_rows("subsets") if r["benchmark"] == "reward-bench"}
    assert set(SUBSETS) == {s for s, sec in v1.items() if sec in ("Chat", "Chat Hard", "Safety", "Reasoning")}
    weights = {
        r["subset"]: float(r["weight"]) for r in table_rows("subsets") if r["benchmark"] == "m-reward-bench"
    }
    # M-RewardBench's EXAMPLE_COUNTS: 296 Chat, 407 Chat Hard, 736 Safety; math-prm weighs as much as code
    per_section: dict[str, float] = {}
    for s in SUBSETS:
        per_section[v1[s]] = per_section.get(v1[s], 0) + weights[f"kor_Hang/{s}"]
    assert per_section == {"Chat": 296, "Chat Hard": 407, "Safety": 736, "Reasoning": 1966}
    assert weights["kor_Hang/math-prm"] == 983 == sum(weights[f"kor_Hang/{s}"] for s in SUBSETS if "hep" in s)


def test_loads_the_fixture_as_published():
    ex = load_examples(BenchmarkSpec(name="m-reward-bench", source=str(FIXTURE)))
    rows = ex.table.to_pylist()
    assert len(rows) == 78 and ex.fingerprint.startswith("sha256:")
    by_lang = {lang: [r for r in rows if r["subset"].startswith(lang + "/")] for lang in LANGS}
    assert all(len(v) == 26 for v in by_lang.values())
    # the same example has the same id in every language; the texts are the translations, script intact
    assert [r["id"] for r in by_lang["arb_Arab"]] == [r["id"] for r in by_lang["kor_Hang"]]
    assert by_lang["arb_Arab"][0]["prompt"].startswith("ما هي عاصمة فرنسا؟")
    assert by_lang["kor_Hang"][0]["chosen"].startswith("프랑스의 수도는 파리입니다.")
    assert {r["subset"].split("/")[1] for r in rows} == set(SUBSETS)
    picked = load_examples(BenchmarkSpec(name="m-reward-bench", source=str(FIXTURE), languages=["kor_Hang"]))
    assert {r["subset"].split("/")[0] for r in picked.table.to_pylist()} == {"kor_Hang"}


def test_repository_layout_and_one_file_per_config(tmp_path):
    """The hub repository's folders also hold older splits and a `translation` config: a split's files are those
    named after it; a folder that is not a language is skipped. One file per config loads too, and the first
    release's `subset` column stands for `source`."""
    repo = tmp_path / "repo"
    shutil.copytree(FIXTURE, repo)
    (repo / "translation").mkdir()
    pq.write_table(pa.table({"x": [1]}), repo / "translation" / "test-00000-of-00001.parquet")
    old = [
        {"id": 1, "prompt": "p", "chosen": "c", "rejected": "r", "subset": "hep-go", "language": "deu_Latn"}
    ]
    (repo / "deu_Latn" / "filtered.json").write_text(json.dumps(old))
    assert len(load_examples(BenchmarkSpec(name="m-reward-bench", source=str(repo)))) == 78
    filtered = load_examples(
        BenchmarkSpec(name="m-reward-bench", source=str(repo), split="filtered", languages=["deu_Latn"])
    )
    assert filtered.table.column("subset").to_pylist() == ["deu_Latn/hep-go"]
    flat = tmp_path / "flat"
    flat.mkdir()
    shutil.copy(FIXTURE / "arb_Arab" / "test-00000-of-00001.parquet", flat / "arb_Arab.parquet")
    (flat / "heb_Hebr.jsonl").write_text("\n".join(json.dumps(r) for r in old))
    ex = load_examples(BenchmarkSpec(name="m-reward-bench", source=str(flat)))
    assert len(ex) == 27 and ex.table.column("subset").to_pylist()[-1] == "heb_Hebr/hep-go"


def test_bad_rows_and_keys_are_named(tmp_path):
    rows = pq.read_table(FIXTURE / "kor_Hang" / "test-00000-of-00001.parquet").to_pylist()
    (tmp_path / "kor_Hang").mkdir()
    bad = tmp_path / "kor_Hang" / "test-00000-of-00001.parquet"
    rows[3]["source"] = "anthropic_helpful"
    pq.write_table(pa.Table.from_pylist(rows), bad)
    with pytest.raises(DataError, match=r"kor_Hang/test-00000-of-00001.parquet: row 3 \(id 103\): source "):
        load_examples(BenchmarkSpec(name="m-reward-bench", source=str(tmp_path)))
    rows[3]["source"], rows[5]["chosen"] = "mt-bench-easy", None
    pq.write_table(pa.Table.from_pylist(rows), bad)
    with pytest.raises(DataError, match=r"row 5 \(id 105\): 'chosen' must be text, found NoneType"):
        load_examples(BenchmarkSpec(name="m-reward-bench", source=str(tmp_path)))
    with pytest.raises(DataError, match=r"no folder or file for language config\(s\) arb_Arab"):
        load_examples(BenchmarkSpec(name="m-reward-bench", source=str(tmp_path), languages=["arb_Arab"]))
    with pytest.raises(DataError, match=r"languages: unknown language config\(s\) \['eng_Latn'\]"):
        load_examples(BenchmarkSpec(name="m-reward-bench", source=str(tmp_path), languages=["eng_Latn"]))
    with pytest.raises(ValidationError, match="languages: only for m-reward-bench, not 'rmb'"):
        BenchmarkSpec(name="rmb", languages=["arb_Arab"])
    with pytest.raises(ValidationError, match="languages"):
        BenchmarkSpec(name="m-reward-bench", languages=[])


def _store(tmp_path):
    """The cross-check's records (both models, every fixture row) in a real store."""
    for model, recs in CROSS["records"].items():
        rows = [
            {
                "subset": f"{r['language']}/{r['source']}",
                "example_id": r["id"],
                "score_chosen": r["score_chosen"],
                "score_rejected": r["score_rejected"],
                "correct": r["score_chosen"] > r["score_rejected"],
            }
            for r in recs
        ]
        write_records(tmp_path, f"run-{model}", "m-reward-bench", model, rows)
    return tmp_path


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    return _store(tmp_path_factory.mktemp("m-reward-bench"))


def test_scores_by_hand(store):
    board = {r["model"]: r for r in leaderboard(store, "m-reward-bench")}
    # rm-a. deu_Latn: alpacaeval-easy 1 of 2 (the other a tie), math-prm 1 of 2, the rest right.
    # Chat = (79 * 1/2 + 79 + 76 + 24 + 38) / 296; Reasoning = (983 * 1/2 + 983) / (983 + 983): math = code
    deu = (256.5 / 296 + 1 + 1 + 0.75) / 4
    # arb_Arab: mt-bench-hard and llmbar-natural (a tie) wrong -> Chat Hard (407 - 35 - 76) / 407; xstest-should-
    # respond 1 of 2 and donotanswer wrong -> Safety (736 - 123.5 - 135) / 736; hep-python wrong -> Reasoning
    # (1966 - 163) / 1966
    arb = (1 + 296 / 407 + 477.5 / 736 + 1803 / 1966) / 4
    # kor_Hang: only refusals-dangerous and hep-go right (alpacaeval-length a tie)
    kor = (0 + 0 + 100 / 736 + 164 / 1966) / 4
    a = board["rm-a"]
    assert (a["arb_Arab"], a["deu_Latn"], a["kor_Hang"]) == pytest.approx((arb, deu, kor), abs=1e-12)
    assert a["score"] == pytest.approx((arb + deu + kor) / 3, abs=1e-12)
    # rm-b: all right but kor_Hang's Chat (every pair a tie)
    b = board["rm-b"]
    assert (b["arb_Arab"], b["deu_Latn"], b["kor_Hang"], b["score"]) == pytest.approx((1, 1, 0.75, 2.75 / 3))
    # 20 languages not loaded: every column is there, empty; the rows are flagged incomplete
    assert all(a[lang] is None for lang in LANGUAGES if lang not in LANGS)
    assert a["complete"] is False and "arb_Arab/math-prm 2/447" in a["incomplete_subsets"]
    assert list(a)[2:25] == list(LANGUAGES)  # one column per language, in the card's order, then the score

    con = connect(store)
    cells = {
        (r["model"], r["language"], r["section"]): r["score"]
        for r in run_query(con, "SELECT * FROM language_matrix").to_pylist()
    }
    assert cells[("rm-a", "deu_Latn", "Chat")] == pytest.approx(256.5 / 296)
    assert cells[("rm-a", "arb_Arab", "Chat Hard")] == pytest.approx(296 / 407)
    assert cells[("rm-a", "arb_Arab", "Safety")] == pytest.approx(477.5 / 736)
    assert cells[("rm-a", "kor_Hang", "Reasoning")] == pytest.approx(164 / 1966)
    assert cells[("rm-b", "kor_Hang", "Chat")] == 0 and len(cells) == 2 * 3 * 4

    # agreement of `correct` over the 26 examples, per language pair. rm-a: deu wrong on 2, arb on 5 (all
    # other), kor right on 2 (both right in the others)
    kappa = {
        (r["model"], r["language_a"], r["language_b"]): r
        for r in run_query(con, "SELECT * FROM language_agreement").to_pylist()
    }
    ad = kappa[("rm-a", "arb_Arab", "deu_Latn")]  # p_o = 19/26, p_e = (21*24 + 5*2)/26^2
    assert (ad["n"], ad["agreement"], ad["chance_agreement"]) == (
        26,
        pytest.approx(19 / 26),
        pytest.approx(514 / 676),
    )
    assert ad["kappa"] == pytest.approx((494 - 514) / (676 - 514))
    assert kappa[("rm-a", "arb_Arab", "kor_Hang")]["kappa"] == pytest.approx((182 - 162) / (676 - 162))
    assert kappa[("rm-a", "deu_Latn", "kor_Hang")]["kappa"] == pytest.approx((104 - 96) / (676 - 96))
    # rm-b: arb and deu all right: chance agreement 1, kappa undefined (NULL, sklearn's NaN); kor vs either: 0
    same = kappa[("rm-b", "arb_Arab", "deu_Latn")]
    assert (same["agreement"], same["chance_agreement"], same["kappa"]) == (1.0, 1.0, None)
    assert kappa[("rm-b", "arb_Arab", "kor_Hang")]["kappa"] == pytest.approx(0.0)
    models = {r["model"]: r for r in run_query(con, "SELECT * FROM language_agreement_models").to_pylist()}
    assert models["rm-a"]["mean_agreement"] == pytest.approx((19 + 7 + 4) / 78)
    assert models["rm-a"]["mean_kappa"] == pytest.approx((-20 / 162 + 20 / 514 + 8 / 580) / 3)
    assert (models["rm-b"]["n_pairs"], models["rm-b"]["n_kappa"], models["rm-b"]["mean_kappa"]) == (3, 2, 0.0)

    # the cross-benchmark summary (`rayward leaderboard --all`) ranks the models on it
    summary = {
        r["model"]: r
        for r in stored_query(con, "summary_scores").to_pylist()
        if r["benchmark"] == "m-reward-bench"
    }
    assert (summary["rm-b"]["rank"], summary["rm-a"]["rank"]) == (1, 2)
    assert summary["rm-a"]["score"] == pytest.approx((arb + deu + kor) / 3)
    # bootstrap CIs resample single subsets: a language's two-level mean is not that, so --ci refuses
    assert stored_query(con, "ci_unsupported", benchmark="m-reward-bench").to_pylist()[0]["n"] > 0
    con.close()


def test_matches_their_leaderboard_code(store):
    """Their get_leaderboard (per language, per category, Avg over languages) and sklearn's cohen_kappa_score
    on the same scores."""
    board = {r["model"]: r for r in leaderboard(store, "m-reward-bench")}
    con = connect(store)
    cells = {
        (r["model"], r["language"], r["section"]): r["score"]
        for r in run_query(con, "SELECT * FROM language_matrix").to_pylist()
    }
    kappa = {
        (r["model"], f"{r['language_a']}|{r['language_b']}"): r["kappa"]
        for r in run_query(con, "SELECT * FROM language_agreement").to_pylist()
    }
    con.close()
    for model, ref in CROSS["reference"].items():
        for lang in LANGS:
            assert board[model][lang] == pytest.approx(ref["languages"][lang], abs=1e-12)
            for section, value in ref["matrix"][lang].items():
                assert cells[(model, lang, section)] == pytest.approx(value, abs=1e-12)
        assert board[model]["score"] == pytest.approx(ref["Avg"], abs=1e-12)
        for pair, value in ref["kappa"].items():
            assert kappa[(model, pair)] == (None if value is None else pytest.approx(value, abs=1e-12))
