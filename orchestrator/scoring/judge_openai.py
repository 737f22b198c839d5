"""LLM-as-a-judge behind an OpenAI-compatible chat-completions endpoint (``kind: judge``, ``backend: openai``).

The same plans, templates and records as the in-process judges (:class:`orchestrator.scoring.judge.JudgeBase`);
only generation differs: each request is one ``POST <base_url>/chat/completions`` with the judge instruction as
one user message, ``max_tokens``, ``temperature`` (``top_p`` when sampling) and the request's content-derived
``seed`` (endpoints that take seeds repeat their outputs; others ignore it).

I/O is asynchronous (``httpx.AsyncClient`` on one event loop inside the actor, no thread per request), bounded by

* ``api.concurrency`` requests in flight, ``api.requests_per_minute`` and ``api.tokens_per_minute`` token buckets
  (a request reserves its estimated prompt tokens, characters / 4, plus ``max_tokens``; the reservation is trued
  up with the usage the endpoint reports);
* ``api.timeout_s`` per request; retries (``api.max_retries``) after 429, 408, 409, 5xx, timeouts and dropped
  connections, with exponential backoff and full jitter, or after the ``Retry-After`` the endpoint asked for;
* a circuit breaker: ``api.circuit_breaker`` consecutive failed attempts (429s excluded) mean the endpoint is
  down, and the model fails with a :class:`ModelError` saying so (the driver keeps every committed shard; a
  ``--resume`` continues). A request that used up its retries while the endpoint is otherwise answering, or
  that the endpoint refuses (400, 413, 422: e.g. a prompt over its context length; prompts are not truncated
  on this backend), makes its example an error record (``failures.max_error_rate``); other HTTP errors (401,
  403, 404...) fail the model at once, since every request would get them.

The API key comes only from the environment variable named by ``api_key_env`` (default ``OPENAI_API_KEY``); it
is sent in a header and never logged, recorded or hashed. Every identical request (model id, messages, sampling
settings, seed) is answered from the judge output cache when one is attached
(:mod:`orchestrator.scoring.judge_cache`), so no request is sent twice across runs; ``--no-cache`` sends fresh
ones (and refreshes the cache). Token usage, request and retry counts (and the cost, given ``api.prices``) are
collected per shard and summed into the run manifest by the driver.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import os
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from orchestrator.config import ApiSettings, JudgeSpec
from orchestrator.errors import ModelError
from orchestrator.scoring.judge import JudgeBase
from orchestrator.scoring.judge_records import Request

logger = logging.getLogger(__name__)

DEFAULT_API_KEY_ENV = "OPENAI_API_KEY"
RETRY_STATUS = frozenset({408, 409, 429})
ROW_STATUS = frozenset({400, 413, 422})
"""Answers that condemn one request, not the endpoint (an over-long prompt): its example becomes an error record."""


class RequestFailed(Exception):
    """One request still failed after all its retries (its example becomes an error record)."""


class EndpointDown(ModelError):
    """The circuit breaker opened: the endpoint failed too many attempts in a row."""


@dataclass
class ApiUsage:
    """Counters of one actor's traffic since the last :meth:`OpenAIJudgeScorer.take_usage`."""

    requests: int = 0
    """HTTP attempts sent (first tries and retries)."""
    responses: int = 0
    """Completions received (HTTP 200 with a parseable body)."""
    retries: dict[str, int] = field(default_factory=dict)
    """Retries by cause: ``429``, ``5xx``, ``408``/``409``, ``timeout``, ``connection``."""
    failed_requests: int = 0
    """Requests that used up their retries."""
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_outputs: int = 0
    """Outputs answered by the judge output cache (no request sent)."""

    def add(self, other: dict[str, Any]) -> None:
        for name in ("requests", "responses", "failed_requests", "prompt_tokens", "completion_tokens"):
            setattr(self, name, getattr(self, name) + int(other.get(name) or 0))
        self.cached_outputs += int(other.get("cached_outputs") or 0)
        for cause, n in (other.get("retries") or {}).items():
            self.retries[cause] = self.retries.get(cause, 0) + int(n)


def cost(usage: dict[str, Any], prices: Any) -> float | None:
    """The cost of ``usage`` under a price table (per million tokens), or None without one."""
    if prices is None:
        return None
    return (
        usage.get("prompt_tokens", 0) * prices.prompt_per_million
        + usage.get("completion_tokens", 0) * prices.completion_per_million
    ) / 1e6


class _Bucket:
    """A token bucket refilled continuously at ``per_minute / 60`` per second, holding at most ``per_minute``."""

    def __init__(self, per_minute: float):
        self.capacity = float(per_minute)
        self.rate = self.capacity / 60.0
        self.level = self.capacity
        self.stamp = time.monotonic()

    def _refill(self) -> None:
        now = time.monotonic()
        self.level = min(self.capacity, self.level + (now - self.stamp) * self.rate)
        self.stamp = now

    async def take(self, n: float) -> None:
        n = min(float(n), self.capacity)  # a request larger than the bucket waits for a full one
        while True:
            self._refill()
            if self.level >= n:
                self.level -= n
                return
            await asyncio.sleep((n - self.level) / self.rate)

    def give(self, n: float) -> None:
        """Return (n > 0) or charge (n < 0) tokens after the fact (the reservation trued up)."""
        self._refill()
        self.level = min(self.capacity, self.level + n)


def _retry_after(value: str | None) -> float | None:
    """Seconds from a ``Retry-After`` header (a number; HTTP dates are taken as absent)."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None


class EndpointClient:
    """Chat completions against one endpoint with limits, retries and a circuit breaker (see the module doc)."""

    def __init__(self, name: str, base_url: str, key: str, settings: ApiSettings):
        self.name = name
        self.url = base_url.rstrip("/") + "/chat/completions"
        self.settings = settings
        value = f"Bearer {key}" if settings.auth_header.lower() == "authorization" else key
        self._headers = {**settings.headers, settings.auth_header: value}
        self.usage = ApiUsage()
        self.consecutive_failures = 0
        self.rpm = _Bucket(settings.requests_per_minute) if settings.requests_per_minute else None
        self.tpm = _Bucket(settings.tokens_per_minute) if settings.tokens_per_minute else None

    @property
    def down(self) -> bool:
        return self.consecutive_failures >= self.settings.circuit_breaker

    def _down_error(self, last: str) -> EndpointDown:
        return EndpointDown(
            f"model {self.name!r}: endpoint {self.url} is down: {self.consecutive_failures} consecutive failed "
            f"attempts (api.circuit_breaker), last: {last}; judged shards are committed, "
            "`rayward run --resume` continues"
        )

    def complete_all(self, bodies: Sequence[dict[str, Any]]) -> list[dict[str, Any] | BaseException]:
        """Each body's parsed response (``{"text", "usage"}``) or the exception that ended it, in order."""
        return asyncio.run(self._all(bodies))

    async def _all(self, bodies: Sequence[dict[str, Any]]) -> list[dict[str, Any] | BaseException]:
        import httpx

        timeout = httpx.Timeout(self.settings.timeout_s)
        limits = httpx.Limits(max_connections=self.settings.concurrency)
        gate = asyncio.Semaphore(self.settings.concurrency)
        async with httpx.AsyncClient(timeout=timeout, limits=limits, headers=self._headers) as client:
            tasks = [asyncio.ensure_future(self._one(client, gate, body)) for body in bodies]
            try:
                return list(await asyncio.gather(*tasks, return_exceptions=True))
            finally:
                for t in tasks:
                    t.cancel()

    async def _one(self, client: Any, gate: asyncio.Semaphore, body: dict[str, Any]) -> dict[str, Any]:
        import httpx

        s = self.settings
        estimate = sum(len(m["content"]) for m in body["messages"]) / 4 + body.get("max_tokens", 0)
        attempt = 0
        last = "no attempt"
        while True:
            if self.down:
                raise self._down_error(last)
            async with gate:
                if self.rpm:
                    await self.rpm.take(1)
                if self.tpm:
                    await self.tpm.take(estimate)
                if self.down:
                    raise self._down_error(last)
                self.usage.requests += 1
                retry_after = None
                try:
                    response = await client.post(self.url, json=body)
                except httpx.TimeoutException:
                    cause, last = "timeout", f"no response within {s.timeout_s:g} s"
                except httpx.TransportError as exc:
                    cause, last = "connection", f"{type(exc).__name__}: {exc}".strip()
                else:
                    status = response.status_code
                    if status == 200:
                        try:
                            parsed = _parse_completion(response.json())
                        except (ValueError, KeyError, TypeError, IndexError) as exc:
                            cause, last = "5xx", f"malformed completion: {exc}"
                        else:
                            self.consecutive_failures = 0
                            self.usage.responses += 1
                            self.usage.prompt_tokens += parsed["usage"]["prompt_tokens"]
                            self.usage.completion_tokens += parsed["usage"]["completion_tokens"]
                            if self.tpm:
                                used = parsed["usage"]["prompt_tokens"] + parsed["usage"]["completion_tokens"]
                                self.tpm.give(estimate - used if used else 0)
                            return parsed
                    elif status in RETRY_STATUS or status >= 500:
                        cause = "5xx" if status >= 500 else str(status)
                        last = f"HTTP {status}"
                        retry_after = _retry_after(response.headers.get("retry-after"))
                    elif status in ROW_STATUS:  # this request is bad (e.g. over the context length)
                        self.consecutive_failures = 0
                        self.usage.failed_requests += 1
                        raise RequestFailed(
                            f"endpoint {self.url} refused the request with HTTP {status}: "
                            f"{response.text.strip()[:300]}"
                        )
                    else:
                        raise ModelError(
                            f"model {self.name!r}: endpoint {self.url} answered HTTP {status}: "
                            f"{response.text.strip()[:300]}"
                        )
                if cause != "429":
                    self.consecutive_failures += 1
            attempt += 1
            if attempt > s.max_retries:
                self.usage.failed_requests += 1
                if self.down:
                    raise self._down_error(last)
                raise RequestFailed(f"request to {self.url} failed {attempt} times, last: {last}")
            self.usage.retries[cause] = self.usage.retries.get(cause, 0) + 1
            if retry_after is not None:
                delay = min(retry_after, s.max_backoff_s)
            else:
                ceiling = min(s.max_backoff_s, s.backoff_s * 2 ** (attempt - 1))
                delay = random.uniform(ceiling / 2, ceiling)
            logger.info(
                "model %s: %s; retry %d of %d in %.2fs", self.name, last, attempt, s.max_retries, delay
            )
            await asyncio.sleep(delay)


def _parse_completion(doc: Any) -> dict[str, Any]:
    """The text and token usage of a chat-completions response body."""
    choice = doc["choices"][0]
    message = choice.get("message") or {}
    text = message.get("content")
    if text is None:
        text = choice.get("text")
    if not isinstance(text, str):
        raise ValueError("no message content")
    usage = doc.get("usage") or {}
    return {
        "text": text,
        "usage": {
            "prompt_tokens": int(usage.get("prompt_tokens") or 0),
            "completion_tokens": int(usage.get("completion_tokens") or 0),
        },
        "finish_reason": choice.get("finish_reason"),
    }


def request_key(body: dict[str, Any]) -> str:
    """The judge output cache's key of a request: sha256 over model id, messages, sampling settings and seed
    (no URL, no header, no key)."""
    fields = {k: body.get(k) for k in ("model", "messages", "max_tokens", "temperature", "top_p", "seed")}
    blob = json.dumps(fields, ensure_ascii=False, sort_keys=True).encode()
    return hashlib.sha256(blob).hexdigest()


class Completions:
    """An :class:`EndpointClient` behind the judge output cache and this actor's memo: each distinct request is
    answered once (memo: within the actor, e.g. a bisected shard; cache: across runs), failures raise."""

    def __init__(self, client: EndpointClient):
        self.client = client
        self.output_cache: Any = None
        self.read_cache = True
        self._memo: dict[str, dict[str, Any] | BaseException] = {}

    def texts(self, bodies: Sequence[dict[str, Any]]) -> tuple[list[str], list[bool]]:
        """Each body's completion text and whether the judge output cache answered it. A request that used up
        its retries raises :class:`RequestFailed` (the worker isolates its row); an endpoint that is down or
        refuses everyone raises :class:`ModelError`."""
        keys = [request_key(b) for b in bodies]
        found: dict[str, dict[str, Any] | BaseException] = {}
        cached: set[str] = set()
        for key in dict.fromkeys(keys):
            if key in self._memo:
                found[key] = self._memo[key]
            elif self.output_cache is not None and self.read_cache:
                hit = self.output_cache.get(key)
                if hit is not None:
                    found[key] = hit
                    cached.add(key)
        todo = [k for k in dict.fromkeys(keys) if k not in found]
        first = {k: bodies[keys.index(k)] for k in todo}
        results = self.client.complete_all([first[k] for k in todo]) if todo else []
        for k, result in zip(todo, results):
            if isinstance(result, EndpointDown) or (
                isinstance(result, ModelError) and not isinstance(result, RequestFailed)
            ):
                raise result
            found[k] = self._memo[k] = result
            if self.output_cache is not None and not isinstance(result, BaseException):
                self.output_cache.put(k, {"text": result["text"], "usage": result["usage"]})
        self.client.usage.cached_outputs += sum(keys.count(k) for k in cached)
        for k in keys:
            failure = found[k]
            if isinstance(failure, BaseException):
                raise failure  # RequestFailed: the worker isolates the row (an error record)
        return [found[k]["text"] for k in keys], [k in cached for k in keys]  # type: ignore[index]


def api_key(name: str, env: str | None, what: str = "api_key_env") -> str:
    """The key in the environment variable ``env`` (default ``OPENAI_API_KEY``), or a :class:`ModelError` naming
    the variable (never the key)."""
    env = env or DEFAULT_API_KEY_ENV
    key = os.environ.get(env)
    if not key:
        raise ModelError(
            f"model {name!r}: environment variable {env} ({what}) is not set; it must hold the "
            "endpoint's API key (any value, e.g. EMPTY, for a server that needs none)"
        )
    return key


def usage_document(usage: ApiUsage, prices: Any) -> dict[str, Any]:
    """One client's counters as the manifest's ``api`` fields (with the cost under ``prices``)."""
    out: dict[str, Any] = {
        "requests": usage.requests,
        "responses": usage.responses,
        "retries": dict(usage.retries),
        "failed_requests": usage.failed_requests,
        "prompt_tokens": usage.prompt_tokens,
        "completion_tokens": usage.completion_tokens,
        "cached_outputs": usage.cached_outputs,
    }
    out["cost"] = cost(out, prices)
    return out


class OpenAIJudgeScorer(JudgeBase):
    """A judge served behind an OpenAI-compatible chat-completions endpoint."""

    backend = "openai"
    device = "api"

    def __init__(self, spec: JudgeSpec, device: str = "cpu"):
        from orchestrator.scoring._protocol import ModelInfo

        start = time.perf_counter()
        key = api_key(spec.name, spec.api_key_env)
        self._setup(spec, None)
        self.api = spec.api or ApiSettings()
        self.client = EndpointClient(spec.name, spec.base_url or "", key, self.api)
        self.completions = Completions(self.client)
        identity = f"openai:{spec.path}"
        self.info = ModelInfo(
            path=spec.path,
            revision=None,
            fingerprint=self._fingerprint(identity),
            dtype="api",
            device="api",
            load_seconds=time.perf_counter() - start,
            num_parameters=0,
            extra={
                "judge": dict(vars(self.settings)),
                "template": self.template.source,
                "endpoint": spec.base_url,
                "model_fingerprint": identity,
            },
        )

    def attach_output_cache(self, cache: Any, read: bool = True) -> None:
        """Answer identical requests from ``cache`` (a :class:`~orchestrator.scoring.judge_cache.JudgeOutputCache`);
        ``read=False`` sends every request and only refreshes the cache (the fallback parser's requests too)."""
        self.completions.output_cache = cache
        self.completions.read_cache = read
        super().attach_output_cache(cache, read)

    def take_usage(self) -> dict[str, Any]:
        """The traffic counters since the last call (the worker attaches them to each shard), with the cost;
        the fallback parser's traffic under ``fallback``."""
        usage, self.client.usage = self.client.usage, ApiUsage()
        out = usage_document(usage, self.api.prices)
        out["fallback"] = self._fallback_usage()
        return out

    def body(self, request: Request) -> dict[str, Any]:
        s = self.settings
        body: dict[str, Any] = {
            "model": self.spec.path,
            "messages": [{"role": "user", "content": request.instruction}],
            "max_tokens": s.max_new_tokens,
            "temperature": 0.0 if s.greedy else s.temperature,
            "seed": int(request.seed),
        }
        if not s.greedy and s.top_p < 1:
            body["top_p"] = s.top_p
        return body

    def generate_marked(self, requests: Sequence[Request]) -> tuple[list[str], list[bool]]:
        if not requests:
            return [], []
        start = time.perf_counter()
        texts, marks = self.completions.texts([self.body(r) for r in requests])
        logger.info(
            "judged %d requests (%d cached) in %.2fs", len(requests), sum(marks), time.perf_counter() - start
        )
        return texts, marks

    def generate(self, requests: Sequence[Request]) -> list[str]:
        return self.generate_marked(requests)[0]

    def _response_tokens(self, texts: Sequence[str | None]) -> list[int | None]:
        return [None for _ in texts]  # no tokenizer: the endpoint's is unknown
