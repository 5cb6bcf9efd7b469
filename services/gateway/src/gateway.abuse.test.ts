/**
 * The gateway's limits against abusive clients (docs/SECURITY.md): per
 * address connections, handshake timeout, subscribe label limits, frame
 * size, message rate, hostile frames. Each answers with the documented
 * error or close code and counts in GET /metrics/limits.
 */
import { connect as tcpConnect } from 'node:net';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { WebSocket, type ClientOptions } from 'ws';
import { CloseCode } from '@pulse/protocol';
import { MemorySnapshotBus } from '@pulse/runtime';
import { startGateway, TestClient, type RunningGateway } from '@pulse/test-support/gateway';

let gw: RunningGateway | undefined;
const clients: TestClient[] = [];
afterEach(async () => {
  for (const c of clients.splice(0)) c.ws.terminate();
  await gw?.close();
  gw = undefined;
});

async function start(env: Record<string, string>): Promise<RunningGateway> {
  gw = await startGateway(new MemorySnapshotBus(), env);
  return gw;
}

async function connect(options?: ClientOptions): Promise<TestClient> {
  const c = await TestClient.connect(gw!.ws, options);
  clients.push(c);
  return c;
}

function upgradeStatus(options?: ClientOptions): Promise<number> {
  return new Promise((resolve) => {
    const ws = new WebSocket(gw!.ws, options);
    ws.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
    ws.on('open', () => {
      ws.terminate();
      resolve(101);
    });
    ws.on('error', () => resolve(-1));
  });
}

async function counted(reason: string): Promise<number> {
  const text = await (await fetch(`${gw!.http}/metrics/limits`)).text();
  const match = new RegExp(`pulse_rejections_total\\{reason="${reason}"\\} (\\d+)`).exec(text);
  if (!match) throw new Error(`no counter for ${reason} in:\n${text}`);
  return Number(match[1]);
}

describe('connections per client address', () => {
  it('refuses one over the limit with 429 before the upgrade, and frees the slot when a client leaves', async () => {
    await start({ PULSE_GATEWAY_MAX_CONNECTIONS_PER_IP: '2' });
    await connect();
    const second = await connect();
    expect(await upgradeStatus()).toBe(429);
    expect(await counted('connections_per_ip')).toBe(1);
    await second.close();
    await vi.waitFor(async () => expect(await upgradeStatus()).toBe(101));
  });

  it('counts by the forwarded address behind a trusted proxy, ignoring what the client forged further left', async () => {
    await start({ PULSE_GATEWAY_MAX_CONNECTIONS_PER_IP: '1', PULSE_GATEWAY_TRUSTED_PROXY_HOPS: '1' });
    await connect({ headers: { 'x-forwarded-for': '203.0.113.1' } });
    expect(await upgradeStatus({ headers: { 'x-forwarded-for': '203.0.113.2' } })).toBe(101);
    expect(await upgradeStatus({ headers: { 'x-forwarded-for': '198.51.100.7, 203.0.113.1' } })).toBe(429);
  });
});

describe('handshake timeout', () => {
  it('answers 408 and closes a connection that does not finish its request headers in time', async () => {
    await start({ PULSE_GATEWAY_HANDSHAKE_TIMEOUT_MS: '300' });
    const { port } = new URL(gw!.http);
    const socket = tcpConnect(Number(port), '127.0.0.1');
    let reply = '';
    socket.on('data', (d) => (reply += d.toString()));
    socket.write('GET /metrics/stream HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n');
    const started = performance.now();
    await new Promise((resolve) => socket.on('close', resolve));
    expect(performance.now() - started).toBeGreaterThanOrEqual(250);
    expect(reply).toMatch(/^HTTP\/1\.1 408 Request Timeout\r\n/);
    expect(reply).toContain('"code":"request_timeout"');
    expect(await counted('handshake_timeout')).toBe(1);
  });
});

describe('subscribe limits', () => {
  it('answers an error naming each limit, changes nothing, and counts it', async () => {
    await start({ PULSE_GATEWAY_MAX_LABELS_PER_SUBSCRIBE: '3', PULSE_GATEWAY_MAX_LABELS_PER_CLIENT: '4', PULSE_MAX_STRING_LENGTH: '10' });
    const c = await connect();
    const cases: [filters: object, message: RegExp][] = [
      [{ endpoints: ['/a', '/b', '/c', '/d'] }, /more than 3 endpoints, models and nodes in one subscribe/],
      [{ endpoint: '/0123456789' }, /endpoint: longer than 10 characters/],
    ];
    for (const [filters, message] of cases) {
      const reply = await c.request({ type: 'subscribe', filters }, 'error');
      expect(reply).toMatchObject({ code: 'invalid_subscription', message: expect.stringMatching(message) });
    }
    expect((await c.request({ type: 'subscribe', filters: { endpoints: ['/a', '/b', '/c'] } }, 'subscribed')).filters.endpoints).toHaveLength(3);
    expect(await c.request({ type: 'subscribe', filters: { models: ['m', 'n'] } }, 'error')).toMatchObject({ message: expect.stringMatching(/in total/) });
    expect((await c.request({ type: 'subscribe', filters: { model: 'm' } }, 'subscribed')).filters).toMatchObject({ models: ['m'] });
    expect([await counted('labels_per_subscribe'), await counted('string_length'), await counted('labels_per_client')]).toEqual([1, 1, 1]);
  });
});

describe('hostile frames', () => {
  it('answers a subscribe nested 32 000 deep with an error, and stays up', async () => {
    await start({});
    const c = await connect();
    const depth = 32_000;
    const reply = await c.request(`{"type":"subscribe","filters":{"endpoint":${'['.repeat(depth)}${']'.repeat(depth)}}}`, 'error');
    expect(reply.message).toBe('endpoint: must be a string, got an array');
    expect((await c.request({ type: 'ping' }, 'pong')).type).toBe('pong');
  });

  it('closes a client with 1007 for a text frame that is not UTF-8', async () => {
    await start({});
    const c = await connect();
    c.ws.send(Buffer.from([0x7b, 0xff, 0xfe, 0x7d]), { binary: false });
    expect((await c.closed).code).toBe(CloseCode.INVALID_PAYLOAD);
  });

  it('counts a frame over the size limit (closed with 1009)', async () => {
    await start({ PULSE_GATEWAY_MAX_PAYLOAD_KB: '1' });
    const c = await connect();
    c.send({ type: 'ping', pad: 'x'.repeat(2000) });
    expect((await c.closed).code).toBe(CloseCode.MESSAGE_TOO_BIG);
    await vi.waitFor(async () => expect(await counted('frame_bytes')).toBe(1));
  });

  it('marks the rate-limit error with its code and counts every dropped message and the flood', async () => {
    await start({ PULSE_GATEWAY_CLIENT_MSGS_PER_SEC: '5' });
    const c = await connect();
    for (let i = 0; i < 7; i++) c.send({ type: 'ping' });
    expect((await c.next('error')).message).toMatchObject({ code: 'rate_limited' });
    for (let i = 0; i < 20; i++) c.send({ type: 'ping' });
    expect((await c.closed).code).toBe(CloseCode.RATE_LIMITED);
    expect(await counted('client_flood')).toBe(1);
    // Two of the first seven, then drops until one more than the rate is reached; frames queued after the close are not counted.
    expect(await counted('client_messages_per_sec')).toBeGreaterThanOrEqual(4);
  });
});
