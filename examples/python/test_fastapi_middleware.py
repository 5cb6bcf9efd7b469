"""Tests of fastapi_middleware.py with Starlette's TestClient and a real local ingest stand-in.

Skipped when Starlette (and httpx, its TestClient's transport) is not installed:
`pip install starlette httpx` to run them.
"""

import asyncio
import json
import unittest

from test_pulse_reporter import serve

try:
    from starlette.applications import Starlette
    from starlette.responses import JSONResponse, PlainTextResponse, StreamingResponse
    from starlette.routing import Route
    from starlette.testclient import TestClient

    from fastapi_middleware import PulseMiddleware

    HAVE_STARLETTE = True
except ImportError:
    HAVE_STARLETTE = False

FIRST_TOKEN_S = 0.1  # the streams' first token comes this long after the request…
PACE_S = 0.03  # …and each further one this long after the one before
TOKENS = 4


def sse(value) -> str:
    return f"data: {json.dumps(value)}\n\n"


async def completion(request):
    return JSONResponse({"choices": [], "usage": {"prompt_tokens": 12, "completion_tokens": 34}})


async def streamed(request):
    """An OpenAI chat stream at a known pace: the role chunk at once, then the tokens; usage with `?usage=1`
    (what `stream_options.include_usage` asks, without reading the body again: Starlette before 0.28 hangs on that)."""
    include_usage = request.query_params.get("usage") == "1"

    async def chunks():
        yield sse({"choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}}]})
        await asyncio.sleep(FIRST_TOKEN_S)
        for i in range(TOKENS):
            if i:
                await asyncio.sleep(PACE_S)
            yield sse({"choices": [{"index": 0, "delta": {"content": f"tok{i} "}}]})
        yield sse({"choices": [{"index": 0, "delta": {}, "finish_reason": "length"}]})
        if include_usage:
            yield sse({"choices": [], "usage": {"prompt_tokens": 5, "completion_tokens": TOKENS}})
        yield "data: [DONE]\n\n"

    return StreamingResponse(chunks(), media_type="text/event-stream")


async def broken_stream(request):
    async def chunks():
        yield sse({"choices": [{"index": 0, "delta": {"content": "a"}}]})
        yield sse({"error": {"message": "overloaded", "type": "server_overloaded"}})

    return StreamingResponse(chunks(), media_type="text/event-stream")


async def rate_limited(request):
    return JSONResponse({"error": {"message": "slow down", "type": "rate_limit_exceeded", "code": None}}, status_code=429)


async def unavailable(request):
    return PlainTextResponse("busy", status_code=503)


async def health(request):
    return JSONResponse({"ok": True})


@unittest.skipUnless(HAVE_STARLETTE, "starlette and httpx are not installed")
class PulseMiddlewareTest(unittest.TestCase):
    def run_app(self, calls):
        """Runs `calls(client)` against the app with the middleware; returns the request events it sent."""
        server, url = serve([202])
        routes = [
            Route("/v1/chat/completions", completion, methods=["POST"]),
            Route("/v1/stream", streamed, methods=["POST"]),
            Route("/v1/broken", broken_stream, methods=["POST"]),
            Route("/v1/limited", rate_limited, methods=["POST"]),
            Route("/v1/unavailable", unavailable, methods=["POST"]),
            Route("/health", health),
        ]
        app = Starlette(routes=routes)
        app.add_middleware(PulseMiddleware, pulse_url=url, node="fakeai-test")
        with TestClient(app) as client:
            calls(client)
            middleware = next(m for m in _middlewares(app) if isinstance(m, PulseMiddleware))
            stats = middleware.reporter.close()
        server.shutdown()
        server.server_close()
        self.assertEqual(stats["rejected"] + stats["dropped"], 0)
        return [e for r in server.requests for e in json.loads(r["body"]) if e["type"] != "node.gauge"]

    def test_reports_start_and_end_with_usage_and_ttft(self):
        def calls(client):
            self.assertEqual(client.post("/v1/chat/completions", json={"model": "gpt-4o"}).status_code, 200)
            body = client.post("/v1/stream?usage=1", json={"model": "llama", "stream": True, "stream_options": {"include_usage": True}}).text
            self.assertIn("[DONE]", body)
            client.get("/health")

        events = self.run_app(calls)
        self.assertEqual([e["type"] for e in events], ["request.start", "request.end", "request.start", "request.end"])
        plain, stream = events[1], events[3]
        self.assertEqual((plain["endpoint"], plain["model"], plain["stream"], plain["status"]), ("/v1/chat/completions", "gpt-4o", False, 200))
        self.assertEqual((plain["prompt_tokens"], plain["completion_tokens"]), (12, 34))
        self.assertNotIn("ttft_ms", plain)
        self.assertNotIn("error", plain)
        self.assertEqual((stream["model"], stream["stream"], stream["completion_tokens"]), ("llama", True, TOKENS))
        self.assertNotIn("tokens_estimated", stream)
        self.assertEqual(events[0]["request_id"], plain["request_id"])
        self.assert_paced(stream)

    def test_counts_content_chunks_when_the_stream_reports_no_usage(self):
        events = self.run_app(lambda client: client.post("/v1/stream", json={"model": "llama", "stream": True}))
        stream = events[1]
        self.assertEqual((stream["completion_tokens"], stream["tokens_estimated"]), (TOKENS, True))
        self.assert_paced(stream)

    def test_records_error_types(self):
        def calls(client):
            self.assertEqual(client.post("/v1/limited", json={"model": "m"}).status_code, 429)
            self.assertEqual(client.post("/v1/unavailable", json={"model": "m"}).status_code, 503)
            client.post("/v1/broken", json={"model": "m", "stream": True})

        ends = [e for e in self.run_app(calls) if e["type"] == "request.end"]
        self.assertEqual([(e["status"], e["error"]) for e in ends], [(429, "rate_limit_exceeded"), (503, "http_503"), (200, "server_overloaded")])
        self.assertEqual(ends[2]["completion_tokens"], 1)

    def assert_paced(self, stream):
        """TTFT at the first content chunk, not the role chunk; the tokens after it at the pace: ITL ≈ PACE_S."""
        self.assertGreaterEqual(stream["ttft_ms"], FIRST_TOKEN_S * 1000)
        itl = (stream["latency_ms"] - stream["ttft_ms"]) / (stream["completion_tokens"] - 1)
        # asyncio sleeps never end early but may end late, on a busy machine by a few ms each.
        self.assertGreaterEqual(itl, PACE_S * 1000 * 0.95)
        self.assertLess(itl, PACE_S * 1000 + 25)


def _middlewares(app):
    """The middleware instances of a started Starlette app, outermost first."""
    layer = app.middleware_stack
    while layer is not None:
        yield layer
        layer = getattr(layer, "app", None)


if __name__ == "__main__":
    unittest.main()
