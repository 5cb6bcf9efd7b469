/**
 * How a gateway protects itself and shuts down: slow consumers, connection
 * cap, frame size, message rate, heartbeats, SIGTERM-style close.
 */
import type { Socket } from 'node:net';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { WebSocket, type ClientOptions } from 'ws';
import { CloseCode, encodeSnapshot } from '@pulse/protocol';
import { MemorySnapshotBus } from '@pulse/runtime';
import { capturingLogger } from '@pulse/test-support/logs';
import { cell, snapshot, startGateway, startTicker, TestClient, TEST_TICK_MS, type RunningGateway } from '@pulse/test-support/gateway';

let bus: MemorySnapshotBus;
let gw: RunningGateway;
const clients: TestClient[] = [];
const tickers: { stop(): void }[] = [];

afterEach(async () => {
  for (const t of tickers.splice(0)) t.stop();
  for (const c of clients.splice(0)) c.ws.terminate();
  await gw?.close();
});

async function connect(options?: ClientOptions): Promise<TestClient> {
  const c = await TestClient.connect(gw.ws, options);
  clients.push(c);
  return c;
}

function upgradeStatus(url: string): Promise<number> {
  return new Promise((resolve) => {
    const ws = new WebSocket(url);
    ws.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
    ws.on('open', () => {
      ws.terminate();
      resolve(101);
    });
    ws.on('error', () => resolve(-1));
  });
}

describe('slow consumers', () => {
  it('closes a client that stays over its buffer ceiling while another keeps getting updates on time', async () => {
    const { logger, lines } = capturingLogger('warn');
    bus = new MemorySnapshotBus();
    gw = await startGateway(bus, { PULSE_GATEWAY_MAX_BUFFERED_BYTES: String(64 * 1024) }, logger);
    // ~250 kB per update: a reader that stops fills the socket buffers within a second or two.
    const cells = Array.from({ length: 1500 }, (_, i) => cell(`/v1/endpoint-${i}`, 'm', { requests: i + 1, responses: i, lookups: 1, hits: 1 }));
    tickers.push(startTicker(bus, () => cells));

    const slow = await connect();
    const fine = await connect();
    for (const c of [slow, fine]) await c.request({ type: 'subscribe', filters: { interval: 0.1 } }, 'subscribed');
    (slow.ws as unknown as { _socket: Socket })._socket.pause();
    const fineBefore = fine.ofType('metrics_update').length;

    await vi.waitFor(() => expect(lines.map((l) => l.msg)).toContain('closing a slow consumer'), { timeout: 10_000, interval: 50 });
    const warned = lines.find((l) => l.msg === 'closing a slow consumer')!;
    expect(warned.client).toMatch(/^127\.0\.0\.1:\d+$/);

    // Reading again, the slow client drains what was queued, then the close frame.
    (slow.ws as unknown as { _socket: Socket })._socket.resume();
    expect((await slow.closed).code).toBe(CloseCode.SLOW_CONSUMER);

    // Meanwhile the other client got every snapshot, one tick apart, none late.
    const updates = fine.ofType('metrics_update').slice(fineBefore);
    expect(updates.length).toBeGreaterThan(5);
    const stamps = updates.map((u) => u.message.timestamp as number);
    for (let i = 1; i < stamps.length; i++) expect(stamps[i]! - stamps[i - 1]!).toBeCloseTo(TEST_TICK_MS / 1000, 6);
    const gaps = updates.slice(1).map((u, i) => u.at - updates[i]!.at);
    expect(Math.max(...gaps)).toBeLessThan(4 * TEST_TICK_MS);
  });
});

describe('limits', () => {
  it('refuses connections beyond the cap with 503 before the upgrade', async () => {
    bus = new MemorySnapshotBus();
    gw = await startGateway(bus, { PULSE_GATEWAY_MAX_CONNECTIONS: '2' });
    await connect();
    const second = await connect();
    expect(await upgradeStatus(gw.ws)).toBe(503);
    // A place frees up when a client leaves.
    await second.close();
    await vi.waitFor(async () => expect(await upgradeStatus(gw.ws)).toBe(101));
  });

  it('closes a client sending a frame over maxPayload with 1009', async () => {
    bus = new MemorySnapshotBus();
    gw = await startGateway(bus, { PULSE_GATEWAY_MAX_PAYLOAD_KB: '1' });
    const c = await connect();
    await c.request({ type: 'ping' }, 'pong'); // under the limit: fine
    c.send({ type: 'subscribe', filters: { endpoint: 'x'.repeat(2000) } });
    expect((await c.closed).code).toBe(CloseCode.MESSAGE_TOO_BIG);
  });

  it('drops messages over the rate with one error, and closes a sustained flood', async () => {
    bus = new MemorySnapshotBus();
    gw = await startGateway(bus, { PULSE_GATEWAY_CLIENT_MSGS_PER_SEC: '5' });
    const c = await connect();
    for (let i = 0; i < 7; i++) c.send({ type: 'ping' });
    const error = await c.next('error');
    expect(error.message.message).toMatch(/rate limit/);
    expect(c.ofType('pong')).toHaveLength(5);
    expect(c.ws.readyState).toBe(WebSocket.OPEN);

    for (let i = 0; i < 20; i++) c.send({ type: 'ping' });
    expect((await c.closed).code).toBe(CloseCode.RATE_LIMITED);
  });

  it('terminates a client that stops answering pings, and keeps one that answers', async () => {
    bus = new MemorySnapshotBus();
    gw = await startGateway(bus, { PULSE_GATEWAY_HEARTBEAT_MS: '100' });
    // Measured from before the deaf client connects: its two periods start at its connect.
    const started = performance.now();
    const deaf = await connect({ autoPong: false });
    const alive = await connect();
    const { code } = await deaf.closed;
    expect(code).toBe(1006); // terminated: no close frame
    expect(performance.now() - started).toBeGreaterThanOrEqual(200);
    expect(alive.ws.readyState).toBe(WebSocket.OPEN);
    expect((await alive.request({ type: 'ping' }, 'pong')).type).toBe('pong');
  });

  it('pings its clients spread over the heartbeat period, each once per period, never all in one burst', async () => {
    bus = new MemorySnapshotBus();
    gw = await startGateway(bus, { PULSE_GATEWAY_HEARTBEAT_MS: '1000' });
    const pings: number[][] = [];
    for (let i = 0; i < 20; i++) {
      const c = await connect();
      const times: number[] = [];
      c.ws.on('ping', () => times.push(performance.now()));
      pings.push(times);
    }
    const started = performance.now();
    await new Promise((resolve) => setTimeout(resolve, 2500));
    // Each client: two or three pings in 2.5 periods, about a period apart.
    for (const times of pings) {
      expect(times.length).toBeGreaterThanOrEqual(2);
      expect(times.length).toBeLessThanOrEqual(3);
      for (let i = 1; i < times.length; i++) expect(times[i]! - times[i - 1]!).toBeGreaterThan(800);
    }
    // The first pings after `started` fall across most of the period, not in one moment.
    const firsts = pings.map((times) => times.find((t) => t >= started)!).sort((a, b) => a - b);
    expect(firsts[firsts.length - 1]! - firsts[0]!).toBeGreaterThan(500);
  });
});

describe('shutdown', () => {
  it('goes unready, closes every client with 1001 and refuses new ones', async () => {
    bus = new MemorySnapshotBus();
    gw = await startGateway(bus);
    await bus.publish(encodeSnapshot(snapshot(Math.floor(Date.now() / TEST_TICK_MS), [cell('/a', 'm', { requests: 1 })])));
    await vi.waitFor(() => expect(gw.gateway.ready()).toBe(true));
    const [a, b] = [await connect(), await connect()];
    const closing = gw.close();
    expect(gw.gateway.ready()).toBe(false);
    expect((await a.closed).code).toBe(CloseCode.GOING_AWAY);
    expect((await b.closed).code).toBe(CloseCode.GOING_AWAY);
    await closing;
    expect(gw.gateway.server.listening).toBe(false);
    expect(await upgradeStatus(gw.ws)).toBe(-1);
  });
});
