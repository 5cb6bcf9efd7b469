"""A Pulse reporter for Python producers (a FakeAI node), standard library only.

    reporter = PulseReporter("http://localhost:8000")
    reporter.report({"type": "request.start", "ts": time.time(), "node": "fakeai-1", ...})
    ...
    reporter.close()  # flushes; also runs at interpreter exit

Events are dicts in Pulse's ingest format (docs/PROTOCOL.md §3). A request is
a `request.start` and a `request.end` with the same `node` and `request_id`;
the end carries `status` and `latency_ms`, and what the LLM figures read:
`ttft_ms` and `completion_tokens` (a stream's inter-token latency is
(latency_ms - ttft_ms) / (completion_tokens - 1)), and `error`, its type
("rate_limit_exceeded"), when it failed. An end may leave `stream` out: it
then is what its start said.

Events are queued (never blocking the caller) and POSTed to /v1/events in
batches by one background thread, so a request's start reaches Pulse before
its end. A batch is retried on 503/429/5xx and network errors with
exponential backoff and full jitter (at least the server's Retry-After),
always under the same Idempotency-Key, so a retry after a lost reply is not
counted twice. The queue is bounded: what does not fit is dropped and
counted in `stats["dropped"]`.

Run it as a script to send a few simulated requests:

    python3 pulse_reporter.py http://localhost:8000 --requests 50
"""

from __future__ import annotations

import argparse
import atexit
import json
import random
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections import deque


class PulseReporter:
    def __init__(
        self,
        url: str,
        *,
        max_batch: int = 500,
        flush_interval: float = 0.2,
        max_buffered: int = 10_000,
        initial_delay: float = 0.2,
        max_delay: float = 10.0,
        timeout: float = 10.0,
    ) -> None:
        self.endpoint = url.rstrip("/") + "/v1/events"
        self.max_batch = max_batch
        self.flush_interval = flush_interval
        self.max_buffered = max_buffered
        self.initial_delay = initial_delay
        self.max_delay = max_delay
        self.timeout = timeout
        self.stats = {"sent": 0, "rejected": 0, "dropped": 0, "retries": 0}
        self._queue: deque[dict] = deque()
        self._in_flight = 0
        self._lock = threading.Condition()
        self._closing = False
        self._pause = threading.Condition()  # close() cuts the retry pause in progress short
        self._deadline = float("inf")
        self._thread = threading.Thread(target=self._run, name="pulse-reporter", daemon=True)
        self._thread.start()
        atexit.register(self.close)

    def report(self, event: dict) -> bool:
        """Queues one event; False when it was dropped (queue full, or closed)."""
        with self._lock:
            if self._closing or len(self._queue) + self._in_flight >= self.max_buffered:
                self.stats["dropped"] += 1
                return False
            self._queue.append(event)
            if len(self._queue) >= self.max_batch:
                self._lock.notify()
            return True

    def close(self, timeout: float = 5.0) -> dict:
        """Stops taking events, delivers what is queued within `timeout` seconds, returns the stats."""
        with self._lock:
            if not self._closing:
                self._closing = True
                self._deadline = time.monotonic() + timeout
                self._lock.notify()
        with self._pause:
            self._pause.notify()
        self._thread.join(timeout + 1)
        return dict(self.stats)

    def _run(self) -> None:
        while True:
            with self._lock:
                if not self._queue and not self._closing:
                    self._lock.wait(self.flush_interval)
                if not self._queue:
                    if self._closing:
                        return
                    continue
                batch = [self._queue.popleft() for _ in range(min(self.max_batch, len(self._queue)))]
                self._in_flight = len(batch)
            try:
                self._deliver(batch)
            finally:
                with self._lock:
                    self._in_flight = 0

    def _deliver(self, batch: list[dict]) -> None:
        body = json.dumps(batch).encode()
        key = str(uuid.uuid4())  # one key per batch, kept across its retries
        attempt = 0
        while True:
            retry_after = 0.0
            try:
                request = urllib.request.Request(
                    self.endpoint,
                    data=body,
                    method="POST",
                    headers={"Content-Type": "application/json", "Idempotency-Key": key},
                )
                with urllib.request.urlopen(request, timeout=self.timeout) as response:
                    reply = json.loads(response.read() or b"{}")
                    self.stats["sent"] += reply.get("accepted", 0)
                    self.stats["rejected"] += len(reply.get("rejected", []))
                    return
            except urllib.error.HTTPError as err:
                if err.code != 429 and err.code < 500:
                    self.stats["rejected"] += len(batch)  # invalid: sending it again cannot help
                    return
                retry_after = _seconds(err.headers.get("Retry-After"))
            except (urllib.error.URLError, OSError):
                pass  # network error or timeout: retry
            # Full jitter under an exponential ceiling; the exponent is capped before it overflows a float.
            delay = max(random.uniform(0, min(self.max_delay, self.initial_delay * 2 ** min(attempt, 32))), retry_after)
            with self._lock:
                if time.monotonic() + delay > self._deadline:
                    self.stats["dropped"] += len(batch)
                    return
                self.stats["retries"] += 1
            # close() ends this pause early, so the last attempt happens before its deadline.
            with self._pause:
                self._pause.wait(delay)
            attempt += 1


def _seconds(header: str | None) -> float:
    try:
        return max(0.0, float(header)) if header is not None else 0.0
    except ValueError:
        return 0.0


def _simulate(url: str, requests: int, node: str) -> None:
    """Sends `requests` simulated streamed chat completions, as a FakeAI node would report them; every tenth is refused."""
    reporter = PulseReporter(url)
    run = uuid.uuid4().hex[:12]  # in every id: a second run must not end requests the first left in flight
    for i in range(requests):
        common = {"node": node, "request_id": f"{node}-{run}-{i}", "endpoint": "/v1/chat/completions", "model": "gpt-4o"}
        reporter.report({"type": "request.start", "ts": time.time(), **common, "stream": True})
        # The ends leave `stream` out: they are streams because their starts said so.
        if i % 10 == 9:
            reporter.report({"type": "request.end", "ts": time.time(), **common, "status": 429, "error": "rate_limit_exceeded", "latency_ms": 2.0, "completion_tokens": 0})
            continue
        ttft = random.lognormvariate(4.5, 0.4)
        tokens = random.randint(20, 200)
        itl = random.uniform(10, 20)  # ms between tokens after the first
        hit = random.random() < 0.4
        reporter.report({
            "type": "request.end", "ts": time.time(), **common,
            "status": 200, "latency_ms": ttft + (tokens - 1) * itl, "ttft_ms": ttft,
            "prompt_tokens": 300, "completion_tokens": tokens,
            "cache": {"hit": hit, "cached_tokens": 120 if hit else 0, "prefix_length": 120 if hit else 0},
        })
    reporter.report({"type": "node.gauge", "ts": time.time(), "node": node, "active_streams": 0, "queue_depth": 0})
    print(json.dumps(reporter.close()))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="Send simulated FakeAI request events to Pulse.")
    parser.add_argument("url", nargs="?", default="http://localhost:8000", help="Pulse ingest (or npm start) base URL")
    parser.add_argument("--requests", type=int, default=20)
    parser.add_argument("--node", default="fakeai-python")
    args = parser.parse_args()
    _simulate(args.url, args.requests, args.node)
