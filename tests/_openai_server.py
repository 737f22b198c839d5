"""A small OpenAI-compatible chat-completions server (standard library only) for the API judge tests; with
``upstream`` set, a fault-injecting proxy in front of a real server (``vllm serve``).

It answers ``POST /v1/chat/completions`` with a canned judgement that is a pure function of the request's
messages (so a rerun, a retry or another actor gets the same text), and can inject faults on the *first* attempt
of chosen requests: ``429`` with ``Retry-After``, ``500``, a slow answer (longer than the client's timeout) or a
dropped connection (the socket closed with no response). Every attempt is logged with its headers so tests can
check what was sent. ``down = True`` makes it answer 503 to everything (an endpoint that is down).
"""

from __future__ import annotations

import hashlib
import json
import re
import socket
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

FAULTS = ("429", "500", "slow", "drop")


def canned_text(content: str) -> str:
    """The judgement for one instruction: a verdict derived from the content's hash."""
    h = int(hashlib.sha256(content.encode()).hexdigest(), 16)
    if "[[D]]" in content:
        return f"Reply {'ABCD'[h % 4]} is the most helpful.\n[[{'ABCD'[h % 4]}]]"
    if "[[A]]" in content:
        return f"Both are fine, but one is clearer.\n[[{'AB'[h % 2]}]]"
    if "1 to 10" in content:
        return f"A reasonable reply.\n{1 + h % 10}"
    return f"The reply is on topic.\nScore: {h % 6}"


class FakeOpenAI:
    def __init__(
        self,
        faults: dict[str, str] | None = None,
        fault_every: int = 0,
        slow_s: float = 1.5,
        answer: Callable[[str], str] = canned_text,
        upstream: str | None = None,
        usage_scale: float = 1.0,
    ):
        """``fault_every`` > 0: the first attempt of every ``fault_every``-th distinct request (in arrival order)
        gets a fault, cycling through :data:`FAULTS`; ``faults`` maps a substring of the content to a fault."""
        self.faults = faults or {}
        self.fault_every = fault_every
        self.slow_s = slow_s
        self.answer = answer
        self.upstream = upstream
        """A real server's base URL (``http://host:port``): answers are forwarded from it (a fault-injecting
        proxy) instead of canned."""
        self.usage_scale = usage_scale
        """Reported ``prompt_tokens`` = words x this (an endpoint counting more tokens than the client guessed)."""
        self.down = False
        self.down_after: int | None = None
        """Go down (503 to everything) once this many requests were answered."""
        self.answered = 0
        self.log: list[dict[str, Any]] = []
        self.seen: dict[str, int] = {}
        self.injected: dict[str, int] = {f: 0 for f in FAULTS}
        self.lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:  # quiet
                pass

            def do_POST(self) -> None:
                outer._handle(self)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"

    def __enter__(self) -> FakeOpenAI:
        self.thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def _fault_for(self, content: str, attempt: int) -> str | None:
        if attempt > 1:
            return None
        for needle, fault in self.faults.items():
            if needle in content:
                return fault
        if self.fault_every:
            n = len(self.seen) - 1  # the n-th distinct request, in arrival order
            if n % self.fault_every == 0:
                return FAULTS[(n // self.fault_every) % len(FAULTS)]
        return None

    def _handle(self, handler: BaseHTTPRequestHandler) -> None:
        length = int(handler.headers.get("content-length") or 0)
        body = json.loads(handler.rfile.read(length) or b"{}")
        content = "\n".join(m.get("content", "") for m in body.get("messages", []))
        key = json.dumps(body, sort_keys=True)
        with self.lock:
            if self.down_after is not None and self.answered >= self.down_after:
                self.down = True
            attempt = self.seen[key] = self.seen.get(key, 0) + 1
            fault = None if self.down else self._fault_for(content, attempt)
            if fault:
                self.injected[fault] += 1
            entry = {
                "path": handler.path,
                "headers": dict(handler.headers),
                "body": body,
                "fault": fault,
                "t": time.monotonic(),  # arrival (the client's clock: the same process)
                "tokens": None,  # prompt + completion tokens reported in the answer (canned answers)
            }
            self.log.append(entry)
        if handler.path != "/v1/chat/completions":
            return self._send(handler, 404, {"error": {"message": f"no route {handler.path}"}})
        if self.down:
            return self._send(handler, 503, {"error": {"message": "service unavailable"}})
        if fault == "429":
            return self._send(handler, 429, {"error": {"message": "rate limited"}}, {"Retry-After": "0.05"})
        if fault == "500":
            return self._send(handler, 500, {"error": {"message": "internal error"}})
        if fault == "drop":
            handler.close_connection = True
            try:
                handler.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            return None
        if fault == "slow":
            time.sleep(self.slow_s)
        with self.lock:
            self.answered += 1
        if self.upstream is not None:
            return self._forward(handler, body, entry)
        text = self.answer(content)
        words = round(len(re.findall(r"\S+", content)) * self.usage_scale)
        entry["tokens"] = words + len(text.split())
        return self._send(
            handler,
            200,
            {
                "id": "cmpl-test",
                "object": "chat.completion",
                "model": body.get("model"),
                "choices": [
                    {"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}
                ],
                "usage": {
                    "prompt_tokens": words,
                    "completion_tokens": len(text.split()),
                    "total_tokens": words + len(text.split()),
                },
            },
        )

    def _forward(self, handler: BaseHTTPRequestHandler, body: dict[str, Any], entry: dict[str, Any]) -> None:
        import urllib.error
        import urllib.request

        start = time.monotonic()
        request = urllib.request.Request(
            self.upstream + handler.path,
            data=json.dumps(body).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        try:
            with urllib.request.urlopen(request, timeout=600) as response:
                status, doc = response.status, json.loads(response.read())
        except urllib.error.HTTPError as exc:
            status, doc = exc.code, json.loads(exc.read() or b"{}")
        entry["upstream_s"] = time.monotonic() - start  # how long the real server took to answer
        with self.lock:
            self.answered += 1
        return self._send(handler, status, doc)

    @staticmethod
    def _send(handler: Any, status: int, doc: dict[str, Any], headers: dict[str, str] | None = None) -> None:
        data = json.dumps(doc).encode()
        try:
            handler.send_response(status)
            handler.send_header("Content-Type", "application/json")
            handler.send_header("Content-Length", str(len(data)))
            for k, v in (headers or {}).items():
                handler.send_header(k, v)
            handler.end_headers()
            handler.wfile.write(data)
        except OSError:  # the client gave up (timeout) before the slow answer
            pass
