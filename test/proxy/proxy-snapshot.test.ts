/**
 * Proxied traffic all the way to a snapshot: the proxy in front of the fake
 * upstream writes to Redis, an in-process aggregator builds snapshots, and the
 * public figures (docs/PROTOCOL.md §4) must be exactly those of the recorded traffic.
 */
import { once } from 'node:events';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildView } from '@pulse/metrics';
import type { InternalSnapshot, RequestEnd } from '@pulse/protocol';
import { connectRedis, RedisEventSource, RedisLeaderLease, RedisSnapshotPublisher, silentLogger, type RedisConnection } from '@pulse/runtime';
import { createAggregator, type Aggregator } from '@pulse/aggregator';
import { createFakeOpenAI, type FakeOpenAI } from '@pulse/fake-openai';
import { startTestRedis, testClient, type TestRedis } from '@pulse/test-support/redis';
import { startProxy, storedEvents, type TestProxy } from '@pulse/test-support/proxy';

const EP = '/v1/chat/completions';
let redis: TestRedis;
let reader: RedisConnection;
let fake: FakeOpenAI;
let proxy: TestProxy;
let aggregator: Aggregator;
const connections: RedisConnection[] = [];

async function connection(role: 'producer' | 'consumer'): Promise<RedisConnection> {
  const c = connectRedis(redis.url, role, 'proxy-snapshot-test', silentLogger());
  connections.push(c);
  await once(c, 'ready');
  return c;
}

beforeAll(async () => {
  redis = await startTestRedis();
  reader = testClient(redis.url);
  fake = createFakeOpenAI({ ttftMs: 30, tokensPerSecond: 200, cacheHitRate: 1, cachedShare: 0.5 });
  proxy = await startProxy({ redisUrl: redis.url, upstreams: [await fake.listen()] });
  const commands = await connection('producer');
  const source = new RedisEventSource(await connection('consumer'), commands, { keys: proxy.keys, consumer: 'a1', reclaimIdleMs: 1000 });
  aggregator = createAggregator({
    settings: { windowMs: 60_000, tickMs: 100, maxEndpoints: 100, maxModels: 100, maxNodes: 256, maxCells: 1000, slos: [], batchEntries: 100 },
    source,
    lease: new RedisLeaderLease(commands, proxy.keys, 1000),
    publisher: new RedisSnapshotPublisher(commands, proxy.keys),
    logger: silentLogger(),
  });
  aggregator.start();
});
afterAll(async () => {
  await aggregator?.close();
  await proxy?.close();
  await fake?.close();
  for (const c of connections) c.disconnect();
  reader?.disconnect();
  await redis?.stop();
});

async function snapshotWith(responses: number): Promise<InternalSnapshot> {
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    const s = await aggregator.nextSnapshot();
    if (s.cells.reduce((n, c) => n + c.responses, 0) === responses) return s;
  }
  throw new Error(`no snapshot with ${responses} responses in time`);
}

const messages = [{ role: 'user', content: 'x'.repeat(40) }]; // 10 prompt tokens, 5 cached on a hit
const send = (path: string, body: object) =>
  fetch(proxy.url + path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }).then((r) => r.text());

describe('proxied traffic in the snapshot', () => {
  it('has exactly the figures of the requests that went through', async () => {
    for (let i = 0; i < 3; i++) await send(EP, { model: 'gpt-4', messages, max_tokens: 5 });
    for (let i = 0; i < 2; i++) await send(EP, { model: 'gpt-4', messages, max_tokens: 4, stream: true, stream_options: { include_usage: true } });
    await send(EP, { model: 'gpt-4', messages, max_tokens: 6, stream: true }); // no usage: 6 tokens counted, no cache lookup
    await send('/v1/nope', { model: 'gpt-4' }); // the fake answers 404: forwarded, not an inference route, not recorded
    await send('/v1/embeddings', ['not an object']); // the fake answers 400: recorded, an error

    const view = buildView(await snapshotWith(7)).data;
    const ends = (await storedEvents(reader, proxy.keys)).filter((e): e is RequestEnd => e.type === 'request.end');
    const chat = ends.filter((e) => e.endpoint === EP);
    const latencies = chat.map((e) => e.latency_ms);
    const ttfts = chat.flatMap((e) => (e.ttft_ms === undefined ? [] : [e.ttft_ms]));
    expect(ttfts).toHaveLength(3);

    expect(view.streaming).toMatchObject({ active_streams: 0, completed_streams: 3, failed_streams: 0 });
    expect(view.queue).toEqual({ queue_depth: 0, active_streams: 0 });
    expect(view.cache).toMatchObject({ total_lookups: 5, cache_hits: 5, hit_rate: 100, token_reuse_rate: 50, avg_prefix_length: 5 });
    expect(view.latency[EP]).toMatchObject({ min: Math.min(...latencies), max: Math.max(...latencies) });
    expect(view.latency[EP]!.avg).toBeCloseTo(latencies.reduce((a, b) => a + b, 0) / latencies.length, 6);
    expect(view.streaming.ttft).toMatchObject({ min: Math.min(...ttfts), max: Math.max(...ttfts) });
    expect(view.latency['/v1/embeddings']).toBeDefined();
    expect(view.latency['/v1/nope']).toBeUndefined();
    expect(Object.keys(view.latency).sort()).toEqual([EP, '/v1/embeddings']);
    // Rates share one denominator (the covered window), so their ratios are exact counts.
    const responses = view.throughput.total_responses_per_sec;
    expect(view.throughput.total_tokens_per_sec / responses).toBeCloseTo((3 * 5 + 2 * 4 + 6) / 7, 9);
    expect(view.error.total_errors_per_sec / responses).toBeCloseTo(1 / 7, 9);
    expect(view.throughput.total_requests_per_sec / responses).toBeCloseTo(1, 9);
  });
});
