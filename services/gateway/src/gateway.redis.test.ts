/**
 * Gateways fed through a real Redis: real snapshots from a MetricsWindow,
 * readiness, catch-up from the latest key, horizontal scale (two gateways,
 * one Redis, same frames), and connections released on close.
 */
import { once } from 'node:events';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { buildView, MetricsWindow } from '@pulse/metrics';
import { decodeSnapshot, encodeSnapshot, pulseKeys, type PulseEvent, type PulseKeys } from '@pulse/protocol';
import { connectRedis, RedisSnapshotFeed, RedisSnapshotPublisher, silentLogger, type RedisConnection } from '@pulse/runtime';
import { startTestRedis, testClient, uniquePrefix, type TestRedis } from '@pulse/test-support/redis';
import { cell, getJson, snapshot, startGateway, startTicker, TestClient, TEST_TICK_MS, type RunningGateway } from '@pulse/test-support/gateway';

let redis: TestRedis;
let admin: RedisConnection;
let producer: RedisConnection;
beforeAll(async () => {
  redis = await startTestRedis();
  admin = testClient(redis.url);
  producer = connectRedis(redis.url, 'producer', 'gateway-test', silentLogger());
  await once(producer, 'ready');
});
afterAll(async () => {
  producer?.disconnect();
  admin?.disconnect();
  await redis?.stop();
});

const gateways: RunningGateway[] = [];
const clients: TestClient[] = [];
const tickers: { stop(): void }[] = [];
afterEach(async () => {
  for (const t of tickers.splice(0)) t.stop();
  for (const c of clients.splice(0)) c.ws.terminate();
  await Promise.all(gateways.splice(0).map((g) => g.close()));
});

function feedFor(keys: PulseKeys, url = redis.url, name = `gw-${uniquePrefix()}`): RedisSnapshotFeed {
  return new RedisSnapshotFeed({ url, keys, name, logger: silentLogger() });
}

async function gatewayOn(keys: PulseKeys, name?: string): Promise<RunningGateway> {
  const gw = await startGateway(feedFor(keys, redis.url, name));
  gateways.push(gw);
  return gw;
}

async function connect(gw: RunningGateway): Promise<TestClient> {
  const c = await TestClient.connect(gw.ws);
  clients.push(c);
  return c;
}

/** A real snapshot: two streaming chat requests and a cached embedding, through the aggregator's window. */
function windowSnapshot(nowMs: number) {
  const window = new MetricsWindow({ windowMs: 60_000, bucketMs: TEST_TICK_MS, createdAtMs: nowMs - 30_000, maxEndpoints: 100, maxModels: 100 });
  const ts = nowMs / 1000 - 1;
  const events: PulseEvent[] = [
    { type: 'request.start', ts, node: 'n1', request_id: 'a', endpoint: '/v1/chat/completions', model: 'gpt-4', stream: true },
    { type: 'request.end', ts, node: 'n1', request_id: 'a', endpoint: '/v1/chat/completions', model: 'gpt-4', stream: true, status: 200, latency_ms: 800, ttft_ms: 120, completion_tokens: 80 },
    { type: 'request.start', ts, node: 'n1', request_id: 'b', endpoint: '/v1/chat/completions', model: 'gpt-4', stream: true },
    { type: 'request.start', ts, node: 'n2', request_id: 'c', endpoint: '/v1/embeddings', model: 'ada', stream: false },
    { type: 'request.end', ts, node: 'n2', request_id: 'c', endpoint: '/v1/embeddings', model: 'ada', stream: false, status: 200, latency_ms: 40, prompt_tokens: 100, cache: { hit: true, cached_tokens: 60, prefix_length: 50 } },
  ];
  for (const e of events) window.apply(e, nowMs - 500, true);
  window.advance(nowMs);
  return window.snapshot(nowMs, 1, Math.floor(nowMs / TEST_TICK_MS), 0);
}

describe('gateway on Redis', () => {
  it('goes ready with the first real snapshot and serves its figures', async () => {
    const keys = pulseKeys(uniquePrefix());
    const gw = await gatewayOn(keys);
    await vi.waitFor(async () => {
      const res = await getJson(`${gw.http}/readyz`);
      expect([res.status, res.body.reason]).toEqual([503, 'no snapshot received yet']);
    });

    const snap = windowSnapshot(Date.now());
    await new RedisSnapshotPublisher(producer, keys).publish(encodeSnapshot(snap));
    await vi.waitFor(async () => expect((await getJson(`${gw.http}/readyz`)).status).toBe(200));

    const { message } = await (await connect(gw)).next('historical_data');
    expect(message.timestamp).toBe(snap.builtAt);
    expect(message.data).toEqual(JSON.parse(JSON.stringify(buildView(decodeSnapshot(encodeSnapshot(snap))).data)));
    expect(message.data.throughput.total_requests_per_sec).toBeCloseTo(3 / 30, 9);
    expect(message.data.streaming).toMatchObject({ active_streams: 1, completed_streams: 1, failed_streams: 0 });
    expect(message.data.streaming.ttft.max).toBe(120);
    expect(message.data.cache.by_endpoint['/v1/embeddings']).toMatchObject({ hit_rate: 100, token_reuse_rate: 60, avg_prefix_length: 50 });
    expect(message.data.latency['/v1/chat/completions']).toMatchObject({ min: 800, max: 800 });
  });

  it('catches up from the latest key when it starts after a snapshot was published', async () => {
    const keys = pulseKeys(uniquePrefix());
    const snap = snapshot(Math.floor(Date.now() / TEST_TICK_MS), [cell('/a', 'm', { requests: 50 })], { builtAt: 1_700_000_000.75 });
    await new RedisSnapshotPublisher(producer, keys).publish(encodeSnapshot(snap));
    const gw = await gatewayOn(keys);
    await vi.waitFor(() => expect(gw.gateway.ready()).toBe(true));
    const body = (await getJson(`${gw.http}/metrics/snapshot`)).body;
    expect(body.timestamp).toBe(1_700_000_000.75);
    expect(body.data.throughput.total_requests_per_sec).toBe(5);
  });

  it('drops a stale snapshot from a paused old leader', async () => {
    const keys = pulseKeys(uniquePrefix());
    const gw = await gatewayOn(keys);
    const publisher = new RedisSnapshotPublisher(producer, keys);
    await publisher.publish(encodeSnapshot(snapshot(100, [cell('/new', 'm', { requests: 10 })], { epoch: 7, builtAt: 10 })));
    await vi.waitFor(() => expect(gw.gateway.ready()).toBe(true));
    const c = await connect(gw);
    await c.request({ type: 'subscribe', filters: { interval: 0.1 } }, 'subscribed');
    await new Promise((resolve) => setTimeout(resolve, 2 * TEST_TICK_MS)); // due for every snapshot from here on

    await publisher.publish(encodeSnapshot(snapshot(200, [cell('/old', 'm', { requests: 10 })], { epoch: 6, builtAt: 20 })));
    // A marker published after it proves the stale one was seen, and passed over.
    await publisher.publish(encodeSnapshot(snapshot(101, [cell('/new', 'm', { requests: 20 })], { epoch: 7, builtAt: 10.1 })));
    expect((await c.next('metrics_update')).message.timestamp).toBe(10.1);
    expect(c.ofType('metrics_update').map((u) => u.message.timestamp)).toEqual([10.1]);
    expect((await getJson(`${gw.http}/metrics/snapshot`)).body.timestamp).toBe(10.1);
  });

  it('is not ready while Redis is unreachable', async () => {
    const gw = await startGateway(feedFor(pulseKeys(uniquePrefix()), 'redis://127.0.0.1:1'));
    gateways.push(gw);
    const res = await getJson(`${gw.http}/readyz`);
    expect([res.status, res.body.reason]).toEqual([503, 'snapshot feed not connected']);
    // Clients are still served, with the empty data.
    expect((await (await connect(gw)).next('historical_data')).message.data.queue).toEqual({ queue_depth: 0, active_streams: 0 });
  });

  it('sends the same frames from two gateways on one Redis', async () => {
    const keys = pulseKeys(uniquePrefix());
    const [g1, g2] = [await gatewayOn(keys), await gatewayOn(keys)];
    await vi.waitFor(async () => expect((await getJson(`${g2.http}/readyz`)).body).toMatchObject({ reason: 'no snapshot received yet' }));
    tickers.push(startTicker(new RedisSnapshotPublisher(producer, keys), (n) => [cell('/chat', 'gpt-4', { requests: 10 + n, activeStreams: n })]));
    const [c1, c2] = [await connect(g1), await connect(g2)];
    for (const c of [c1, c2]) await c.request({ type: 'subscribe', filters: { model: 'gpt-4', interval: 0.1 } }, 'subscribed');
    const from1 = [await c1.next('metrics_update'), await c1.next('metrics_update'), await c1.next('metrics_update')];
    const target = from1[2]!;
    let from2 = await c2.next('metrics_update');
    while (from2.message.timestamp < target.message.timestamp) from2 = await c2.next('metrics_update');
    expect(from2.raw.equals(target.raw)).toBe(true);
  });

  it('closes its Redis connections on close', async () => {
    const keys = pulseKeys(uniquePrefix());
    const name = `gw-close-${uniquePrefix()}`;
    const gw = await startGateway(feedFor(keys, redis.url, name));
    await vi.waitFor(async () => expect(await admin.client('LIST')).toContain(`name=pulse:${name}:subscriber`));
    await gw.close();
    expect(await admin.client('LIST')).not.toContain(`name=pulse:${name}:`);
  });
});
