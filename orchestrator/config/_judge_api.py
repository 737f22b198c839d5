"""Settings of API judges (``kind: judge``, ``backend: openai``): limits, retries, circuit breaker, prices."""

from __future__ import annotations

from pydantic import Field, field_validator

from orchestrator.config._base import Strict


class Prices(Strict):
    """What an API charges, in currency units (e.g. USD) per million tokens; the manifest reports the cost."""

    prompt_per_million: float = Field(ge=0)
    """Price of one million prompt (input) tokens."""

    completion_per_million: float = Field(ge=0)
    """Price of one million completion (output) tokens."""


class ApiSettings(Strict):
    """How an API judge (``backend: openai``) talks to its endpoint; none of these change an output, so they are
    not part of the score cache's key."""

    concurrency: int = Field(default=8, ge=1, le=1024)
    """Requests in flight at once per actor (async I/O, one event loop; no thread per request)."""

    requests_per_minute: float | None = Field(default=None, gt=0)
    """Requests started per minute per actor (a token bucket; default no limit)."""

    tokens_per_minute: float | None = Field(default=None, gt=0)
    """Tokens per minute per actor: each request reserves its estimated prompt tokens (characters / 4) plus
    ``max_new_tokens`` and is trued up with the reported usage (default no limit)."""

    timeout_s: float = Field(default=120.0, gt=0)
    """Per-request timeout in seconds (connect, read and write); a timeout is retried."""

    max_retries: int = Field(default=6, ge=0)
    """Retries of one request after a 429, 408, 5xx, timeout or dropped connection; then the example's row
    fails (an error record, counted against ``failures.max_error_rate``)."""

    backoff_s: float = Field(default=1.0, gt=0)
    """First retry delay in seconds; it doubles per retry (capped by ``max_backoff_s``) with full jitter
    (uniform in [delay/2, delay]); a ``Retry-After`` header (seconds) is honoured instead."""

    max_backoff_s: float = Field(default=60.0, gt=0)
    """Longest delay between two tries of one request."""

    circuit_breaker: int = Field(default=20, ge=1)
    """Consecutive failed attempts (timeouts, dropped connections, 5xx; not 429s, which only slow down) after
    which the endpoint counts as down: the model fails with an error saying so; shards already judged stay
    committed and ``rayward run --resume`` continues."""

    headers: dict[str, str] = {}
    """Extra HTTP headers (e.g. a gateway's version header); never put a secret here, use ``api_key_env``."""

    auth_header: str = "Authorization"
    """The header carrying the key: ``Authorization`` sends ``Bearer <key>``; any other name (e.g.
    ``x-api-key`` for Anthropic-compatible gateways) sends the key as is."""

    prices: Prices | None = None
    """Optional price table; the manifest then reports each model's cost."""

    @field_validator("headers")
    @classmethod
    def _no_auth_in_headers(cls, value: dict[str, str]) -> dict[str, str]:
        for name in value:
            if name.lower() in ("authorization", "x-api-key", "api-key"):
                raise ValueError(f"headers: {name!r} would carry a secret in the job file; use api_key_env")
        return value


class FallbackParser(Strict):
    """A second, cheap judge call that extracts the verdict from a judge output that did not parse
    (``fallback_parser:`` of a ``kind: judge`` model, any backend). The extractor is an OpenAI-compatible
    chat-completions endpoint; it reads only the judge's raw output (rendered into ``template``) and answers in the
    judge's own verdict format, which is parsed by the judge's own rules. Outputs it rescues are marked in the
    records (``judge_outputs[].fallback`` holds its raw answer) and counted apart in ``judge_reliability``."""

    path: str = Field(min_length=1)
    """The extractor's model id at the endpoint (e.g. ``gpt-4o-mini``)."""

    base_url: str
    """The extractor endpoint's base URL up to ``/v1``; requests go to ``<base_url>/chat/completions``."""

    api_key_env: str | None = None
    """The environment variable holding the extractor endpoint's key (default ``OPENAI_API_KEY``; any value,
    e.g. ``EMPTY``, for a server that needs none). Never written to records, manifests, logs or cache keys."""

    template: str | None = None
    """A Jinja prompt file for the extraction request (default the shipped
    ``orchestrator/judge_templates/fallback.jinja``). Variables: ``output`` (the judge's raw output),
    ``instruction`` (the judge's own prompt), ``verdict`` (``score``, ``rating`` or ``label``), ``labels`` (the
    allowed labels, e.g. ``['A', 'B']``; empty for scores), ``low`` and ``high`` (the score range)."""

    max_new_tokens: int = Field(default=16, ge=1)
    """Longest extractor answer in tokens (the verdict alone is a few tokens)."""

    api: ApiSettings | None = None
    """Concurrency, rate limits, timeouts, retries and prices of the extractor's endpoint (its defaults when
    left out); the manifest counts its traffic apart (``api.fallback``)."""

    @field_validator("base_url")
    @classmethod
    def _http(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError(f"{value!r} is not an http(s) URL")
        return value

    @field_validator("template")
    @classmethod
    def _template_file(cls, value: str | None) -> str | None:
        from orchestrator.config._base import existing_file

        return existing_file(value, "fallback parser template")
