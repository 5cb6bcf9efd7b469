/**
 * The client against a real Pulse (`npm start`'s process, no mocks): the
 * first message, subscribe / unsubscribe / ping, both delivery styles, a
 * clean close, a gateway restart in the middle of a stream with the filters
 * re-sent, and a terminal close code that stops reconnecting.
 */
import { createServer } from 'node:http';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { WebSocketServer } from 'ws';
import { CloseCode } from '@pulse/protocol';
import { connect, type ConnectionStatus, type PulseClient, type ServerMessage } from '@pulse/client/node';
import { startService, type ServiceProcess } from '@pulse/test-support/processes';

const ENV = { PULSE_TICK_MS: '100', LOG_LEVEL: 'warn' };
const FAST = { initialDelayMs: 50, maxDelayMs: 400 };

let pulse: ServiceProcess;
const clients: PulseClient[] = [];

beforeAll(async () => {
  pulse = await startService('standalone', ENV);
}, 30_000);

afterAll(async () => {
  await pulse?.stop();
});

afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
});

function open(url = `ws://127.0.0.1:${pulse.port}/metrics/stream`, options = {}): PulseClient {
  const client = connect(url, { ...FAST, ...options });
  clients.push(client);
  return client;
}

/** Resolves with the first message (from now on) for which `ok` holds. */
function nextMessage(client: PulseClient, ok: (m: ServerMessage) => boolean, timeoutMs = 8000): Promise<ServerMessage> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => (stop(), reject(new Error('no matching message in time'))), timeoutMs);
    const stop = client.onMessage((m) => {
      if (!ok(m)) return;
      clearTimeout(timer);
      stop();
      resolve(m);
    });
  });
}

function nextStatus(client: PulseClient, ok: (s: ConnectionStatus) => boolean, timeoutMs = 8000): Promise<ConnectionStatus> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => (stop(), reject(new Error(`status not reached; last ${JSON.stringify(client.status)}`))), timeoutMs);
    const stop = client.onStatus((s) => {
      if (!ok(s)) return;
      clearTimeout(timer);
      stop();
      resolve(s);
    });
  });
}

async function postEvents(url: string, model: string, count: number): Promise<void> {
  const ts = Date.now() / 1000;
  const events = [];
  for (let i = 0; i < count; i++) {
    const base = { ts, node: 'client-test', request_id: `${model}-${i}-${Math.random()}`, endpoint: '/v1/chat/completions', model };
    events.push({ type: 'request.start', ...base }, { type: 'request.end', ...base, status: 200, latency_ms: 50, completion_tokens: 10 });
  }
  const res = await fetch(`${url}/v1/events`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(events) });
  expect(res.status).toBe(202);
}

describe('PulseClient against a running Pulse', () => {
  it('yields historical_data first, then the subscribed view, through the async iterator', async () => {
    const client = open();
    const seen: ServerMessage[] = [];
    client.subscribe({ metric_type: 'queue', interval: 0.2 });
    for await (const message of client) {
      seen.push(message);
      if (message.type === 'metrics_update') break;
    }
    expect(seen[0]!.type).toBe('historical_data');
    expect(seen.map((m) => m.type)).toContain('subscribed');
    const update = seen.at(-1)!;
    expect(update.type === 'metrics_update' && Object.keys(update.data)).toEqual(['queue']);
    expect(client.filters).toEqual({ endpoints: [], models: [], nodes: [], metric_types: ['queue'], interval: 0.2 });
  });

  it('answers ping with pong and unsubscribe with unsubscribed, resetting the filters', async () => {
    const client = open();
    await nextMessage(client, (m) => m.type === 'historical_data');
    client.subscribe({ model: 'gpt-4' });
    await nextMessage(client, (m) => m.type === 'subscribed');
    expect(client.ping()).toBe(true);
    await nextMessage(client, (m) => m.type === 'pong');
    client.unsubscribe();
    await nextMessage(client, (m) => m.type === 'unsubscribed');
    expect(client.filters).toBeNull();
  });

  it('sends keepalive pings on its own', async () => {
    const client = open(undefined, { pingIntervalMs: 100 });
    await nextMessage(client, (m) => m.type === 'pong', 3000);
  });

  it('closes cleanly: status closed with 1000, iterators end, no reconnect', async () => {
    const client = open();
    await nextMessage(client, (m) => m.type === 'historical_data');
    const iterator = client.messages();
    const status = await client.close();
    expect(status).toMatchObject({ state: 'closed', code: 1000 });
    const rest: ServerMessage[] = [];
    for await (const m of iterator) rest.push(m);
    expect(rest.every((m) => m.type !== 'historical_data')).toBe(true);
    await new Promise((r) => setTimeout(r, 300));
    expect(client.status.state).toBe('closed');
  });

  it('rides through a gateway restart mid-stream and re-sends its filters', async () => {
    const client = open(undefined, { pingIntervalMs: 500 });
    const statuses: ConnectionStatus[] = [];
    client.onStatus((s) => statuses.push(s));
    const iterator = client.messages();
    client.subscribe({ model: 'model-a', metric_types: ['throughput', 'streaming'], interval: 0.3 });
    await nextMessage(client, (m) => m.type === 'subscribed');
    await postEvents(pulse.url, 'model-a', 3);
    await nextMessage(client, (m) => m.type === 'metrics_update' && (m.data.throughput?.total_requests_per_sec ?? 0) > 0);

    // SIGTERM: the gateway closes its clients with 1001, and a new process takes the same port.
    const port = pulse.port;
    expect(await pulse.stop()).toBe(0);
    await nextStatus(client, (s) => s.state === 'reconnecting');
    // Listening before the new process is up: the client may reconnect before /readyz answers 200.
    const resubscribing = nextMessage(client, (m) => m.type === 'subscribed', 15_000);
    pulse = await startService('standalone', { ...ENV, PORT: String(port) });

    const resubscribed = await resubscribing;
    expect(resubscribed.type === 'subscribed' && resubscribed.filters).toEqual({
      endpoints: [],
      models: ['model-a'],
      nodes: [],
      metric_types: ['throughput', 'streaming'],
      interval: 0.3,
    });
    // The new process is empty: only model-a's events show, model-b's are filtered out.
    await postEvents(pulse.url, 'model-a', 2);
    // Ten times model-a's: a snapshot read later divides by a longer covered time, and must still be larger.
    await postEvents(pulse.url, 'model-b', 20);
    const update = await nextMessage(client, (m) => m.type === 'metrics_update' && (m.data.throughput?.total_requests_per_sec ?? 0) > 0);
    expect(update.type === 'metrics_update' && Object.keys(update.data).sort()).toEqual(['streaming', 'throughput']);
    const snapshot = (await (await fetch(`${pulse.url}/metrics/snapshot`)).json()) as { data: { throughput: { total_requests_per_sec: number } } };
    expect(update.type === 'metrics_update' && update.data.throughput!.total_requests_per_sec).toBeLessThan(snapshot.data.throughput.total_requests_per_sec);

    const closeOfOld = statuses.find((s) => s.state === 'reconnecting');
    expect(closeOfOld?.code).toBe(CloseCode.GOING_AWAY);
    expect(statuses.at(-1)?.state).toBe('open');

    // One iterator saw the whole story: two historical_data, one per connection.
    await client.close();
    const types: string[] = [];
    for await (const m of iterator) types.push(m.type);
    expect(types.filter((t) => t === 'historical_data')).toHaveLength(2);
  }, 40_000);

  it('stops on a terminal close code instead of reconnecting', async () => {
    const server = createServer();
    const wss = new WebSocketServer({ server });
    wss.on('connection', (ws) => ws.close(CloseCode.UNAUTHORIZED, 'no entry'));
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const client = open(`ws://127.0.0.1:${(server.address() as AddressInfo).port}/metrics/stream`);
    expect(await client.closed).toMatchObject({ state: 'closed', code: CloseCode.UNAUTHORIZED, reason: 'no entry' });
    wss.close();
    server.close();
  });

  it('gives up after maxAttempts failed connections, reporting the error', async () => {
    const server = createServer();
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const port = (server.address() as AddressInfo).port;
    server.close();
    await once(server, 'close');
    const client = open(`ws://127.0.0.1:${port}/metrics/stream`, { maxAttempts: 2 });
    const reconnecting: ConnectionStatus[] = [];
    client.onStatus((s) => s.state === 'reconnecting' && reconnecting.push(s));
    const final = await client.closed;
    expect(reconnecting.map((s) => s.attempt)).toEqual([1, 2]);
    expect(final).toMatchObject({ state: 'closed', attempt: 2 });
    expect(final.error).toMatch(/ECONNREFUSED/);
  });

  it('replaces a connection that went silent', async () => {
    // A server that accepts and then says nothing, not even to pings.
    const server = createServer();
    const wss = new WebSocketServer({ server });
    let connections = 0;
    wss.on('connection', () => (connections += 1));
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const client = open(`ws://127.0.0.1:${(server.address() as AddressInfo).port}/`, { pingIntervalMs: 100, idleTimeoutMs: 250 });
    const dropped = await nextStatus(client, (s) => s.state === 'reconnecting', 5000);
    expect(dropped.code).toBe(CloseCode.HEARTBEAT_TIMEOUT);
    await expect.poll(() => connections, { timeout: 5000 }).toBeGreaterThanOrEqual(2);
    await client.close();
    for (const ws of wss.clients) ws.terminate();
    wss.close();
    server.close();
  });
});
