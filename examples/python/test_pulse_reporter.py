"""Tests of pulse_reporter.py against a real local HTTP server: `python3 -m unittest test_pulse_reporter`."""

import contextlib
import http.server
import io
import json
import threading
import unittest

from pulse_reporter import PulseReporter, _simulate


class Ingest(http.server.BaseHTTPRequestHandler):
    """Answers from the server's `script` (one status per request, the last repeating) and records each request."""

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        server = self.server
        server.requests.append({"key": self.headers.get("Idempotency-Key"), "body": body})
        status = server.script[min(len(server.requests), len(server.script)) - 1]
        if status == 202:
            events = json.loads(body)
            reply = json.dumps({"accepted": len(events), "rejected": []}).encode()
        else:
            reply = b'{"error":"nope"}'
        self.send_response(status)
        if status == 503:
            self.send_header("Retry-After", "0.2")
        self.send_header("Content-Length", str(len(reply)))
        self.end_headers()
        self.wfile.write(reply)

    def log_message(self, *args):
        pass


def serve(script):
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Ingest)
    server.script = script
    server.requests = []
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"


def event(i):
    return {"type": "request.start", "ts": 1.0, "node": "n", "request_id": str(i), "endpoint": "/e", "model": "m"}


class PulseReporterTest(unittest.TestCase):
    def test_batches_and_flushes_on_close(self):
        server, url = serve([202])
        reporter = PulseReporter(url, max_batch=4)
        for i in range(10):
            self.assertTrue(reporter.report(event(i)))
        stats = reporter.close()
        self.assertEqual(stats["sent"], 10)
        self.assertEqual(sum(len(json.loads(r["body"])) for r in server.requests), 10)
        self.assertTrue(all(len(json.loads(r["body"])) <= 4 for r in server.requests))
        server.shutdown()

    def test_retries_one_batch_under_one_key_and_honours_retry_after(self):
        server, url = serve([503, 503, 202])
        reporter = PulseReporter(url, initial_delay=0.001, max_delay=0.002)
        reporter.report(event(1))
        stats = reporter.close(timeout=5)
        self.assertEqual(stats["sent"], 1)
        self.assertEqual(stats["retries"], 2)
        self.assertEqual(len(server.requests), 3)
        self.assertEqual(len({r["key"] for r in server.requests}), 1)
        self.assertEqual(len({r["body"] for r in server.requests}), 1)
        server.shutdown()

    def test_gives_up_a_batch_answered_4xx(self):
        server, url = serve([400])
        reporter = PulseReporter(url)
        reporter.report(event(1))
        stats = reporter.close()
        self.assertEqual((stats["sent"], stats["rejected"], stats["retries"]), (0, 1, 0))
        server.shutdown()

    def test_bounded_buffer_counts_drops_and_close_deadline(self):
        # Nothing listens on port 9 (discard) here: every attempt is a network error.
        reporter = PulseReporter("http://127.0.0.1:9", max_buffered=5, initial_delay=0.05, max_delay=0.1)
        accepted = sum(reporter.report(event(i)) for i in range(12))
        self.assertEqual(accepted, 5)
        stats = reporter.close(timeout=0.3)
        self.assertEqual(stats["sent"], 0)
        self.assertEqual(stats["dropped"], 12)
        self.assertFalse(reporter.report(event(99)))

    def test_simulated_requests_carry_the_llm_figures_under_ids_of_their_own_run(self):
        server, url = serve([202])
        runs = []
        for _ in range(2):
            with contextlib.redirect_stdout(io.StringIO()):
                _simulate(url, 20, "sim-py")
            runs.append([e for r in server.requests for e in json.loads(r["body"]) if e["type"] == "request.end"])
            server.requests.clear()
        server.shutdown()
        server.server_close()
        first, second = runs
        self.assertFalse({e["request_id"] for e in first} & {e["request_id"] for e in second})
        for end in first:
            self.assertNotIn("stream", end)  # left to the start, which streams
            if end["status"] >= 400:
                self.assertEqual((end["status"], end["error"], end["completion_tokens"]), (429, "rate_limit_exceeded", 0))
                continue
            self.assertGreaterEqual(end["completion_tokens"], 2)
            itl = (end["latency_ms"] - end["ttft_ms"]) / (end["completion_tokens"] - 1)
            self.assertTrue(10 - 1e-9 <= itl <= 20 + 1e-9, itl)
        self.assertEqual(sum(e["status"] >= 400 for e in first), 2)


if __name__ == "__main__":
    unittest.main()
