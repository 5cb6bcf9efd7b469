/**
 * The reporter against real servers: Pulse itself (`npm start`'s process),
 * a split ingest whose Redis is killed and brought back (real 503s), a port
 * with nothing behind it (real network errors), and a small recording HTTP
 * server where a test needs to see every request.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { pulseKeys } from '@pulse/protocol';
import { Reporter, type ReporterError, type ReporterEvent } from '@pulse/reporter';
import { standalonePerFile, startService, type ServiceProcess } from '@pulse/test-support/processes';
import { freePort } from '@pulse/test-support/redis-server';
import { startTestRedis, testClient, uniquePrefix } from '@pulse/test-support/redis';

function requestPair(i: number, model = 'gpt-4'): ReporterEvent[] {
  const base = { ts: Date.now() / 1000, node: 'reporter-test', request_id: `r-${i}-${Math.random()}`, endpoint: '/v1/chat/completions', model };
  return [
    { type: 'request.start', ...base },
    { type: 'request.end', ...base, status: 200, latency_ms: 20, completion_tokens: 5 },
  ];
}

interface Recorded {
  key: string | undefined;
  body: string;
}

/** A real HTTP server answering with `answer(n)` for the n-th request, recording each. */
async function recordingServer(answer: (n: number, req: IncomingMessage, res: ServerResponse) => void) {
  const requests: Recorded[] = [];
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (d: Buffer) => (body += d.toString()));
    req.on('end', () => {
      requests.push({ key: req.headers['idempotency-key'] as string | undefined, body });
      answer(requests.length, req, res);
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, requests, close: () => new Promise((r) => server.close(r)) };
}

describe('Reporter → Pulse', () => {
  let pulse: ServiceProcess;
  standalonePerFile({}, (p) => (pulse = p));

  it('delivers every event in batches and flushes on close', async () => {
    const reporter = new Reporter({ url: pulse.url, maxBatchEvents: 64 });
    for (let i = 0; i < 250; i++) for (const e of requestPair(i)) expect(reporter.report(e)).toBe(true);
    const stats = await reporter.close();
    expect(stats).toEqual({ sent: 500, rejected: 0, dropped: 0, retries: 0, buffered: 0 });
    // Accepted means stored: the next snapshots count the requests.
    await expect
      .poll(async () => ((await (await fetch(`${pulse.url}/metrics/snapshot`)).json()) as any).data.throughput.requests_per_sec['/v1/chat/completions'] ?? 0, { timeout: 5000 })
      .toBeGreaterThan(0);
  });

  it('carries what the LLM figures read; an end may leave `stream` to its start', async () => {
    const reporter = new Reporter({ url: pulse.url });
    const base = (i: number) => ({ ts: Date.now() / 1000, node: 'reporter-llm', request_id: `llm-${i}-${Math.random()}`, endpoint: '/v1/chat/completions', model: 'm' });
    for (let i = 0; i < 4; i++) {
      const labels = base(i);
      reporter.report({ type: 'request.start', ...labels, stream: true });
      // No `stream`: the end is a stream because its start said so. 10 tokens, 20 ms apart after the first.
      reporter.report({ type: 'request.end', ...labels, status: 200, latency_ms: 100 + 9 * 20, ttft_ms: 100, prompt_tokens: 12, completion_tokens: 10 });
    }
    const failed = base(4);
    reporter.report({ type: 'request.start', ...failed, stream: true });
    reporter.report({ type: 'request.end', ...failed, status: 429, error: 'rate_limit_exceeded', latency_ms: 3, completion_tokens: 0 });
    expect(await reporter.close()).toMatchObject({ sent: 10, rejected: 0 });

    const data = async () => ((await (await fetch(`${pulse.url}/metrics/snapshot`)).json()) as any).data;
    await expect.poll(async () => (await data()).streaming.failed_streams, { timeout: 5000 }).toBe(1);
    const { streaming, error } = await data();
    expect(streaming.completed_streams).toBe(4);
    expect(streaming.itl.p50).toBeCloseTo(20, 0);
    expect(streaming.ttft.p50).toBeCloseTo(100, 0);
    expect(Object.keys(error.by_type)).toEqual(['rate_limit_exceeded']);
    expect(Object.keys(error.by_status)).toEqual(['429']);
  });

  it('counts events ingest rejects, and does not retry them', async () => {
    const errors: ReporterError[] = [];
    const reporter = new Reporter({ url: pulse.url, onError: (e) => errors.push(e) });
    reporter.report(requestPair(1)[0]!);
    reporter.report({ type: 'request.end', ts: Date.now() / 1000, node: 'n', request_id: 'x', endpoint: '/e', model: 'm', status: 200, latency_ms: -1 });
    const stats = await reporter.close();
    expect(stats).toMatchObject({ sent: 1, rejected: 1, retries: 0 });
    expect(errors[0]).toMatchObject({ kind: 'rejected', events: 1 });
    expect(errors[0]!.message).toMatch(/latency_ms/);
  });

  it('retries through network errors until ingest comes up', async () => {
    const port = await freePort();
    const reporter = new Reporter({ url: `http://127.0.0.1:${port}`, initialDelayMs: 50, maxDelayMs: 200 });
    for (let i = 0; i < 10; i++) for (const e of requestPair(i)) reporter.report(e);
    await expect.poll(() => reporter.stats().retries, { timeout: 5000 }).toBeGreaterThan(1);
    const late = await startService('standalone', { PORT: String(port), LOG_LEVEL: 'warn' });
    try {
      await reporter.flush();
      expect(reporter.stats()).toMatchObject({ sent: 20, dropped: 0, buffered: 0 });
    } finally {
      await reporter.close();
      await late.stop();
    }
  }, 30_000);
});

describe('Reporter → ingest with Redis going away (real 503)', () => {
  it('retries a batch under one Idempotency-Key until Redis is back; nothing is stored twice', async () => {
    const redis = await startTestRedis({ killable: true });
    const prefix = uniquePrefix('reporter');
    const ingest = await startService('ingest', { REDIS_URL: redis.url, PULSE_KEY_PREFIX: prefix, LOG_LEVEL: 'fatal' });
    const reporter = new Reporter({ url: ingest.url, maxBatchEvents: 10, initialDelayMs: 100, maxDelayMs: 400 });
    try {
      await redis.kill();
      for (let i = 0; i < 15; i++) for (const e of requestPair(i)) reporter.report(e);
      await expect.poll(() => reporter.stats().retries, { timeout: 10_000 }).toBeGreaterThan(1);
      await redis.restart();
      await reporter.flush();
      expect(reporter.stats()).toMatchObject({ sent: 30, dropped: 0, buffered: 0 });
      const check = testClient(redis.url);
      // 30 events in batches of 10: three stream entries, none repeated by a retry.
      expect(await check.xlen(pulseKeys(prefix).events)).toBe(3);
      check.disconnect();
    } finally {
      await reporter.close();
      await ingest.stop();
      await redis.stop();
    }
  }, 40_000);
});

describe('Reporter retry and buffer rules', () => {
  it('keeps one Idempotency-Key per batch across retries and honours Retry-After', async () => {
    const server = await recordingServer((n, _req, res) => {
      if (n <= 2) {
        res.writeHead(503, { 'retry-after': '0.3' }).end('{"error":"store unavailable"}');
      } else {
        res.writeHead(202, { 'content-type': 'application/json' }).end('{"accepted":2,"rejected":[]}');
      }
    });
    const reporter = new Reporter({ url: server.url, initialDelayMs: 1, maxDelayMs: 2 });
    const started = Date.now();
    for (const e of requestPair(1)) reporter.report(e);
    await reporter.flush();
    expect(Date.now() - started).toBeGreaterThanOrEqual(550);
    expect(server.requests).toHaveLength(3);
    expect(new Set(server.requests.map((r) => r.key)).size).toBe(1);
    expect(server.requests[0]!.key).toMatch(/^[0-9a-f-]{36}$/);
    expect(new Set(server.requests.map((r) => r.body)).size).toBe(1);
    expect(reporter.stats()).toMatchObject({ sent: 2, retries: 2 });

    // The next batch is a new request to ingest: a new key.
    for (const e of requestPair(2)) reporter.report(e);
    await reporter.close();
    expect(server.requests[3]!.key).not.toBe(server.requests[0]!.key);
    await server.close();
  });

  it('bounds its buffer, counts what it dropped, and gives up at the close deadline', async () => {
    const port = await freePort();
    const errors: ReporterError[] = [];
    const reporter = new Reporter({ url: `http://127.0.0.1:${port}`, maxBufferedEvents: 10, maxBatchEvents: 4, onError: (e) => errors.push(e) });
    let accepted = 0;
    for (let i = 0; i < 25; i++) if (reporter.report(requestPair(i)[0]!)) accepted += 1;
    expect(accepted).toBe(10);
    expect(reporter.stats()).toMatchObject({ dropped: 15, buffered: 10 });
    const started = Date.now();
    const stats = await reporter.close(300);
    expect(Date.now() - started).toBeLessThan(2000);
    expect(stats).toMatchObject({ sent: 0, dropped: 25, buffered: 0 });
    expect(errors.some((e) => e.kind === 'dropped')).toBe(true);
    expect(reporter.report(requestPair(99)[0]!)).toBe(false);
  });

  it('gives up on a batch answered 4xx without retrying', async () => {
    const server = await recordingServer((_n, _req, res) => res.writeHead(413).end('{"error":"too large"}'));
    const reporter = new Reporter({ url: server.url });
    for (const e of requestPair(1)) reporter.report(e);
    const stats = await reporter.close();
    expect(server.requests).toHaveLength(1);
    expect(stats).toMatchObject({ sent: 0, rejected: 2, retries: 0 });
    await server.close();
  });
});
