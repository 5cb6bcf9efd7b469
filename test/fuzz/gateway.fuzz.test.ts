/**
 * Fuzzing the gateway (issue 7): random frames (hostile subscribes, deep
 * nesting, prototype keys, odd numbers, binary, invalid UTF-8, oversized,
 * floods) from WebSocket clients, random upgrade requests and random REST
 * requests, against a real gateway (in-process, port 0, in-memory snapshot
 * bus, read tokens and an origin allowlist on), while a well-behaved client
 * watches a filtered view. Every reply and every close must be documented,
 * the watcher's figures exact, the gateway still ready, the heap bounded.
 */
import { connect as tcpConnect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { WebSocket } from 'ws';
import { MemorySnapshotBus } from '@pulse/runtime';
import { cell, startGateway, startTicker, TestClient, type RunningGateway } from '@pulse/test-support/gateway';
import { FUZZ_SECONDS, fuzzFor, liveHeapBytes, MB } from './budget.js';
import { frameSequence, headerValue, label } from './hostile.js';
import { playFrames } from './ws-frames.js';

const READ = 'fuzz-read-token-0123456789';
const ORIGIN = 'https://dash.example';
const GOOD = '/fuzz/good';

let bus: MemorySnapshotBus;
let gw: RunningGateway;
let ticker: { stop(): void };

beforeAll(async () => {
  bus = new MemorySnapshotBus();
  gw = await startGateway(bus, { PULSE_READ_TOKENS: READ, PULSE_ALLOWED_ORIGINS: ORIGIN, PULSE_GATEWAY_HANDSHAKE_TIMEOUT_MS: '300' });
  // Over 10 s: 3 requests/s, 2 responses/s, 5 tokens/s, 0.2 errors/s on the watched endpoint; noise beside it.
  const cells = [
    cell(GOOD, 'fuzz-good-model', { requests: 30, responses: 20, completionTokens: 50, errors: 2, activeStreams: 1 }),
    cell('/v1/other', '__proto__', { requests: 7, responses: 7 }),
  ];
  ticker = startTicker(bus, () => cells);
});
afterAll(async () => {
  ticker?.stop();
  await gw?.close();
});

/** A watcher: subscribed to GOOD every tick; each update's figures must be the cell's, exactly. */
async function watch(): Promise<{ updates: () => number; stop: () => Promise<void> }> {
  const c = await TestClient.connect(gw.ws, { headers: { authorization: `Bearer ${READ}` } });
  await c.request({ type: 'subscribe', filters: { endpoint: GOOD, interval: 0.1 } }, 'subscribed');
  let checked = 0;
  let failure: unknown = null;
  c.ws.on('message', (data: Buffer) => {
    const m = JSON.parse(data.toString());
    if (m.type !== 'metrics_update') return;
    try {
      expect(m.data.throughput).toEqual({
        requests_per_sec: { [GOOD]: 3 },
        responses_per_sec: { [GOOD]: 2 },
        tokens_per_sec: { [GOOD]: 5 },
        total_requests_per_sec: 3,
        total_responses_per_sec: 2,
        total_tokens_per_sec: 5,
      });
      expect(m.data.error).toEqual({ errors_per_sec: { [GOOD]: 0.2 }, total_errors_per_sec: 0.2, by_status: {}, by_type: {} });
      expect(m.data.streaming.active_streams).toBe(1);
      checked++;
    } catch (err) {
      failure ??= err;
    }
  });
  return {
    updates: () => checked,
    stop: async () => {
      expect(c.ws.readyState, 'the watcher was disconnected').toBe(WebSocket.OPEN);
      await c.close();
      if (failure) throw failure;
    },
  };
}

/** Statuses an upgrade may be refused with: before the WebSocket, each documented. */
const UPGRADE_STATUSES = [101, 400, 401, 403, 404, 408, 426, 429, 431, 503];

const upgradeRequest = fc.record({
  path: fc.oneof(fc.constant('/metrics/stream'), fc.constant('/metrics/stream?token=' + READ), headerValue.map((p) => `/${p.replace(/[\s#]/g, '')}`)),
  token: fc.option(fc.oneof(fc.constant(READ), headerValue), { nil: undefined }),
  origin: fc.option(fc.oneof(fc.constant(ORIGIN), fc.constant('https://evil.example'), headerValue), { nil: undefined }),
  key: fc.oneof(fc.constant('dGhlIHNhbXBsZSBub25jZQ=='), headerValue),
  version: fc.constantFrom('13', '8', 'x', ''),
  extra: fc.array(fc.tuple(headerValue.map((h) => h.replace(/[^A-Za-z-]/g, '') || 'X'), headerValue), { maxLength: 4 }),
  // Rare: each one waits out the handshake timeout.
  truncate: fc.oneof({ arbitrary: fc.constant(false), weight: 19 }, { arbitrary: fc.constant(true), weight: 1 }),
});

/** A raw upgrade request, maybe truncated (the handshake timeout answers those); resolves with the status line's code. */
function rawUpgrade(r: typeof upgradeRequest extends fc.Arbitrary<infer T> ? T : never): Promise<number> {
  const { port } = new URL(gw.http);
  const lines = [
    `GET ${r.path} HTTP/1.1`,
    `Host: 127.0.0.1:${port}`,
    'Upgrade: websocket',
    'Connection: Upgrade',
    `Sec-WebSocket-Key: ${r.key}`,
    `Sec-WebSocket-Version: ${r.version}`,
    ...(r.token === undefined ? [] : [`Authorization: Bearer ${r.token}`]),
    ...(r.origin === undefined ? [] : [`Origin: ${r.origin}`]),
    ...r.extra.map(([k, v]) => `${k}: ${v}`),
  ];
  return new Promise((resolve, reject) => {
    const socket = tcpConnect(Number(port), '127.0.0.1');
    let reply = '';
    socket.on('data', (d) => {
      reply += d.toString('latin1');
      if (reply.startsWith('HTTP/1.1 101')) socket.destroy();
    });
    socket.on('error', () => {});
    socket.on('close', () => {
      const status = /^HTTP\/1\.1 (\d{3}) /.exec(reply)?.[1];
      if (status === undefined) reject(new Error(`no status line, got ${JSON.stringify(reply.slice(0, 100))}`));
      else resolve(Number(status));
    });
    socket.write(lines.join('\r\n') + (r.truncate ? '\r\n' : '\r\n\r\n'));
  });
}

/** Percent-encoded, after making it well-formed: encodeURIComponent refuses a lone surrogate. */
function uriPart(s: string): string {
  return encodeURIComponent(Buffer.from(s, 'utf8').toString('utf8'));
}

const restRequest = fc.record({
  path: fc.oneof(
    fc.constantFrom('/metrics/snapshot', '/metrics/labels', '/metrics/history', '/metrics/limits', '/healthz', '/readyz', '/metrics/', '/metrics/stream'),
    label.map((l) => `/metrics/${uriPart(l)}`),
    headerValue.map((p) => `/${uriPart(p)}`),
  ),
  query: fc.oneof(fc.constant(''), fc.constant(`?token=${READ}`), headerValue.map((q) => `?token=${uriPart(q)}`)),
  method: fc.constantFrom('GET', 'HEAD', 'OPTIONS', 'POST', 'PUT', 'DELETE', 'PATCH'),
  token: fc.option(fc.oneof(fc.constant(READ), headerValue), { nil: undefined }),
  origin: fc.option(fc.oneof(fc.constant(ORIGIN), fc.constant('https://evil.example'), headerValue), { nil: undefined }),
});

const REST_STATUSES = [200, 204, 401, 403, 404, 405];

describe('fuzzing the gateway', () => {
  it('answers hostile frames, upgrades and REST requests as documented while a watcher keeps exact figures', async () => {
    // Wait for a snapshot, and warm up, so the heap is compared with a running gateway.
    await expect.poll(() => gw.gateway.ready()).toBe(true);
    for (let i = 0; i < 20; i++) await playFrames(gw.ws, READ, [{ kind: 'text', data: '{"type":"subscribe","filters":{"endpoint":"/warm"}}' }]);
    const heapBefore = liveHeapBytes();
    const watcher = await watch();

    const frames = fc.asyncProperty(frameSequence, (sequence) => playFrames(gw.ws, READ, sequence));
    const upgrades = fc.asyncProperty(upgradeRequest, async (r) => {
      expect(UPGRADE_STATUSES).toContain(await rawUpgrade(r));
    });
    const rest = fc.asyncProperty(restRequest, async (r) => {
      const headers: Record<string, string> = {};
      if (r.token !== undefined) headers.authorization = `Bearer ${r.token}`;
      if (r.origin !== undefined) headers.origin = r.origin;
      const res = await fetch(`${gw.http}${r.path}${r.query}`, { method: r.method, headers });
      const body = await res.text();
      expect(REST_STATUSES, `${r.method} ${r.path}: ${res.status} ${body.slice(0, 200)}`).toContain(res.status);
      if (body !== '' && !r.path.startsWith('/metrics/limits')) expect(() => JSON.parse(body)).not.toThrow();
    });
    try {
      await fuzzFor('gateway, frame sequences on one connection', frames, FUZZ_SECONDS * 0.5);
      await fuzzFor('gateway, raw upgrade requests', upgrades, FUZZ_SECONDS * 0.25);
      await fuzzFor('gateway, REST requests', rest, FUZZ_SECONDS * 0.25);
    } finally {
      await watcher.stop();
    }

    expect(watcher.updates()).toBeGreaterThan(FUZZ_SECONDS * 2);
    expect(gw.gateway.ready()).toBe(true);
    expect(Object.prototype).not.toHaveProperty('polluted');
    const growth = liveHeapBytes() - heapBefore;
    console.log(`fuzz gateway: live heap grew ${(growth / MB).toFixed(1)} MB`);
    expect(growth, `heap grew ${(growth / MB).toFixed(1)} MB`).toBeLessThan(32 * MB);
  }, FUZZ_SECONDS * 2000 + 60_000);
});
