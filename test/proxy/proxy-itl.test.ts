/**
 * The proxy measures what streaming.itl needs (issue "LLM-native figures",
 * point 3): streams from the fake upstream at a known pace go through the
 * proxy over real sockets, with and without `stream_options.include_usage`;
 * each recorded end must carry the TTFT, token count and latency of that
 * pace, and the aggregator, on the same Redis, must publish an ITL of it.
 */
import { once } from 'node:events';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildView, SnapshotReplica } from '@pulse/metrics';
import type { InternalSnapshot, RequestEnd } from '@pulse/protocol';
import { connectRedis, RedisEventSource, RedisLeaderLease, RedisSnapshotFeed, RedisSnapshotPublisher, silentLogger, type RedisConnection } from '@pulse/runtime';
import { createAggregator, type Aggregator } from '@pulse/aggregator';
import { createFakeOpenAI, type FakeOpenAI } from '@pulse/fake-openai';
import { startTestRedis, testClient, type TestRedis } from '@pulse/test-support/redis';
import { startProxy, storedEvents, type TestProxy } from '@pulse/test-support/proxy';

/** The fake's schedule: headers after HEADERS_MS, the first token FIRST_TOKEN_MS after the request, then one every PACE_MS. */
const HEADERS_MS = 30;
const FIRST_TOKEN_MS = 100;
const PACE_MS = 20;
const TOKENS = 20;
/**
 * How early the fake upstream's delays may end as the proxy's clock sees them: Node's timers run on
 * the event loop's cached millisecond time, so a 100 ms wait measured with performance.now can take
 * 99.8 ms (a clean-clone CI run saw a TTFT of 99.829 ms).
 */
const TIMER_SLACK_MS = 1;
/**
 * Timers never fire early, only late. The fake schedules every token from one
 * origin, so lateness does not add up: it moves the first token (TTFT) and the
 * last (latency) by at most a busy machine's timer delay, which over the
 * TOKENS − 1 gaps of the ITL is a fraction of a millisecond per token.
 */
const LATE_MS = 40;
const ITL_TOLERANCE = 0.1;

let redis: TestRedis;
let reader: RedisConnection;
let fake: FakeOpenAI;
let proxy: TestProxy;
let aggregator: Aggregator;
let feed: RedisSnapshotFeed;
const connections: RedisConnection[] = [];

async function connection(role: 'producer' | 'consumer'): Promise<RedisConnection> {
  const c = connectRedis(redis.url, role, 'proxy-itl-test', silentLogger());
  connections.push(c);
  await once(c, 'ready');
  return c;
}

beforeAll(async () => {
  redis = await startTestRedis();
  reader = testClient(redis.url);
  fake = createFakeOpenAI({ latencyMs: HEADERS_MS, ttftMs: FIRST_TOKEN_MS - HEADERS_MS, tokensPerSecond: 1000 / PACE_MS });
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
  feed = new RedisSnapshotFeed({ url: redis.url, keys: proxy.keys, name: 'proxy-itl-feed', logger: silentLogger() });
});
afterAll(async () => {
  await feed?.close();
  await aggregator?.close();
  await proxy?.close();
  await fake?.close();
  for (const c of connections) c.disconnect();
  reader?.disconnect();
  await redis?.stop();
});

const messages = [{ role: 'user', content: 'x'.repeat(40) }];
const stream = (includeUsage: boolean) =>
  fetch(`${proxy.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'gpt-4', messages, stream: true, max_tokens: TOKENS, ...(includeUsage && { stream_options: { include_usage: true } }) }),
  }).then((r) => r.text());

/** Pulse's definition (docs/PROTOCOL.md §4): the time after the first token, over the gaps between tokens. */
const itl = (end: RequestEnd) => (end.latency_ms - end.ttft_ms!) / (end.completion_tokens! - 1);

/** The snapshot the aggregator published (keyframe and patches, as a gateway reads them), once it has `responses`. */
async function published(responses: number): Promise<InternalSnapshot> {
  let snapshot: InternalSnapshot | null = null;
  await expect
    .poll(async () => {
      snapshot = SnapshotReplica.fromMessages(await feed.latest()).snapshot;
      return snapshot?.cells.reduce((n, c) => n + c.responses, 0);
    }, { timeout: 10_000 })
    .toBe(responses);
  return snapshot!;
}

describe('proxied streams at a known token pace', () => {
  it('record TTFT at the first token, N tokens and a latency of TTFT + (N−1)·pace, so Pulse publishes ITL ≈ pace', async () => {
    expect((await stream(true)).match(/"content":"[a-z]+ "/g)).toHaveLength(TOKENS);
    expect((await stream(false)).match(/"content":"[a-z]+ "/g)).toHaveLength(TOKENS);

    let ends: RequestEnd[] = [];
    await expect.poll(async () => (ends = (await storedEvents(reader, proxy.keys)).filter((e): e is RequestEnd => e.type === 'request.end')).length).toBe(2);
    const [withUsage, counted] = ends as [RequestEnd, RequestEnd];
    expect(withUsage).toMatchObject({ stream: true, status: 200, completion_tokens: TOKENS });
    expect(withUsage.tokens_estimated).toBeUndefined();
    expect(counted).toMatchObject({ stream: true, status: 200, completion_tokens: TOKENS, tokens_estimated: true });
    for (const end of ends) {
      expect(end.error).toBeUndefined();
      expect(end.ttft_ms).toBeGreaterThanOrEqual(FIRST_TOKEN_MS - TIMER_SLACK_MS);
      expect(end.ttft_ms).toBeLessThan(FIRST_TOKEN_MS + LATE_MS);
      expect(end.latency_ms).toBeGreaterThanOrEqual(FIRST_TOKEN_MS + (TOKENS - 1) * PACE_MS - TIMER_SLACK_MS);
      expect(end.latency_ms - end.ttft_ms!).toBeGreaterThan((TOKENS - 1) * PACE_MS - LATE_MS);
      expect(end.latency_ms - end.ttft_ms!).toBeLessThan((TOKENS - 1) * PACE_MS + LATE_MS);
      expect(Math.abs(itl(end) / PACE_MS - 1)).toBeLessThan(ITL_TOLERANCE);
    }

    const { streaming } = buildView(await published(2)).data;
    const samples = ends.map(itl).sort((a, b) => a - b);
    expect(streaming.itl).toBeDefined();
    // Exact extremes; the p50 of two samples is their mean, within the sketch's 1 %.
    expect(streaming.itl!.min).toBeCloseTo(samples[0]!, 6);
    expect(streaming.itl!.max).toBeCloseTo(samples[1]!, 6);
    expect(Math.abs(streaming.itl!.p50 / ((samples[0]! + samples[1]!) / 2) - 1)).toBeLessThan(0.01);
    expect(Math.abs(streaming.itl!.p50 / PACE_MS - 1)).toBeLessThan(ITL_TOLERANCE);
  });
});
