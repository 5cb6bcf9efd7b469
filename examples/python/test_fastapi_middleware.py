"""Tests of fastapi_middleware.py with Starlette's TestClient and a real local ingest stand-in.

Skipped when Starlette (and httpx, its TestClient's transport) is not installed:
`pip install starlette httpx` to run them.
"""

import json
import time
import unittest

from test_pulse_reporter import serve

try:
    from starlette.applications import Starlette
    from starlette.responses import JSONResponse, StreamingResponse
    from starlette.routing import Route
    from starlette.testclient import TestClient

    from fastapi_middleware import PulseMiddleware

    HAVE_STARLETTE = True
except ImportError:
    HAVE_STARLETTE = False


async def completion(request):
    return JSONResponse({"choices": [], "usage": {"prompt_tokens": 12, "completion_tokens": 34}})


async def streamed(request):
    async def chunks():
        for i in range(3):
            yield f"data: {json.dumps({'i': i})}\n\n"
        yield 'data: {"usage": {"prompt_tokens": 5, "completion_tokens": 3}}\n\n'
        yield "data: [DONE]\n\n"

    return StreamingResponse(chunks(), media_type="text/event-stream")


async def health(request):
    return JSONResponse({"ok": True})


@unittest.skipUnless(HAVE_STARLETTE, "starlette and httpx are not installed")
class PulseMiddlewareTest(unittest.TestCase):
    def test_reports_start_and_end_with_usage_and_ttft(self):
        server, url = serve([202])
        app = Starlette(routes=[Route("/v1/chat/completions", completion, methods=["POST"]), Route("/v1/stream", streamed, methods=["POST"]), Route("/health", health)])
        app.add_middleware(PulseMiddleware, pulse_url=url, node="fakeai-test")
        with TestClient(app) as client:
            self.assertEqual(client.post("/v1/chat/completions", json={"model": "gpt-4o"}).status_code, 200)
            self.assertIn("[DONE]", client.post("/v1/stream", json={"model": "llama", "stream": True}).text)
            client.get("/health")
            middleware = next(m for m in _middlewares(app) if isinstance(m, PulseMiddleware))
            stats = middleware.reporter.close()
        self.assertEqual(stats["sent"], 4)
        events = [e for r in server.requests for e in json.loads(r["body"]) if e["type"] != "node.gauge"]
        self.assertEqual([e["type"] for e in events], ["request.start", "request.end", "request.start", "request.end"])
        plain, stream = events[1], events[3]
        self.assertEqual((plain["endpoint"], plain["model"], plain["stream"], plain["status"]), ("/v1/chat/completions", "gpt-4o", False, 200))
        self.assertEqual((plain["prompt_tokens"], plain["completion_tokens"]), (12, 34))
        self.assertNotIn("ttft_ms", plain)
        self.assertEqual((stream["model"], stream["stream"], stream["completion_tokens"]), ("llama", True, 3))
        self.assertGreaterEqual(stream["latency_ms"], stream["ttft_ms"])
        self.assertEqual(events[0]["request_id"], plain["request_id"])
        server.shutdown()


def _middlewares(app):
    """The middleware instances of a started Starlette app, outermost first."""
    layer = app.middleware_stack
    while layer is not None:
        yield layer
        layer = getattr(layer, "app", None)


if __name__ == "__main__":
    unittest.main()
