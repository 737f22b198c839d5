"""API judges on Ray against a real local HTTP server: a fault-injected run loses nothing (one record per example,
retries counted in the manifest), a three-member ensemble (two API judges and an in-process one) sits beside its
members on the leaderboard, a rerun sends no request (judge output cache), and an endpoint that goes down fails
the model without losing the committed shards, which ``resume`` completes."""

from __future__ import annotations

import json
import os

import pytest

from orchestrator.config import JobConfig
from orchestrator.query.db import connect, leaderboard, run_query
from orchestrator.results.records import read_manifests
from orchestrator.runtime.driver import run_job
from tests._openai_server import FakeOpenAI

SUBSETS = ["alpacaeval-easy", "mt-bench-hard", "donotanswer"]
KEY_ENV = "RAYWARD_TEST_API_KEY"


def _api(name: str, server: FakeOpenAI, **kw) -> dict:
    api = {"timeout_s": 0.5, "backoff_s": 0.01, "max_backoff_s": 0.05, "concurrency": 4, **kw.pop("api", {})}
    return {
        "name": name,
        "path": "judge-model-1",
        "kind": "judge",
        "backend": "openai",
        "base_url": server.base_url,
        "api_key_env": KEY_ENV,
        "api": api,
        **kw,
    }


def _job(filtered_path, results, models, name="api-judges", limit=2) -> JobConfig:
    return JobConfig.from_dict(
        {
            "name": name,
            "benchmarks": [
                {"name": "reward-bench", "source": str(filtered_path), "limit": limit, "subsets": SUBSETS}
            ],
            "models": models,
            "resources": {"gpus_per_actor": 1, "cpus_per_actor": 1, "shard_size": 2},
            "results": str(results),
        }
    )


def test_fault_injected_api_judges_and_an_ensemble(ray_cluster, filtered_path, tiny_models, tmp_path):
    with FakeOpenAI(fault_every=2) as server:
        models = [
            _api(
                "api-a",
                server,
                mode="pairwise",
                order="both",
                api={"prices": {"prompt_per_million": 1, "completion_per_million": 4}},
            ),
            _api("api-b", server, mode="pairwise", seed=7),
            {
                "name": "local-judge",
                "path": str(tiny_models["tiny-judge"]),
                "kind": "judge",
                "mode": "pairwise",
                "max_new_tokens": 4,
            },
            {
                "name": "poll",
                "kind": "judge",
                "mode": "pairwise",
                "members": ["api-a", "api-b", "local-judge"],
            },
        ]
        # 2 GPUs in the test cluster: the three in-process judges need them (API judges hold none)
        job = _job(filtered_path, tmp_path / "r", models)
        result = run_job(job)
        assert result.ok, [(o.model, o.error) for o in result.outcomes]
        injected = dict(server.injected)
        sent = len(server.log)
        # the key went out in the header only
        assert all(e["headers"]["Authorization"] == f"Bearer {os.environ[KEY_ENV]}" for e in server.log)
        assert sum(injected.values()) > 0 and all(injected[f] > 0 for f in ("429", "500", "slow", "drop")), (
            injected
        )

        # every example exactly one record per model, none an error
        con = connect(tmp_path / "r")
        counts = run_query(
            con,
            "SELECT model, count(*) AS n, count(error) AS errors FROM records GROUP BY model ORDER BY model",
        ).to_pylist()
        assert counts == [
            {"model": m, "n": 6, "errors": 0} for m in ("api-a", "api-b", "local-judge", "poll")
        ]
        # the retries are in the manifest, one per injected fault
        manifest = read_manifests(tmp_path / "r")[0]
        api = {m["model"]: m["api"] for m in manifest["models"] if m["api"]}
        assert set(api) == {"api-a", "api-b", "poll"}
        retries: dict[str, int] = {}
        for usage in api.values():
            for cause, n in usage["retries"].items():
                retries[cause] = retries.get(cause, 0) + n
        assert retries == {
            "429": injected["429"],
            "5xx": injected["500"],
            "timeout": injected["slow"],
            "connection": injected["drop"],
        }
        assert sum(u["requests"] for u in api.values()) == sent
        assert (
            api["api-a"]["cost"]
            == (api["api-a"]["prompt_tokens"] + 4 * api["api-a"]["completion_tokens"]) / 1e6
        )
        assert api["api-b"]["cost"] is None
        text = json.dumps(manifest)
        assert os.environ[KEY_ENV] not in text
        # the ensemble keeps every member's outputs and the leaderboard shows it beside its members
        poll = run_query(con, "SELECT judge_outputs FROM records WHERE model = 'poll'").to_pylist()
        assert all(
            sorted({o["member"] for o in r["judge_outputs"]}) == ["api-a", "api-b", "local-judge"]
            for r in poll
        )
        board = {r["model"]: r for r in leaderboard(tmp_path / "r")}
        assert set(board) == {"api-a", "api-b", "local-judge", "poll"}
        assert all(0 <= board[m]["score"] <= 1 for m in board)

        # a rerun: every API output from the judge output cache, nothing sent
        again = run_job(_job(filtered_path, tmp_path / "r", models))
        assert again.ok and len(server.log) == sent
        cached = run_query(
            con := connect(tmp_path / "r"),
            "SELECT bool_and(o.cached) AS all_cached FROM "
            "(SELECT unnest(judge_outputs) AS o FROM latest_records WHERE model = 'api-b')",
        ).to_pylist()
        assert cached == [{"all_cached": True}]
        first = run_query(
            con,
            f"SELECT model, example_id, score_chosen FROM records WHERE run_id = '{result.run_id}' ORDER BY ALL",
        ).to_pylist()
        second = run_query(
            con,
            f"SELECT model, example_id, score_chosen FROM records WHERE run_id = '{again.run_id}' ORDER BY ALL",
        ).to_pylist()
        assert first == second


def test_endpoint_down_keeps_committed_shards_and_resume_finishes(ray_cluster, filtered_path, tmp_path):
    with FakeOpenAI() as server:
        server.down_after = (
            4  # 2 shards of 2 rows, rubric: 4 requests a shard... the first shard gets through
        )
        models = [
            _api(
                "api-r",
                server,
                mode="pairwise",
                api={"concurrency": 1, "max_retries": 2, "circuit_breaker": 3},
            )
        ]
        job = _job(filtered_path, tmp_path / "r", models, name="api-down")
        first = run_job(job)
        outcome = first.outcomes[0]
        assert outcome.status == "failed" and "is down" in outcome.error and "--resume" in outcome.error
        assert 0 < outcome.n_records < 6 and outcome.n_records % 2 == 0
        kept = run_query(
            connect(tmp_path / "r"), "SELECT example_id, score_chosen, shard FROM records ORDER BY ALL"
        ).to_pylist()
        server.down = False
        server.down_after = None
        second = run_job(job, resume=True)
        assert second.ok and second.run_id == first.run_id
        rows = run_query(
            connect(tmp_path / "r"), "SELECT example_id, score_chosen, shard FROM records ORDER BY ALL"
        ).to_pylist()
        assert len(rows) == 6 and all(r in rows for r in kept)
        assert len({(r["example_id"], r["shard"]) for r in rows}) == 6


def test_fallback_parser_through_a_run(ray_cluster, filtered_path, tmp_path):
    """A run with a fallback parser: its verdicts land in the stored records (schema 7 ``fallback``), its traffic
    in the manifest apart (``api.fallback``), and the views report the parse failure rate before and after it."""
    import hashlib

    def words_only(content: str) -> bool:
        return int(hashlib.sha256(content.encode()).hexdigest(), 16) % 3 == 0

    def judge(content: str) -> str:  # one output in three names its verdict in words only
        return "On balance I prefer reply A." if words_only(content) else "Reply A is better.\n[[A]]"

    def extractor(content: str) -> str:
        return "[[A]]" if "I prefer reply A." in content else "none"

    with FakeOpenAI(answer=judge) as server, FakeOpenAI(answer=extractor) as cheap:
        model = _api("api-f", server, mode="pairwise", order="both")
        model["fallback_parser"] = {
            "path": "cheap-extractor",
            "base_url": cheap.base_url,
            "api_key_env": KEY_ENV,
            "api": {
                "timeout_s": 2.0,
                "backoff_s": 0.01,
                "prices": {"prompt_per_million": 1, "completion_per_million": 1},
            },
        }
        result = run_job(_job(filtered_path, tmp_path / "r", [model], name="api-fallback"))
        assert result.ok, [(o.model, o.error) for o in result.outcomes]
        words = sum(words_only(e["body"]["messages"][0]["content"]) for e in server.log)
        judged, extracted = len(server.log), len(cheap.log)
    assert judged == 12 and 0 < words < 12  # 6 rows x 2 orders; the split depends only on the prompts
    con = connect(tmp_path / "r")
    outs = run_query(
        con, "SELECT o.fallback, o.parsed, o.label FROM (SELECT unnest(judge_outputs) AS o FROM records)"
    ).to_pylist()
    rescued = [o for o in outs if o["fallback"] is not None]
    assert len(outs) == 12 and len(rescued) == words
    assert all(o["fallback"] == "[[A]]" and o["label"] == "A" and o["parsed"] is not None for o in rescued)
    rel = run_query(
        con, "SELECT parse_failure_rate, primary_parse_failure_rate, rescued FROM judge_reliability"
    ).to_pylist()
    assert rel == [{"parse_failure_rate": 0.0, "primary_parse_failure_rate": words / 12, "rescued": words}]
    usage = next(m["api"] for m in read_manifests(tmp_path / "r")[0]["models"] if m["model"] == "api-f")
    assert usage["requests"] == 12 and usage["fallback"]["requests"] == extracted <= words
    assert usage["fallback"]["cost"] == pytest.approx(
        (usage["fallback"]["prompt_tokens"] + usage["fallback"]["completion_tokens"]) / 1e6
    )
