"""The API judge (backend openai) against a real local HTTP server: canned completions, injected 429/500/slow/
dropped connections, retry counts, the circuit breaker, the key's handling and the judge output cache."""

from __future__ import annotations

import json

import pytest

from orchestrator.config import JobConfig, model_spec
from orchestrator.errors import ConfigError, ModelError
from orchestrator.scoring.judge_cache import JudgeOutputCache
from orchestrator.scoring.judge_openai import EndpointDown, OpenAIJudgeScorer, RequestFailed, request_key
from tests._openai_server import FakeOpenAI, canned_text

PROMPTS = [f"Question number {i}: what is {i} + {i}?" for i in range(12)]
CHOSEN = [f"It is {2 * i}." for i in range(12)]
REJECTED = [f"It is {2 * i + 1}." for i in range(12)]
KEY = "sk-test-do-not-log-0123456789"


@pytest.fixture
def api_key(monkeypatch):
    monkeypatch.setenv("RAYWARD_TEST_KEY", KEY)
    return KEY


def _spec(server: FakeOpenAI, **kw):
    api = {"timeout_s": 0.5, "backoff_s": 0.01, "max_backoff_s": 0.05, "concurrency": 4, **kw.pop("api", {})}
    return model_spec(
        name="api-judge",
        path="judge-model-1",
        kind="judge",
        backend="openai",
        base_url=server.base_url,
        api_key_env="RAYWARD_TEST_KEY",
        api=api,
        **kw,
    )


def test_config_keys():
    base = {"name": "m", "path": "gpt", "kind": "judge"}
    with pytest.raises(ConfigError, match="base_url: backend openai needs"):
        JobConfig.from_dict({"name": "j", "benchmarks": [{}], "models": [{**base, "backend": "openai"}]})
    with pytest.raises(ConfigError, match="base_url: only for backend openai"):
        JobConfig.from_dict(
            {"name": "j", "benchmarks": [{}], "models": [{**base, "base_url": "http://x/v1"}]}
        )
    with pytest.raises(ConfigError, match="headers: 'Authorization' would carry a secret"):
        JobConfig.from_dict(
            {
                "name": "j",
                "benchmarks": [{}],
                "models": [
                    {
                        **base,
                        "backend": "openai",
                        "base_url": "http://x/v1",
                        "api": {"headers": {"Authorization": "Bearer x"}},
                    }
                ],
            }
        )
    with pytest.raises(ConfigError, match="models.0.api.concurrenc: unknown key|api.concurrenc: unknown key"):
        JobConfig.from_dict(
            {
                "name": "j",
                "benchmarks": [{}],
                "models": [
                    {**base, "backend": "openai", "base_url": "http://x/v1", "api": {"concurrenc": 2}}
                ],
            }
        )


def test_missing_key_variable_fails_before_any_request(monkeypatch):
    monkeypatch.delenv("RAYWARD_TEST_KEY", raising=False)
    with FakeOpenAI() as server:
        with pytest.raises(ModelError, match="environment variable RAYWARD_TEST_KEY .*is not set"):
            OpenAIJudgeScorer(_spec(server))
        assert server.log == []


def test_pairwise_records_from_the_endpoint(api_key):
    with FakeOpenAI() as server:
        scorer = OpenAIJudgeScorer(_spec(server, mode="pairwise", order="both", seed=3))
        cols = scorer.pair_columns(PROMPTS, CHOSEN, REJECTED)
        usage = scorer.take_usage()
    assert len(server.log) == 24 == usage["requests"] == usage["responses"]
    sent = server.log[0]
    assert sent["path"] == "/v1/chat/completions"
    assert sent["headers"]["Authorization"] == f"Bearer {KEY}"
    body = sent["body"]
    assert body["model"] == "judge-model-1" and body["temperature"] == 0.0 and body["max_tokens"] == 512
    assert isinstance(body["seed"], int) and "top_p" not in body
    # every output is the server's canned text, parsed by the strict rules
    for outs in cols["judge_outputs"]:
        assert [o["order"] for o in outs] == ["AB", "BA"]
        for o in outs:
            assert (
                o["text"].endswith(("[[A]]", "[[B]]")) and o["label"] in ("A", "B") and o["cached"] is False
            )
    by_content = {json.dumps(e["body"]["messages"]): e["body"]["messages"][0]["content"] for e in server.log}
    texts = {canned_text(c) for c in by_content.values()}
    assert {o["text"] for outs in cols["judge_outputs"] for o in outs} == texts
    assert cols["judge_credit"] == cols["score_chosen"]
    assert usage["retries"] == {} and usage["prompt_tokens"] > 0 and usage["cost"] is None
    assert cols["tokens_chosen"] == [None] * 12


def test_faults_are_retried_and_counted(api_key):
    with FakeOpenAI() as clean:
        expected = OpenAIJudgeScorer(_spec(clean, mode="rubric")).pair_columns(PROMPTS, CHOSEN, REJECTED)
    with FakeOpenAI(fault_every=2) as server:
        scorer = OpenAIJudgeScorer(
            _spec(
                server, mode="rubric", api={"prices": {"prompt_per_million": 2, "completion_per_million": 8}}
            )
        )
        cols = scorer.pair_columns(PROMPTS, CHOSEN, REJECTED)
        usage = scorer.take_usage()
        injected = dict(server.injected)
    assert sum(injected.values()) >= 4 and all(injected[f] > 0 for f in ("429", "500", "slow", "drop")), (
        injected
    )
    # the records are exactly the fault-free run's
    assert cols["score_chosen"] == expected["score_chosen"] and cols["correct"] == expected["correct"]
    assert [[o["text"] for o in outs] for outs in cols["judge_outputs"]] == [
        [o["text"] for o in outs] for outs in expected["judge_outputs"]
    ]
    # one retry per injected fault, by cause
    assert usage["retries"] == {
        k: v
        for k, v in {
            "429": injected["429"],
            "5xx": injected["500"],
            "timeout": injected["slow"],
            "connection": injected["drop"],
        }.items()
        if v
    }
    assert usage["requests"] == 24 + sum(injected.values()) and usage["responses"] == 24
    assert usage["cost"] == pytest.approx((usage["prompt_tokens"] * 2 + usage["completion_tokens"] * 8) / 1e6)


def test_a_request_out_of_retries_fails_its_row_and_the_breaker_fails_the_model(api_key):
    with FakeOpenAI(faults={"number 5:": "500"}) as server:
        server.fault_every = 0
        scorer = OpenAIJudgeScorer(_spec(server, api={"max_retries": 0, "circuit_breaker": 5}))
        with pytest.raises(RequestFailed, match="failed 1 times, last: HTTP 500"):
            scorer.pair_columns(PROMPTS, CHOSEN, REJECTED)
        # the other requests were answered and are kept for the rows' retry (no request sent twice)
        before = len(server.log)
        cols = scorer.pair_columns(PROMPTS[:5], CHOSEN[:5], REJECTED[:5])
        assert len(server.log) == before and len(cols["score_chosen"]) == 5
    with FakeOpenAI() as server:
        server.down = True
        scorer = OpenAIJudgeScorer(
            _spec(server, api={"max_retries": 3, "circuit_breaker": 6, "concurrency": 2})
        )
        with pytest.raises(
            EndpointDown, match=r"endpoint http://127\.0\.0\.1:\d+/v1/chat/completions is down"
        ):
            scorer.pair_columns(PROMPTS, CHOSEN, REJECTED)
        assert len(server.log) <= 6 + 2  # the breaker stops the traffic (at most the attempts in flight more)


def test_client_errors_fail_at_once(api_key):
    with FakeOpenAI() as server:
        spec = _spec(server).model_copy(update={"base_url": server.base_url + "/wrong"})
        with pytest.raises(ModelError, match="answered HTTP 404"):
            OpenAIJudgeScorer(spec).pair_columns(PROMPTS[:2], CHOSEN[:2], REJECTED[:2])
        bodies = [json.dumps(e["body"], sort_keys=True) for e in server.log]
        assert bodies and len(set(bodies)) == len(bodies)  # no request retried after a 404


def test_judge_output_cache_answers_identical_requests(api_key, tmp_path):
    cache = JudgeOutputCache(tmp_path)
    with FakeOpenAI() as server:
        first = OpenAIJudgeScorer(_spec(server, mode="rubric"))
        first.attach_output_cache(cache)
        a = first.pair_columns(PROMPTS, CHOSEN, REJECTED)
        sent = len(server.log)
        second = OpenAIJudgeScorer(_spec(server, mode="rubric"))
        second.attach_output_cache(cache)
        b = second.pair_columns(PROMPTS, CHOSEN, REJECTED)
        assert len(server.log) == sent == 24  # nothing sent twice
        assert second.take_usage()["cached_outputs"] == 24
        assert all(o["cached"] for outs in b["judge_outputs"] for o in outs)
        assert [o["text"] for outs in b["judge_outputs"] for o in outs] == [
            o["text"] for outs in a["judge_outputs"] for o in outs
        ]
        # another seed or temperature is another request
        third = OpenAIJudgeScorer(_spec(server, mode="rubric", seed=9, temperature=0.7))
        third.attach_output_cache(cache)
        third.pair_columns(PROMPTS[:1], CHOSEN[:1], REJECTED[:1])
        assert len(server.log) == sent + 2
        # --no-cache: fresh requests, the cache refreshed
        fresh = OpenAIJudgeScorer(_spec(server, mode="rubric"))
        fresh.attach_output_cache(cache, read=False)
        c = fresh.pair_columns(PROMPTS[:2], CHOSEN[:2], REJECTED[:2])
        assert len(server.log) == sent + 2 + 4 and not any(
            o["cached"] for outs in c["judge_outputs"] for o in outs
        )
    files = list((tmp_path / "cache" / "judge-outputs").rglob("*.json"))
    assert len(files) == 26
    assert all(KEY not in f.read_text() for f in files)
    body = server.log[0]["body"]
    assert (
        tmp_path / "cache" / "judge-outputs" / request_key(body)[:2] / f"{request_key(body)}.json"
    ).is_file()


def test_rate_limit_spaces_requests(api_key):
    import time

    with FakeOpenAI() as server:
        scorer = OpenAIJudgeScorer(_spec(server, api={"requests_per_minute": 600, "concurrency": 8}))
        # the bucket starts full (600), so drain most of it first
        scorer.client.rpm.level = 0
        t0 = time.perf_counter()
        scorer.pair_columns(PROMPTS[:3], CHOSEN[:3], REJECTED[:3])  # 6 requests at 10/s
        elapsed = time.perf_counter() - t0
    assert elapsed >= 0.5, elapsed


def _arrivals_within_budget(log, t0: float, rate: float, slack: float = 0.0) -> list[tuple[float, float]]:
    """Each arrival (server-side time after ``t0``, tokens reported up to and including it) where the tokens
    reported so far exceed ``rate`` x elapsed + ``slack``: empty when the budget held at every arrival."""
    over, total = [], 0.0
    for entry in sorted(log, key=lambda e: e["t"]):
        total += entry["tokens"]
        elapsed = entry["t"] - t0
        if total > rate * elapsed + slack + 1e-6:
            over.append((round(elapsed, 3), total))
    return over


def _drained(scorer):
    import time

    bucket = scorer.client.tpm
    bucket.level, bucket.stamp = 0.0, time.monotonic()  # the bucket starts full: empty it, so it must spread
    return bucket.stamp


def test_tokens_per_minute_limit_spreads_requests(api_key):
    """``api.tokens_per_minute``: from an empty bucket, the tokens the endpoint reports for the requests that
    reached it by any moment never exceed the refill (tokens_per_minute / 60 per second) since then, checked on
    the server's own arrival log. Each request reserves its estimate (prompt characters / 4 + max_tokens), which
    the reported usage trues up: here the estimate is larger, so the refund lets more requests through than the
    reservations alone would (the next test shows the charge when it is smaller). Without the limit the same
    requests arrive at once (the bound fails at once)."""
    rate = 1500.0  # tokens per second
    with FakeOpenAI() as server:
        scorer = OpenAIJudgeScorer(
            _spec(
                server,
                mode="rubric",
                max_new_tokens=8,
                api={"tokens_per_minute": rate * 60, "concurrency": 8},
            )
        )
        t0 = _drained(scorer)
        scorer.pair_columns(PROMPTS, CHOSEN, REJECTED)  # 24 requests
        usage = scorer.take_usage()
        log = list(server.log)
    assert len(log) == 24 and all(e["tokens"] for e in log)
    total = sum(e["tokens"] for e in log)
    assert total == usage["prompt_tokens"] + usage["completion_tokens"]
    assert total > 2 * rate  # the budget binds: at least 2 s of refill are needed
    assert _arrivals_within_budget(log, t0, rate) == []
    estimate = sum(len(e["body"]["messages"][0]["content"]) / 4 + 8 for e in log)
    assert estimate > total  # the reservations were trued down to the usage (the refund)
    # control: the same requests without a limit break the bound at the first arrivals (8 in flight at once)
    with FakeOpenAI() as server:
        import time

        unlimited = OpenAIJudgeScorer(_spec(server, mode="rubric", max_new_tokens=8, api={"concurrency": 8}))
        t0 = time.monotonic()
        unlimited.pair_columns(PROMPTS, CHOSEN, REJECTED)
        assert _arrivals_within_budget(server.log, t0, rate) != []


def test_tokens_per_minute_charges_usage_above_the_estimate(api_key):
    """An endpoint that reports three times the tokens the client estimated: the true-up charges the excess, so
    later requests wait for it. One request in flight (concurrency 1): before each request reserves, every
    earlier one is charged in full, so the bound holds up to the excess of the last request alone."""
    rate = 1500.0
    with FakeOpenAI(usage_scale=3.0) as server:
        scorer = OpenAIJudgeScorer(
            _spec(
                server,
                mode="rubric",
                max_new_tokens=8,
                api={"tokens_per_minute": rate * 60, "concurrency": 1},
            )
        )
        t0 = _drained(scorer)
        scorer.pair_columns(PROMPTS[:4], CHOSEN[:4], REJECTED[:4])  # 8 requests
        log = list(server.log)
    estimates = [len(e["body"]["messages"][0]["content"]) / 4 + 8 for e in log]
    excess = max(e["tokens"] - est for e, est in zip(log, estimates))
    assert excess > 0 and sum(e["tokens"] for e in log) > 2 * sum(estimates)  # the usage exceeds the guesses
    assert _arrivals_within_budget(log, t0, rate, slack=excess) == []
    # the reservations alone would have let the 8 requests through by sum(estimates) / rate: the usage-based
    # charge made them wait longer (a lower bound on time, robust on a loaded machine)
    tokens_before_last = sum(sorted((e["t"], e["tokens"]) for e in log)[i][1] for i in range(len(log) - 1))
    assert max(e["t"] for e in log) - t0 >= tokens_before_last / rate - 1e-3
