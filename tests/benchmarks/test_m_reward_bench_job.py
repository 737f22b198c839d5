"""jobs/m-reward-bench.yaml end to end on Ray with the tiny models: the fixture's three language configs through
its `source:` override, then the same job with the default source (the hub id), served offline from a datasets
cache laid out as a download of those configs leaves it. Every completion is scored once, equal to a direct
scorer; the leaderboard recomputes from the records by M-RewardBench's formula."""

import os
import shutil

import numpy as np
import pytest
import yaml

from orchestrator.benchmarks import get_benchmark, table_rows
from orchestrator.config import BenchmarkSpec, JobConfig, model_spec
from orchestrator.data import load_examples
from orchestrator.query.db import connect, leaderboard, run_query
from orchestrator.runtime.driver import run_job
from orchestrator.scoring.classifier import ClassifierScorer
from orchestrator.scoring.formatting import format_conversations
from tests._synth import assert_totals_exact
from tests.conftest import FIXTURES, REPO

pytestmark = pytest.mark.slow

HUB_ID = "C4AI-Community/multilingual-reward-bench"
FIXTURE = FIXTURES / "benchmarks" / "m-reward-bench"
LANGS = ("arb_Arab", "deu_Latn", "kor_Hang")


def _job(tiny_models, results, source: bool) -> JobConfig:
    data = yaml.safe_load((REPO / "jobs" / "m-reward-bench.yaml").read_text())
    bench = data["benchmarks"][0]
    if source:
        bench["source"] = str((REPO / bench["source"]).resolve())
    else:
        del bench["source"]  # the default: the hub id
    data["models"] = [{"name": "tiny-rm", "path": str(tiny_models["tiny-rm"])}]
    data["results"] = str(results)
    data["resources"]["shard_size"] = 16
    return JobConfig.from_dict(data)


def _datasets_cache(root):
    """A datasets cache holding the fixture's configs as `load_dataset(HUB_ID, config, split="test")` leaves them
    (`<cache>/C4AI-Community___multilingual-reward-bench/<config>/0.0.0/<commit>/`): each config prepared by
    datasets' own Parquet builder from the fixture's file, then placed under the hub id's cache name."""
    from datasets.packaged_modules.parquet.parquet import Parquet

    staging = root / "staging"
    for lang in LANGS:
        builder = Parquet(
            cache_dir=str(staging),
            dataset_name="multilingual-reward-bench",
            config_name=lang,
            hash="0" * 40,
            data_files={"test": [str(FIXTURE / lang / "test-00000-of-00001.parquet")]},
        )
        builder.download_and_prepare()
        target = root / "cache" / "C4AI-Community___multilingual-reward-bench" / lang / "0.0.0"
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(str(os.path.dirname(builder.cache_dir)), str(target))
    return root / "cache"


def _records(results):
    con = connect(results)
    try:
        return run_query(
            con, "SELECT * FROM latest_records WHERE benchmark = 'm-reward-bench' ORDER BY row_index"
        ).to_pylist()
    finally:
        con.close()


def _by_formula(recs):
    """M-RewardBench's formula straight from the records, in Python: subset accuracy, weighted per section with
    the tables' weights, a language = the mean of its sections, the score = the mean of the languages."""
    weight = {
        r["subset"]: float(r["weight"]) for r in table_rows("subsets") if r["benchmark"] == "m-reward-bench"
    }
    section = {r["subset"]: r["section"] for r in table_rows("subsets") if r["benchmark"] == "reward-bench"}
    acc: dict[str, list[bool]] = {}
    for r in recs:
        acc.setdefault(r["subset"], []).append(r["score_chosen"] > r["score_rejected"])
    langs = {}
    for lang in LANGS:
        cells: dict[str, list[tuple[float, float]]] = {}
        for subset, outcomes in acc.items():
            if subset.startswith(lang + "/"):
                cells.setdefault(section[subset.split("/")[1]], []).append(
                    (np.mean(outcomes), weight[subset])
                )
        langs[lang] = np.mean([sum(a * w for a, w in v) / sum(w for _, w in v) for v in cells.values()])
    return langs, np.mean(list(langs.values()))


def test_m_reward_bench_job_source_and_hub_default(ray_cluster, tiny_models, tmp_path, monkeypatch):
    results = tmp_path / "results"
    res = run_job(_job(tiny_models, results, source=True))
    assert res.ok, res.failed
    recs = _records(results)
    assert len(recs) == 78 and {r["subset"].split("/")[0] for r in recs} == set(LANGS)
    ex = load_examples(BenchmarkSpec(name="m-reward-bench", source=str(FIXTURE))).table.to_pylist()
    scorer = ClassifierScorer(model_spec(name="x", path=str(tiny_models["tiny-rm"])))
    texts = format_conversations(
        scorer.tokenizer,
        [r["prompt"] for r in ex for _ in range(2)],
        [t for r in ex for t in (r["chosen"], r["rejected"])],
    )
    direct = scorer.score_texts(texts)[0]
    np.testing.assert_allclose(
        [s for r in recs for s in (r["score_chosen"], r["score_rejected"])], direct, atol=1e-5
    )
    langs, score = _by_formula(recs)
    [row] = leaderboard(results, "m-reward-bench")
    for lang in LANGS:
        assert row[lang] == pytest.approx(langs[lang])
    assert row["score"] == pytest.approx(score) and row["complete"] is False

    # the default source: the hub id, offline from the datasets cache
    import datasets

    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", str(_datasets_cache(tmp_path)))
    assert get_benchmark("m-reward-bench").default_source == HUB_ID
    hub = load_examples(BenchmarkSpec(name="m-reward-bench", languages=list(LANGS)))
    assert hub.fingerprint.startswith(f"hub:{HUB_ID}@main:arb_Arab=")
    assert hub.table.select(["prompt", "chosen", "rejected", "subset", "id"]).to_pylist() == [
        {k: r[k] for k in ("prompt", "chosen", "rejected", "subset", "id")} for r in ex
    ]
    hub_results = tmp_path / "hub-results"
    res = run_job(_job(tiny_models, hub_results, source=False))
    assert res.ok, res.failed
    again = _records(hub_results)
    assert [(r["subset"], r["example_id"]) for r in again] == [(r["subset"], r["example_id"]) for r in recs]
    np.testing.assert_allclose(
        [s for r in again for s in (r["score_chosen"], r["score_rejected"])],
        [s for r in recs for s in (r["score_chosen"], r["score_rejected"])],
        atol=1e-6,
    )
    [hub_row] = leaderboard(hub_results, "m-reward-bench")
    assert hub_row["score"] == pytest.approx(row["score"])
    # the subset totals stored at compaction give exactly the views computed from these records
    assert_totals_exact(results)
