"""A judge served by ``vllm serve`` (vLLM's own OpenAI-compatible server) on a tiny model, bound to 127.0.0.1:
rubric and pairwise records through ``backend: openai`` equal the in-process vLLM backend's on the same model
(greedy), and with a fault-injecting proxy in front of the server (429 with Retry-After, 500, slow answers,
dropped connections) every example still gets exactly its record, with the retries counted.

Runs in the vLLM venv (``pytest -m vllm``; see ``.ci/vllm``)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request

import pytest

from tests._openai_server import FakeOpenAI

pytestmark = pytest.mark.vllm

os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", "1")
os.environ.setdefault("VLLM_ENABLE_V1_MULTIPROCESSING", "0")
os.environ.setdefault("RAYWARD_SERVE_KEY", "EMPTY")


@pytest.fixture(scope="module")
def judge_path(tmp_path_factory):
    from orchestrator.tiny import build_tiny_model

    return build_tiny_model(
        tmp_path_factory.mktemp("vllm-serve") / "tiny-judge-64",
        kind="causal",
        seed="tiny-judge",
        hidden_size=256,
    )


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def served(judge_path, tmp_path_factory):
    """``vllm serve`` on the tiny judge at 127.0.0.1 (greedy outputs do not depend on the server's seed)."""
    port = _free_port()
    log = tmp_path_factory.mktemp("serve-log") / "vllm-serve.log"
    cmd = [
        sys.executable, "-m", "vllm.entrypoints.openai.api_server",
        "--model", str(judge_path), "--host", "127.0.0.1", "--port", str(port),
        "--dtype", "float32", "--max-model-len", "2048", "--seed", "0",
        "--no-enable-chunked-prefill", "--max-num-batched-tokens", "4096",
    ]  # fmt: skip
    with open(log, "wb") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 600
        while True:
            if proc.poll() is not None:
                pytest.fail(f"vllm serve exited ({proc.returncode}):\n{log.read_text()[-3000:]}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/v1/models", timeout=2):
                    break
            except OSError:
                if time.monotonic() > deadline:
                    pytest.fail(f"vllm serve did not come up:\n{log.read_text()[-3000:]}")
                time.sleep(2)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()


MAX_LENGTH = 1024


@pytest.fixture(scope="module")
def examples(filtered_path, judge_path):
    """Eight rows whose judge prompts (rubric and pairwise, through the chat template) fit ``MAX_LENGTH`` tokens.
    The in-process backends cut a longer prompt to ``max_length`` (default protocol) while the API backend
    sends it whole, so on a longer row the two judge different prompts: that, not numerics, was the one rubric
    output of eight that differed (a 600-character row took 1,032 tokens of this tiny model's vocabulary)."""
    import pyarrow.parquet as pq

    from orchestrator.config import model_spec
    from orchestrator.scoring._hf import load_tokenizer
    from orchestrator.scoring.judge_prompts import chat_prompt, load_template

    tokenizer = load_tokenizer(model_spec(name="t", path=str(judge_path), kind="judge"))
    rubric, pairwise = load_template("rubric"), load_template("pairwise")

    def longest(p, c, r):
        texts = [rubric.render(p, c), rubric.render(p, r), pairwise.render(p, c, r), pairwise.render(p, r, c)]
        prompts = [chat_prompt(tokenizer, t) for t in texts]
        return max(len(x) for x in tokenizer(prompts, add_special_tokens=False)["input_ids"])

    table = pq.read_table(filtered_path).to_pydict()
    rows = list(zip(table["prompt"], table["chosen"], table["rejected"]))
    short = [i for i, (p, c, r) in enumerate(rows) if len(p) + max(len(c), len(r)) < 1200]
    fit = [i for i in short if longest(*rows[i]) <= MAX_LENGTH]
    idx = fit[:: max(1, len(fit) // 8)][:8]
    assert len(idx) == 8, f"only {len(idx)} rows fit {MAX_LENGTH} tokens"
    return tuple([rows[i][k] for i in idx] for k in range(3))


def _spec(judge_path, backend, **kw):
    from orchestrator.config import model_spec

    extra = {}
    if backend == "openai":
        extra = {"base_url": kw.pop("base_url"), "api_key_env": "RAYWARD_SERVE_KEY", "api": kw.pop("api", {})}
    return model_spec(
        name="tiny-judge",
        path=str(judge_path),
        kind="judge",
        backend=backend,
        max_new_tokens=16,
        max_length=MAX_LENGTH,
        **extra,
        **kw,
    )


def _tail_trimmed(text: str) -> str:
    while text and (not text[-1].isprintable() or text[-1] == "\ufffd"):
        text = text[:-1]
    return text


def _texts(cols):
    """Outputs as (target, order, text, parsed). The server detokenizes incrementally and renders a multi-byte
    character cut by ``max_tokens`` as U+FFFD at the very end of an output, where decoding the ids at once drops
    it; trailing unprintable characters are the only difference allowed (verdicts never live there)."""
    return [
        [(o["target"], o["order"], _tail_trimmed(o["text"]), o["parsed"]) for o in outs]
        for outs in cols["judge_outputs"]
    ]


@pytest.mark.parametrize("mode, extra", [("rubric", {}), ("pairwise", {"order": "both"})])
def test_served_judge_equals_in_process_vllm(judge_path, served, examples, mode, extra):
    from orchestrator.scoring import make_scorer

    local = make_scorer(_spec(judge_path, "vllm", mode=mode, **extra))
    api = make_scorer(_spec(judge_path, "openai", mode=mode, base_url=served + "/v1", **extra))
    a, b = local.pair_columns(*examples), api.pair_columns(*examples)
    assert _texts(b) == _texts(a)
    for key in ("score_chosen", "score_rejected", "correct", "parse_failures", "position_consistent"):
        assert b[key] == a[key], key


def test_faults_in_front_of_vllm_serve_lose_nothing(judge_path, served, examples):
    """Faults injected by a proxy in front of the real server: every example gets exactly its record (the
    outputs of a fault-free run), nothing is lost, and each injected fault is one retry in the usage, by cause.

    A timeout retry must come from the injected slow answers alone, never from a real answer that is merely slow
    on a loaded machine: the client's timeout is scaled to the real server's latency (measured through a
    fault-free proxy on the same requests: 4x the slowest answer, at least 20 s), and a slow fault holds its
    answer past that timeout. The schedule is fixed: the first attempt of every second distinct request, in
    arrival order, gets the next fault of 429 (Retry-After), 500, slow, dropped connection."""
    from orchestrator.scoring import make_scorer

    with FakeOpenAI(upstream=served) as clean_proxy:
        clean = make_scorer(_spec(judge_path, "openai", mode="rubric", base_url=clean_proxy.base_url))
        expected = clean.pair_columns(*examples)
        slowest = max(e["upstream_s"] for e in clean_proxy.log)
        assert sum(clean.take_usage()["retries"].values()) == 0
    timeout = max(20.0, 4 * slowest)
    with FakeOpenAI(upstream=served, fault_every=2, slow_s=timeout + 5) as proxy:
        api = make_scorer(
            _spec(
                judge_path,
                "openai",
                mode="rubric",
                base_url=proxy.base_url,
                api={"timeout_s": timeout, "backoff_s": 0.05, "max_backoff_s": 0.2},
            )
        )
        got = api.pair_columns(*examples)
        usage = api.take_usage()
        injected = dict(proxy.injected)
        real = [e["upstream_s"] for e in proxy.log if "upstream_s" in e and e["fault"] is None]
    n = 2 * len(examples[0])  # rubric: chosen and rejected of each example, all distinct requests
    assert len({json.dumps(e["body"], sort_keys=True) for e in proxy.log}) == n
    assert len(got["judge_outputs"]) == len(examples[0]) and all(len(o) == 2 for o in got["judge_outputs"])
    assert _texts(got) == _texts(expected)
    for key in ("score_chosen", "score_rejected", "correct", "parse_failures"):
        assert got[key] == expected[key], key
    # 16 distinct requests, every second one faulted: 8 faults, two of each kind
    assert injected == {"429": 2, "500": 2, "slow": 2, "drop": 2}, injected
    assert usage["retries"] == {"429": 2, "5xx": 2, "timeout": 2, "connection": 2}, (usage, max(real))
    assert usage["requests"] == n + 8 and usage["responses"] == n and usage["failed_requests"] == 0


def test_job_with_a_served_judge_an_in_process_judge_and_their_ensemble(
    ray_cluster, judge_path, served, examples, filtered_path, tmp_path
):
    """One Ray job: a judge behind ``vllm serve`` (``backend: openai``), the same model judging in-process
    (transformers), a second served judge, and the three as a PoLL ensemble. Every example gets one record per
    model, none an error; the served judge's records equal its scorer's outputs outside the job; the ensemble keeps
    every member's outputs and sits beside its members on the leaderboard; the manifest counts the requests."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from orchestrator.config import JobConfig
    from orchestrator.query.db import connect, leaderboard, run_query
    from orchestrator.results.records import read_manifests
    from orchestrator.runtime.driver import run_job
    from orchestrator.scoring import make_scorer

    table = pq.read_table(filtered_path)
    wanted = set(zip(examples[0], examples[1], examples[2]))
    rows = [r for r in table.to_pylist() if (r["prompt"], r["chosen"], r["rejected"]) in wanted]
    assert len(rows) == len(examples[0])
    source = tmp_path / "rows.parquet"
    pq.write_table(pa.Table.from_pylist(rows, schema=table.schema), source)
    judge = {"kind": "judge", "mode": "pairwise", "max_new_tokens": 16, "max_length": MAX_LENGTH}
    api = {
        "backend": "openai",
        "base_url": served + "/v1",
        "api_key_env": "RAYWARD_SERVE_KEY",
        "path": str(judge_path),
    }
    models = [
        {"name": "served", **judge, **api, "order": "both"},
        {"name": "local", **judge, "path": str(judge_path)},
        {"name": "served-b", **judge, **api, "seed": 7},
        {"name": "poll", "kind": "judge", "mode": "pairwise", "members": ["served", "local", "served-b"]},
    ]
    results = tmp_path / "r"
    job = JobConfig.from_dict(
        {
            "name": "served-judges",
            "benchmarks": [{"name": "reward-bench", "source": str(source)}],
            "models": models,
            "resources": {"gpus_per_actor": 1, "cpus_per_actor": 1, "shard_size": 4},
            "results": str(results),
        }
    )
    result = run_job(job)
    assert result.ok, [(o.model, o.error) for o in result.outcomes]
    con = connect(results)
    counts = run_query(
        con, "SELECT model, count(*) AS n, count(error) AS errors FROM records GROUP BY model ORDER BY model"
    ).to_pylist()
    n = len(rows)
    assert counts == [{"model": m, "n": n, "errors": 0} for m in ("local", "poll", "served", "served-b")]
    # the served judge's records are what its scorer gives outside the job (greedy; both orders)
    direct = make_scorer(_spec(judge_path, "openai", mode="pairwise", order="both", base_url=served + "/v1"))
    want = direct.pair_columns(
        [r["prompt"] for r in rows], [r["chosen"] for r in rows], [r["rejected"] for r in rows]
    )
    got = run_query(
        con,
        "SELECT row_index, score_chosen, score_rejected, judge_outputs FROM records WHERE model = 'served' ORDER BY row_index",
    ).to_pylist()
    assert [r["score_chosen"] for r in got] == want["score_chosen"]
    assert [r["score_rejected"] for r in got] == want["score_rejected"]
    assert [[(o["order"], _tail_trimmed(o["text"])) for o in r["judge_outputs"]] for r in got] == [
        [(o["order"], _tail_trimmed(o["text"])) for o in outs] for outs in want["judge_outputs"]
    ]
    poll = run_query(con, "SELECT judge_outputs FROM records WHERE model = 'poll'").to_pylist()
    assert all(
        sorted({o["member"] for o in r["judge_outputs"]}) == ["local", "served", "served-b"] for r in poll
    )
    board = {r["model"]: r for r in leaderboard(results)}
    assert set(board) == {"local", "poll", "served", "served-b"}
    usage = {m["model"]: m["api"] for m in read_manifests(results)[0]["models"] if m["api"]}
    assert usage["served"]["responses"] == 2 * n and usage["served-b"]["responses"] == n
