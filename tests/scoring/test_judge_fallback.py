"""The fallback parser (``fallback_parser:``) against real local HTTP servers: a judge endpoint whose outputs are
constructed so that some parse, some are rescued by the extractor and some are not, and an extractor endpoint
answering from the judge output it is shown. Counts are worked out by hand below; the records, the usage
(``api.fallback``) and the views (``judge_stats``, ``judge_reliability``, ``leaderboard``) must show them."""

from __future__ import annotations

import re

import pytest

from orchestrator.config import JobConfig, model_spec
from orchestrator.errors import ConfigError, ModelError
from orchestrator.scoring.judge_cache import JudgeOutputCache
from orchestrator.scoring.judge_openai import OpenAIJudgeScorer, RequestFailed
from tests._openai_server import FakeOpenAI

N = 12
PROMPTS = [f"Question number {i}: what is {i} + {i}?" for i in range(N)]
CHOSEN = [f"It is {2 * i}." for i in range(N)]
REJECTED = [f"It is {2 * i + 1}." for i in range(N)]
KEY_ENV = "RAYWARD_TEST_KEY"
FALLBACK_KEY_ENV = "RAYWARD_TEST_FALLBACK_KEY"


def judge_answer(content: str) -> str:
    """Question i with i % 3 == 0: a strict verdict for the chosen reply; i % 3 == 1: the verdict in words only
    (unparseable, the extractor finds it); i % 3 == 2: no verdict (the same text in both orders)."""
    i = int(re.search(r"Question number (\d+):", content).group(1))
    label = "A" if f"[Reply A]\nIt is {2 * i}." in content else "B"  # where the chosen reply is shown
    if i % 3 == 0:
        return f"The reply {label} is exact.\n[[{label}]]"
    if i % 3 == 1:
        return f"For question {i}, reply {label} is better."
    return f"For question {i}, I cannot decide."


def extractor_answer(content: str) -> str:
    """Reads the judge output out of the shipped fallback prompt: a verdict in words becomes ``[[X]]``; question
    2's undecided output gets a label that does not exist (``[[C]]``), the other undecided ones ``none``."""
    output = content.split("[Assessment]\n", 1)[1].split("\n[End of Assessment]", 1)[0]
    m = re.search(r"reply ([AB]) is better", output)
    if m:
        return f"[[{m.group(1)}]]"
    if "question 2," in output:
        return "[[C]]"
    return "none"


@pytest.fixture
def keys(monkeypatch):
    monkeypatch.setenv(KEY_ENV, "sk-judge")
    monkeypatch.setenv(FALLBACK_KEY_ENV, "sk-extractor-never-logged")


def _fallback(server: FakeOpenAI, **kw) -> dict:
    return {
        "path": "cheap-extractor",
        "base_url": server.base_url,
        "api_key_env": FALLBACK_KEY_ENV,
        "api": {"timeout_s": 2.0, "backoff_s": 0.01, "max_backoff_s": 0.05, "concurrency": 4},
        **kw,
    }


def _spec(judge: FakeOpenAI, extractor: FakeOpenAI | None, **kw):
    return model_spec(
        name="api-judge",
        path="judge-model-1",
        kind="judge",
        backend="openai",
        base_url=judge.base_url,
        api_key_env=KEY_ENV,
        api={"timeout_s": 2.0, "backoff_s": 0.01, "max_backoff_s": 0.05, "concurrency": 4},
        **{"mode": "pairwise", "order": "both", **kw},
        **({"fallback_parser": _fallback(extractor)} if extractor is not None else {}),
    )


def _write_records(root, name: str, cols: dict) -> None:
    from orchestrator.results.records import SCHEMA_VERSION, make_table, write_manifest, write_shard

    n = len(cols["score_chosen"])
    table = make_table(
        {
            "schema_version": [SCHEMA_VERSION] * n,
            "run_id": ["r1"] * n,
            "benchmark": ["reward-bench"] * n,
            "model": [name] * n,
            "kind": ["judge"] * n,
            "subset": ["alpacaeval-easy"] * n,
            "example_id": list(range(n)),
            "row_index": list(range(n)),
            "prompt": PROMPTS,
            "shard": [0] * n,
            "scorer": ["openai"] * n,
            **{
                k: cols[k]
                for k in (
                    "chosen",
                    "rejected",
                    "score_chosen",
                    "score_rejected",
                    "correct",
                    "judge_outputs",
                    "parse_failures",
                    "position_consistent",
                    "judge_credit",
                )
            },
        }
    )
    write_shard(root, table, benchmark="reward-bench", model=name, run_id="r1", shard=0)
    entry = {"model": name, "benchmark": "reward-bench", "kind": "judge", "status": "ok", "n_records": n}
    write_manifest(root, {"run_id": "r1", "job": "synthetic", "models": [entry]})


def test_fallback_rescues_some_outputs_and_is_reported_apart(keys, tmp_path):
    with FakeOpenAI(answer=judge_answer) as judge, FakeOpenAI(answer=extractor_answer) as extractor:
        scorer = OpenAIJudgeScorer(_spec(judge, extractor))
        cols = scorer.pair_columns(PROMPTS, CHOSEN, REJECTED)
        usage = scorer.take_usage()
        judge_log, extractor_log = list(judge.log), list(extractor.log)
        plain = OpenAIJudgeScorer(_spec(judge, None)).pair_columns(PROMPTS, CHOSEN, REJECTED)

    # by hand: 12 questions x 2 orders = 24 outputs; i % 3 == 0 (0, 3, 6, 9): 8 parse; i % 3 == 1 (1, 4, 7, 10):
    # 8 do not and are rescued; i % 3 == 2 (2, 5, 8, 11): 8 do not and are not (question 2: [[C]], others: none)
    assert len(judge_log) == 24
    outs = [o for row in cols["judge_outputs"] for o in row]
    assert len(outs) == 24
    own = [o for o in outs if o["fallback"] is None]
    sent = [o for o in outs if o["fallback"] is not None]
    rescued = [o for o in sent if o["parsed"] is not None]
    assert len(own) == 8 and all(o["parsed"] == 1.0 for o in own)
    assert len(sent) == 16 and len(rescued) == 8
    assert all(o["parsed"] == 1.0 and o["fallback"] in ("[[A]]", "[[B]]") for o in rescued)
    assert all(o["label"] == ("A" if o["order"] == "AB" else "B") for o in rescued)
    # the judge's own raw output is kept as it was, the extractor's answer beside it
    assert all(re.fullmatch(r"For question \d+, reply [AB] is better\.", o["text"]) for o in rescued)
    failed = [o for o in sent if o["parsed"] is None]
    assert sorted(o["fallback"] for o in failed) == ["[[C]]"] * 2 + ["none"] * 6
    assert all(o["label"] is None for o in failed)  # an unparsed fallback answer stays a parse failure
    # the two orders of an undecided question show the same text: one extraction request for both (12 in all)
    assert len(extractor_log) == 12
    first = extractor_log[0]
    assert first["headers"]["Authorization"] == "Bearer sk-extractor-never-logged"
    body = first["body"]
    assert body["model"] == "cheap-extractor" and body["max_tokens"] == 16 and body["temperature"] == 0.0
    assert "replies labelled A, B" in body["messages"][0]["content"]
    assert '"[[X]]", with X one of A, B' in body["messages"][0]["content"]

    # records: credit 1 for questions 0, 1, 3, 4, ...; 0.5 for the undecided ones; without the fallback the
    # rescued questions would be 0.5 too
    assert cols["score_chosen"] == [0.5 if i % 3 == 2 else 1.0 for i in range(N)]
    assert plain["score_chosen"] == [1.0 if i % 3 == 0 else 0.5 for i in range(N)]
    assert cols["parse_failures"] == [2 if i % 3 == 2 else 0 for i in range(N)]
    assert cols["position_consistent"] == [None if i % 3 == 2 else True for i in range(N)]
    assert all(o["fallback"] is None for row in plain["judge_outputs"] for o in row)

    # usage: the judge's 24 requests, the extractor's 12 apart
    assert usage["requests"] == usage["responses"] == 24
    fb = usage["fallback"]
    assert fb["requests"] == fb["responses"] == 12 and fb["retries"] == {} and fb["cost"] is None
    assert fb["prompt_tokens"] > 0

    # the views: parse failures before the fallback 16/24, after it 8/24, 8 rescued
    from orchestrator.query.db import connect, leaderboard, run_query

    _write_records(tmp_path, "api-judge", cols)
    con = connect(tmp_path)
    try:
        stats = run_query(con, "SELECT * FROM judge_stats").to_pylist()[0]
        rel = run_query(con, "SELECT * FROM judge_reliability").to_pylist()[0]
        assert run_query(
            con,
            "SELECT count(*) AS n FROM (SELECT unnest(judge_outputs) AS o FROM records) WHERE o.fallback = 'none'",
        ).to_pylist() == [{"n": 6}]
    finally:
        con.close()
    assert stats["n_outputs"] == 24 and stats["parse_failures"] == 8 and stats["primary_parse_failures"] == 16
    assert stats["rescued"] == 8
    assert stats["parse_failure_rate"] == pytest.approx(8 / 24)
    assert stats["primary_parse_failure_rate"] == pytest.approx(16 / 24)
    assert rel["primary_parse_failure_rate"] == pytest.approx(16 / 24) and rel["rescued"] == 8
    assert rel["parse_failure_rate"] == pytest.approx(8 / 24)
    assert rel["position_consistency"] == 1.0  # 8 questions with both verdicts parsed, all consistent
    board = {r["model"]: r for r in leaderboard(tmp_path)}
    assert board["api-judge"]["primary_parse_failure_rate"] == pytest.approx(16 / 24)
    assert board["api-judge"]["parse_failure_rate"] == pytest.approx(8 / 24)


def test_rubric_fallback_uses_the_cache_and_the_judges_own_rules(keys, tmp_path):
    """Rubric scores: the extractor is told ``Score: N`` 0-5, and its answer is parsed by the rubric rule (a 7
    is out of range and stays a failure). A second scorer with the judge output cache sends nothing."""

    def rubric_judge(content: str) -> str:
        i = int(re.search(r"Question number (\d+):", content).group(1))
        return [f"Score: {i % 6}", f"I would give it {i % 6} points.", f"Question {i}: seven points."][i % 3]

    def rubric_extractor(content: str) -> str:
        assert '"Score: N", with N a whole number from 0 to 5' in content
        output = content.split("[Assessment]\n", 1)[1].split("\n[End of Assessment]", 1)[0]
        m = re.search(r"give it (\d) points", output)
        return f"Score: {m.group(1)}" if m else "Score: 7"

    cache = JudgeOutputCache(tmp_path)
    with FakeOpenAI(answer=rubric_judge) as judge, FakeOpenAI(answer=rubric_extractor) as extractor:
        spec = _spec(judge, extractor, mode="rubric", order=None)
        first = OpenAIJudgeScorer(spec)
        first.attach_output_cache(cache)
        a = first.pair_columns(PROMPTS[:6], CHOSEN[:6], REJECTED[:6])
        # 6 questions x 2 responses; the rubric judge's answer depends on the question only, so chosen and
        # rejected get the same text: questions 1, 4 are rescued (12 outputs: 4 own, 4 rescued, 4 failed)
        outs = [o for row in a["judge_outputs"] for o in row]
        assert [o["parsed"] for o in outs] == [0.0, 0.0, 1.0, 1.0, None, None, 3.0, 3.0, 4.0, 4.0, None, None]
        assert [o["fallback"] is not None for o in outs] == [False, False, True, True, True, True] * 2
        assert [o["fallback"] for o in outs if o["fallback"]] == ["Score: 1"] * 2 + ["Score: 7"] * 2 + [
            "Score: 4"
        ] * 2 + ["Score: 7"] * 2
        assert a["parse_failures"] == [0, 0, 2, 0, 0, 2]
        sent = len(extractor.log)
        assert sent == 4  # distinct texts: questions 1, 2, 4, 5
        second = OpenAIJudgeScorer(spec)
        second.attach_output_cache(cache)
        b = second.pair_columns(PROMPTS[:6], CHOSEN[:6], REJECTED[:6])
        assert len(extractor.log) == sent and b["judge_outputs"] == [
            [{**o, "cached": True} for o in row] for row in a["judge_outputs"]
        ]
        assert second.take_usage()["fallback"]["cached_outputs"] == 8  # 8 outputs, 4 distinct requests


def test_in_process_judge_with_a_fallback(keys, tiny_models):
    """Any backend takes a fallback parser: the tiny random LM never writes a verdict, so every output goes to
    the extractor (here one that always answers ``[[A]]``)."""
    with FakeOpenAI(answer=lambda content: "[[A]]") as extractor:
        spec = model_spec(
            name="tiny-judge",
            path=str(tiny_models["tiny-judge"]),
            kind="judge",
            mode="pairwise",
            order="both",
            max_new_tokens=4,
            fallback_parser=_fallback(extractor),
        )
        from orchestrator.scoring import make_scorer

        scorer = make_scorer(spec)
        cols = scorer.pair_columns(PROMPTS[:2], CHOSEN[:2], REJECTED[:2])
        usage = scorer.take_usage()
        texts = {o["text"] for row in cols["judge_outputs"] for o in row}
        assert len(extractor.log) == len(texts)
    outs = [o for row in cols["judge_outputs"] for o in row]
    assert len(outs) == 4 and all(o["fallback"] == "[[A]]" and o["label"] == "A" for o in outs)
    # [[A]] in both orders: an inconsistent pair, credit 0.5, but no parse failure
    assert cols["parse_failures"] == [0, 0] and cols["position_consistent"] == [False, False]
    assert usage["requests"] == 0 and usage["fallback"]["responses"] == len(texts)
    plain = make_scorer(spec.model_copy(update={"fallback_parser": None}))
    assert plain.info.fingerprint != scorer.info.fingerprint and plain.take_usage() is None


def test_fallback_failures_and_config_errors(keys, monkeypatch):
    with FakeOpenAI(answer=judge_answer) as judge, FakeOpenAI(answer=extractor_answer) as extractor:
        extractor.down = True
        spec = _spec(
            judge,
            None,
            fallback_parser=_fallback(
                extractor, api={"max_retries": 1, "backoff_s": 0.01, "circuit_breaker": 100}
            ),
        )
        # an extraction that used up its retries fails its row (an error record), like a judge request
        with pytest.raises(RequestFailed, match="failed 2 times, last: HTTP 503"):
            OpenAIJudgeScorer(spec).pair_columns(PROMPTS[1:2], CHOSEN[1:2], REJECTED[1:2])
        # rows whose outputs all parse send nothing to the extractor
        before = len(extractor.log)
        cols = OpenAIJudgeScorer(spec).pair_columns(PROMPTS[:1], CHOSEN[:1], REJECTED[:1])
        assert len(extractor.log) == before and cols["parse_failures"] == [0]
        monkeypatch.delenv(FALLBACK_KEY_ENV)
        with pytest.raises(
            ModelError, match=r"RAYWARD_TEST_FALLBACK_KEY \(fallback_parser.api_key_env\) is not set"
        ):
            OpenAIJudgeScorer(spec)
        assert len(extractor.log) == before
    base = {"name": "j", "benchmarks": [{}]}
    judge_model = {
        "name": "a",
        "path": "gpt",
        "kind": "judge",
        "backend": "openai",
        "base_url": "http://x/v1",
    }
    with pytest.raises(ConfigError, match="fallback_parser.promt: unknown key|promt"):
        JobConfig.from_dict(
            {
                **base,
                "models": [
                    {**judge_model, "fallback_parser": {"path": "m", "base_url": "http://x/v1", "promt": 1}}
                ],
            }
        )
    with pytest.raises(ConfigError, match="is not an http"):
        JobConfig.from_dict(
            {**base, "models": [{**judge_model, "fallback_parser": {"path": "m", "base_url": "x/v1"}}]}
        )
    with pytest.raises(ConfigError, match="fallback parser template file not found"):
        JobConfig.from_dict(
            {
                **base,
                "models": [
                    {
                        **judge_model,
                        "fallback_parser": {"path": "m", "base_url": "http://x/v1", "template": "no.jinja"},
                    }
                ],
            }
        )
    with pytest.raises(ConfigError, match="fallback_parser: an ensemble parses nothing itself"):
        JobConfig.from_dict(
            {
                **base,
                "models": [
                    judge_model,
                    {**judge_model, "name": "b"},
                    {
                        "name": "e",
                        "kind": "judge",
                        "members": ["a", "b"],
                        "fallback_parser": {"path": "m", "base_url": "http://x/v1"},
                    },
                ],
            }
        )
