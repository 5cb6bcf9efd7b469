"""Pulse events from a FastAPI (Starlette) app — how a FakeAI node reports.

    from fastapi import FastAPI
    from fastapi_middleware import PulseMiddleware

    app = FastAPI()
    app.add_middleware(PulseMiddleware, pulse_url="http://localhost:8000", node="fakeai-1")

Every request to an OpenAI-style endpoint sends `request.start` when it
arrives and `request.end` when its last byte is sent, with the status,
latency, time to first token (for a streamed body: when its first chunk
goes out) and token usage when the JSON response reports it. The node's own
in-flight counts go out as a `node.gauge` every few seconds. Needs
`fastapi` (or just `starlette`); the reporter itself is standard library.
"""

from __future__ import annotations

import json
import threading
import time
import uuid

from starlette.middleware.base import BaseHTTPMiddleware
from starlette.requests import Request

from pulse_reporter import PulseReporter

REPORTED_PREFIX = "/v1/"
GAUGE_EVERY_SECONDS = 2.0


class PulseMiddleware(BaseHTTPMiddleware):
    def __init__(self, app, pulse_url: str, node: str) -> None:
        super().__init__(app)
        self.node = node
        self.reporter = PulseReporter(pulse_url)
        self.in_flight = 0
        self.streaming = 0
        self.lock = threading.Lock()
        threading.Thread(target=self._gauges, name="pulse-gauges", daemon=True).start()

    async def dispatch(self, request: Request, call_next):
        if not request.url.path.startswith(REPORTED_PREFIX):
            return await call_next(request)
        body = await request.body()  # Starlette caches it: the endpoint still reads it
        params = _json(body)
        common = {
            "node": self.node,
            "request_id": request.headers.get("x-request-id") or uuid.uuid4().hex,
            "endpoint": request.url.path,
            "model": str(params.get("model") or "unknown")[:256],
            "stream": bool(params.get("stream")),
        }
        started = time.monotonic()
        self._count(+1, common["stream"])
        self.reporter.report({"type": "request.start", "ts": time.time(), **common})
        try:
            response = await call_next(request)
        except Exception as err:
            self._end(common, started, status=500, error=type(err).__name__)
            raise
        # The request ends with its last byte, so the end is reported by the body's wrapper.
        response.body_iterator = self._watch_stream(response.body_iterator, common, started, response.status_code)
        return response

    async def _watch_stream(self, chunks, common: dict, started: float, status: int):
        """Passes the body through, noting the first chunk (TTFT) and any usage the last JSON chunk carries."""
        first = None
        usage: dict = {}
        try:
            async for chunk in chunks:
                if first is None:
                    first = time.monotonic()
                usage = _usage(chunk) or usage
                yield chunk
        finally:
            ttft = (first - started) * 1000 if first is not None and common["stream"] else None
            self._end(common, started, status=status, ttft_ms=ttft, usage=usage)

    def _end(self, common: dict, started: float, *, status: int, error: str | None = None, ttft_ms: float | None = None, usage: dict | None = None) -> None:
        self._count(-1, common["stream"])
        event = {"type": "request.end", "ts": time.time(), **common, "status": status, "latency_ms": (time.monotonic() - started) * 1000}
        if error:
            event["error"] = error[:256]
        if ttft_ms is not None:
            event["ttft_ms"] = ttft_ms
        for key in ("prompt_tokens", "completion_tokens"):
            if isinstance((usage or {}).get(key), int):
                event[key] = usage[key]
        self.reporter.report(event)

    def _count(self, delta: int, stream: bool) -> None:
        with self.lock:
            self.in_flight += delta
            if stream:
                self.streaming += delta

    def _gauges(self) -> None:
        while True:
            time.sleep(GAUGE_EVERY_SECONDS)
            with self.lock:
                gauge = {"active_streams": self.streaming, "queue_depth": self.in_flight}
            self.reporter.report({"type": "node.gauge", "ts": time.time(), "node": self.node, **gauge})


def _json(body: bytes) -> dict:
    try:
        value = json.loads(body or b"{}")
        return value if isinstance(value, dict) else {}
    except ValueError:
        return {}


def _usage(chunk: bytes | str) -> dict:
    """The `usage` of a JSON body or of an SSE `data: {...}` line, when there is one."""
    text = chunk.decode(errors="ignore") if isinstance(chunk, bytes) else chunk
    for line in text.splitlines() or [text]:
        payload = line[len("data:"):].strip() if line.startswith("data:") else line.strip()
        if payload.startswith("{"):
            usage = _json(payload.encode()).get("usage")
            if isinstance(usage, dict):
                return usage
    return {}
