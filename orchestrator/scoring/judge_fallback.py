"""The fallback parser: a second, cheap judge call that extracts the verdict from an output that did not parse.

Configured per judge model (``fallback_parser:``, :class:`~orchestrator.config.FallbackParser`), for any backend.
After a batch is judged and parsed, every output whose verdict did not parse is sent, alone, to the extractor's
OpenAI-compatible endpoint: the extractor sees the judge's raw output rendered into its template (shipped:
``orchestrator/judge_templates/fallback.jinja``), is told the verdict format the judge was asked for (``[[A]]`` /
``[[B]]``, ``[[A]]``..``[[D]]``, ``Score: N`` 0-5, a 1-10 rating) and answers in it. Its answer is parsed by the
judge's own rules (and protocol); when it parses, it becomes the output's ``parsed``/``label``, otherwise the output
stays a parse failure; never a score of its own. Either way ``judge_outputs[].fallback`` keeps the extractor's raw
answer, so the records tell outputs the judge got right (``fallback`` null, ``parsed`` set) from ones the fallback
rescued (both set) and ones nothing could parse (``parsed`` null); ``judge_stats`` / ``judge_reliability`` report
the parse failure rate before and after the fallback.

Requests go through the same client as ``backend: openai`` (limits, retries, circuit breaker; greedy, a seed
derived from the output's text) and the same judge output cache, so an identical extraction is never sent twice.
A fallback request that used up its retries makes its example an error record, as a judge request would.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from orchestrator.config import ApiSettings, FallbackParser
from orchestrator.errors import ModelError
from orchestrator.scoring.judge_records import Request, derive_seed, parse_output, verdict_format

logger = logging.getLogger(__name__)

VARIABLES = ("output", "instruction", "verdict", "labels", "low", "high")


def default_fallback_template() -> Path:
    from importlib import resources

    return Path(str(resources.files("orchestrator") / "judge_templates" / "fallback.jinja"))


class FallbackCaller:
    """One judge's fallback parser: its endpoint client, template and cache."""

    def __init__(self, judge: str, spec: FallbackParser):
        from jinja2 import TemplateSyntaxError

        from orchestrator.scoring.judge_openai import Completions, EndpointClient, api_key
        from orchestrator.scoring.judge_prompts import _environment

        self.spec = spec
        self.api = spec.api or ApiSettings()
        key = api_key(judge, spec.api_key_env, "fallback_parser.api_key_env")
        self.client = EndpointClient(f"{judge} (fallback parser)", spec.base_url, key, self.api)
        self.completions = Completions(self.client)
        file = Path(spec.template).expanduser() if spec.template else default_fallback_template()
        self.source = str(file)
        try:
            self.text = file.read_text(encoding="utf-8")
            self._template = _environment().from_string(self.text)
        except OSError as exc:
            raise ModelError(f"fallback parser template {file}: cannot read: {exc.strerror or exc}") from None
        except TemplateSyntaxError as exc:
            raise ModelError(f"fallback parser template {file}:{exc.lineno}: {exc.message}") from None
        self.render("probe", "probe", ("label", ("A", "B"), 0, 0))  # unknown variables fail here, once

    def identity(self) -> dict[str, Any]:
        """What the rescued verdicts depend on (part of the judge's fingerprint): model id, template, length."""
        return {
            "path": self.spec.path,
            "template_text": self.text,
            "max_new_tokens": self.spec.max_new_tokens,
        }

    def render(self, output: str, instruction: str, fmt: tuple[str, tuple[str, ...], int, int]) -> str:
        verdict, labels, low, high = fmt
        try:
            return self._template.render(
                output=output,
                instruction=instruction,
                verdict=verdict,
                labels=list(labels),
                low=low,
                high=high,
            )
        except Exception as exc:  # jinja2 errors name the template
            raise ModelError(f"fallback parser template {self.source}: cannot render: {exc}") from None

    def body(self, req: Request, text: str, how: str) -> dict[str, Any]:
        return {
            "model": self.spec.path,
            "messages": [
                {"role": "user", "content": self.render(text, req.instruction, verdict_format(req, how))}
            ],
            "max_tokens": self.spec.max_new_tokens,
            "temperature": 0.0,
            "seed": derive_seed(0, "fallback", text),
        }

    def rescue(
        self,
        requests: Sequence[Request],
        per_example: list[list[dict[str, Any]]],
        how: str,
        first_wins: bool = False,
    ) -> None:
        """Send every unparsed output of ``per_example`` (built from ``requests`` in order, parse mode ``how``) to
        the extractor and put its verdict in place; marks each such output's ``fallback`` with the raw answer."""
        seen = [0] * len(per_example)
        pending: list[tuple[Request, dict[str, Any]]] = []
        for req in requests:
            out = per_example[req.example][seen[req.example]]
            seen[req.example] += 1
            if out["parsed"] is None and isinstance(out["text"], str):
                pending.append((req, out))
        if not pending:
            return
        start = time.perf_counter()
        answers, _ = self.completions.texts([self.body(req, out["text"], how) for req, out in pending])
        rescued = 0
        for (req, out), answer in zip(pending, answers):
            parsed, label = parse_output(req, answer, how, first_wins)
            out["fallback"] = answer
            out["parsed"], out["label"] = parsed, label
            rescued += parsed is not None
        logger.info(
            "fallback parser: %d of %d unparsed outputs rescued in %.2fs",
            rescued,
            len(pending),
            time.perf_counter() - start,
        )
