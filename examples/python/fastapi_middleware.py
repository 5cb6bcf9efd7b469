"""Pulse events from a FastAPI (Starlette) app — how a FakeAI node reports.

    from fastapi import FastAPI
    from fastapi_middleware import PulseMiddleware

    app = FastAPI()
    app.add_middleware(PulseMiddleware, pulse_url="http://localhost:8000", node="fakeai-1")

Every request to an OpenAI-style endpoint sends `request.start` when it
arrives and `request.end` when its last byte is sent, with what Pulse's
figures read: the status; the latency; for a stream, the time to first
token (when the first chunk carrying generated content goes out: an event
stream's role-only opening chunk is not a token); token usage when the
response reports it (a JSON body, or a stream's last chunk with
`stream_options.include_usage`), else for an event stream its content
chunks counted, one token each, marked `tokens_estimated`; and for a
failure the OpenAI error body's `type` (else `http_<status>`). So a stream's
inter-token latency, (latency - TTFT) / (tokens - 1), is the server's own.
The node's in-flight counts go out as a `node.gauge` every few seconds.
Needs `fastapi` (or just `starlette`); the reporter itself is standard
library.
"""

from __future__ import annotations

import codecs
import json
import threading
import time
import uuid

from starlette.middleware.base import BaseHTTPMiddleware
from starlette.requests import Request

from pulse_reporter import PulseReporter

REPORTED_PREFIX = "/v1/"
GAUGE_EVERY_SECONDS = 2.0
MAX_JSON_BODY_CHARS = 1 << 20  # a larger JSON body is passed on without being read


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
        event_stream = response.headers.get("content-type", "").startswith("text/event-stream")
        response.body_iterator = self._watch(response.body_iterator, common, started, response.status_code, _BodyWatcher(event_stream))
        return response

    async def _watch(self, chunks, common: dict, started: float, status: int, body: _BodyWatcher):
        """Passes the body through, noting the first chunk and the first content chunk, and reading what the body reports."""
        first = first_content = None
        try:
            async for chunk in chunks:
                now = time.monotonic()
                if first is None:
                    first = now
                body.write(chunk)
                if body.pieces and first_content is None:
                    first_content = now
                yield chunk
        finally:
            body.close()
            # TTFT at the first token; a stream that is not an event stream has no content chunks to tell: its first chunk.
            token_at = first_content if body.event_stream else first
            ttft = (token_at - started) * 1000 if token_at is not None and common["stream"] else None
            error = body.error_type or (f"http_{status}" if status >= 400 else None)
            self._end(common, started, status=status, error=error, ttft_ms=ttft, usage=body.usage, pieces=body.pieces if body.event_stream else None)

    def _end(self, common: dict, started: float, *, status: int, error: str | None = None, ttft_ms: float | None = None, usage: dict | None = None, pieces: int | None = None) -> None:
        self._count(-1, common["stream"])
        event = {"type": "request.end", "ts": time.time(), **common, "status": status, "latency_ms": (time.monotonic() - started) * 1000}
        if error:
            event["error"] = error[:256]
        if ttft_ms is not None:
            event["ttft_ms"] = ttft_ms
        for key in ("prompt_tokens", "completion_tokens"):
            if isinstance((usage or {}).get(key), int):
                event[key] = usage[key]
        if "completion_tokens" not in event and pieces is not None:
            event["completion_tokens"] = pieces
            event["tokens_estimated"] = True
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


class _BodyWatcher:
    """What a response body reports, read as it goes by without holding it: its `usage`, an OpenAI
    error's type, and for an event stream the choices carrying generated content (one token each)."""

    def __init__(self, event_stream: bool) -> None:
        self.event_stream = event_stream
        self.usage: dict = {}
        self.error_type: str | None = None
        self.pieces = 0
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._pending = ""  # an event stream's unfinished line, or a JSON body so far
        self._oversized = False

    def write(self, chunk: bytes | str) -> None:
        if self._oversized:
            return
        self._pending += self._decoder.decode(chunk) if isinstance(chunk, bytes) else chunk
        if not self.event_stream:
            if len(self._pending) > MAX_JSON_BODY_CHARS:  # passed on unread rather than held
                self._oversized, self._pending = True, ""
            return
        *lines, self._pending = self._pending.split("\n")
        for line in lines:
            if line.startswith("data:"):
                self._read(line[len("data:"):].strip())

    def close(self) -> None:
        if not self.event_stream:
            self._read(self._pending)

    def _read(self, payload: str) -> None:
        value = _json(payload.encode())
        if isinstance(value.get("usage"), dict):
            self.usage = value["usage"]
        if value.get("error") and self.error_type is None:
            self.error_type = _error_type(value["error"])
        choices = value.get("choices")
        self.pieces += sum(1 for c in choices if _generated(c)) if isinstance(choices, list) else 0


def _error_type(error) -> str:
    """An OpenAI error object's `type`, else its `code`; a bare string as it is."""
    if isinstance(error, dict):
        error = error.get("type") or error.get("code")
    return error if isinstance(error, str) and error else "error"


def _generated(choice) -> bool:
    """A chunk's choice carries generated tokens: chat `delta.content`, `reasoning_content` or `tool_calls`, or completions `text`."""
    if not isinstance(choice, dict):
        return False
    delta = choice.get("delta") if isinstance(choice.get("delta"), dict) else {}
    return bool(choice.get("text") or delta.get("content") or delta.get("reasoning_content") or delta.get("tool_calls"))
