/**
 * The OTLP push against a real OTLP/HTTP receiver (an http.Server that
 * records and decodes what arrives), fed by known events through the real
 * services: ingest → Redis → two aggregators (only the leader may push; the
 * standby takes over when the leader stops, with totals that did not go
 * down), and `npm start` (a final push on SIGTERM; the protobuf protocol).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CUMULATIVE_HISTOGRAMS } from '@pulse/protocol';
import { TestReceiver, type RecordedRequest } from '@pulse/test-support/http-receiver';
import { startService, type ServiceProcess } from '@pulse/test-support/processes';
import { startTestRedis, uniquePrefix, type TestRedis } from '@pulse/test-support/redis';
import { eventsOf, pointOf, pointsOf, post, resourceOf, sleep, total, until, type KnownRequest, type Point } from './otlp-test-support.js';

const CHAT = { node: 'node-a', endpoint: '/v1/chat/completions', model: 'gpt-4', stream: true } as const;
const EMBED = { node: 'node-b', endpoint: '/v1/embeddings', model: 'emb-1', stream: false } as const;

/** 3 streamed chats (ITL: (latency − TTFT) ÷ (completion tokens − 1)) and 2 embeddings, one failing. */
const FIRST: KnownRequest[] = [
  { ...CHAT, latencyMs: 150, ttftMs: 30, promptTokens: 5, completionTokens: 11 }, // 0.15 s ≤ 0.16; ITL 0.012 ≤ 0.025
  { ...CHAT, latencyMs: 150, ttftMs: 30, promptTokens: 5, completionTokens: 11 },
  { ...CHAT, latencyMs: 3000, ttftMs: 30, promptTokens: 5, completionTokens: 11 }, // 3 s ≤ 5.12; ITL 0.297 ≤ 0.3
  { ...EMBED, latencyMs: 15, promptTokens: 100 },
  { ...EMBED, latencyMs: 15, promptTokens: 100, status: 500 },
];

/** Bucket counts with `n` in bucket i for each [i, n]. */
function buckets(metricBounds: readonly number[], ...at: [number, number][]): number[] {
  const counts = new Array<number>(metricBounds.length + 1).fill(0);
  for (const [i, n] of at) counts[i] = n;
  return counts;
}

/** Pushes that came from each replica (their OTEL_EXPORTER_OTLP_HEADERS differ by x-replica). */
const byReplica = (receiver: TestReceiver, replica: string) => receiver.requests.filter((r) => r.headers['x-replica'] === replica);

const json200 = { status: 200, headers: { 'content-type': 'application/json' }, body: '{}' };

function otlpEnv(receiver: TestReceiver, extra: Record<string, string> = {}): Record<string, string> {
  return { OTEL_EXPORTER_OTLP_METRICS_ENDPOINT: receiver.url, OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json', OTEL_METRIC_EXPORT_INTERVAL: '500', ...extra };
}

async function roleOf(agg: ServiceProcess): Promise<string | null> {
  try {
    const res = await fetch(`${agg.url}/status`, { signal: AbortSignal.timeout(500) });
    return ((await res.json()) as { role: string }).role;
  } catch {
    return null;
  }
}

/** The last push whose counters say every request of `n` started and ended. */
function pushCounting(requests: readonly RecordedRequest[], n: number): Point[] | undefined {
  for (const r of [...requests].reverse()) {
    const points = pointsOf(r);
    if (total(points, 'pulse.requests') === n && total(points, 'pulse.responses') === n) return points;
  }
  return undefined;
}

/** Every series' counters and histogram counts, in arrival order, never went down. */
function expectNeverDecreasing(requests: readonly RecordedRequest[]): void {
  const last = new Map<string, number>();
  for (const r of [...requests].sort((a, b) => a.at - b.at)) {
    for (const p of pointsOf(r)) {
      const key = JSON.stringify([p.metric, p.attributes]);
      const value = p.kind === 'sum' ? p.value : p.count;
      expect(value, `${key} went down`).toBeGreaterThanOrEqual(last.get(key) ?? 0);
      last.set(key, value);
    }
  }
}

/** Ingest and two aggregators ('a' and 'b') on one Redis, pushing to one receiver; `envOf` adds each aggregator's OTLP variables. */
interface PushPipeline {
  redis: TestRedis;
  receiver: TestReceiver;
  procs: ServiceProcess[];
  ingest: ServiceProcess;
  aggregators: { tag: string; proc: ServiceProcess }[];
}

async function startPipeline(base: Record<string, string>, envOf: (tag: string) => Record<string, string>): Promise<PushPipeline> {
  const redis = await startTestRedis();
  const receiver = await TestReceiver.start();
  receiver.fallback = json200;
  const env = { REDIS_URL: redis.url, PULSE_TICK_MS: '100', LOG_LEVEL: 'info', ...base };
  const ingest = await startService('ingest', env);
  const procs = [ingest];
  const aggregators: PushPipeline['aggregators'] = [];
  for (const tag of ['a', 'b']) {
    const proc = await startService('aggregator', { ...env, ...otlpEnv(receiver, envOf(tag)) });
    procs.push(proc);
    aggregators.push({ tag, proc });
  }
  return { redis, receiver, procs, ingest, aggregators };
}

async function stopPipeline(p: PushPipeline | undefined): Promise<void> {
  if (!p) return;
  await Promise.all(p.procs.map((proc) => proc.stop('SIGKILL')));
  await p.receiver.close();
  await p.redis.stop();
}

describe('OTLP push from the aggregators (leader only)', () => {
  let pipeline: PushPipeline | undefined;
  let redis: TestRedis;
  let receiver: TestReceiver;
  let procs: ServiceProcess[];
  let ingest: ServiceProcess;
  let aggregators: PushPipeline['aggregators'];

  beforeAll(async () => {
    pipeline = await startPipeline({ PULSE_KEY_PREFIX: uniquePrefix('otlp') }, (tag) => ({ OTEL_EXPORTER_OTLP_HEADERS: `x-replica=${tag},authorization=Bearer%20secret` }));
    ({ redis, receiver, procs, ingest, aggregators } = pipeline);
  }, 60_000);

  afterAll(() => stopPipeline(pipeline));

  it('pushes the GenAI histograms and counters of known events, from the leader alone, and the standby carries on after the leader stops', async () => {
    await post(ingest.url, eventsOf(FIRST));
    const points = await until('a push counting the 5 requests', () => pushCounting(receiver.requests, 5), 10_000);

    const leader = await until('one leader', async () => {
      const roles = await Promise.all(aggregators.map((a) => roleOf(a.proc)));
      return roles.filter((r) => r === 'leader').length === 1 ? aggregators[roles.indexOf('leader')] : undefined;
    }, 5000);
    const standby = aggregators.find((a) => a !== leader)!;
    await sleep(1500); // three more intervals: a standby would have pushed by now
    expect(byReplica(receiver, leader.tag).length).toBeGreaterThanOrEqual(2);
    expect(byReplica(receiver, standby.tag)).toEqual([]);

    // Transport: the configured endpoint as given, OTLP/JSON, the headers of OTEL_EXPORTER_OTLP_HEADERS (percent-decoded).
    const first = receiver.requests[0]!;
    expect(first.method).toBe('POST');
    expect(first.path).toBe('/hook');
    expect(first.headers['content-type']).toBe('application/json');
    expect(first.headers.authorization).toBe('Bearer secret');
    expect(resourceOf(first)['service.name']).toBe('pulse');
    expect(resourceOf(first)['service.instance.id']).toBeUndefined();

    const chat = { 'server.address': 'node-a', 'gen_ai.request.model': 'gpt-4', 'pulse.endpoint': '/v1/chat/completions' };
    const embed = { 'server.address': 'node-b', 'gen_ai.request.model': 'emb-1', 'pulse.endpoint': '/v1/embeddings' };
    const L = CUMULATIVE_HISTOGRAMS;

    const duration = pointOf(points, 'gen_ai.server.request.duration', chat)!;
    expect(duration).toMatchObject({ unit: 's', kind: 'histogram', temporality: 2, count: 3, bounds: [...L.latency], buckets: buckets(L.latency, [4, 2], [9, 1]) });
    expect(duration.sum).toBeCloseTo(3.3, 6);
    expect(duration.attributes).toEqual({ ...chat, 'gen_ai.operation.name': 'chat', 'gen_ai.provider.name': 'openai' });
    const embedDuration = pointOf(points, 'gen_ai.server.request.duration', embed)!;
    expect(embedDuration).toMatchObject({ count: 2, buckets: buckets(L.latency, [1, 2]) });
    expect(embedDuration.attributes['gen_ai.operation.name']).toBe('embeddings');

    expect(pointOf(points, 'gen_ai.server.time_to_first_token', chat)).toMatchObject({ unit: 's', count: 3, bounds: [...L.ttft], buckets: buckets(L.ttft, [4, 3]) });
    expect(pointOf(points, 'gen_ai.server.time_to_first_token', embed)).toBeUndefined(); // nothing observed: no point
    const tpot = pointOf(points, 'gen_ai.server.time_per_output_token', chat)!;
    expect(tpot).toMatchObject({ unit: 's', count: 3, bounds: [...L.itl], buckets: buckets(L.itl, [1, 2], [7, 1]) });
    expect(tpot.sum).toBeCloseTo(0.012 * 2 + 0.297, 6);

    const input = pointOf(points, 'gen_ai.client.token.usage', { ...chat, 'gen_ai.token.type': 'input' })!;
    expect(input).toMatchObject({ unit: '{token}', count: 3, sum: 15, bounds: [...L.inputTokens], buckets: buckets(L.inputTokens, [2, 3]) });
    expect(pointOf(points, 'gen_ai.client.token.usage', { ...chat, 'gen_ai.token.type': 'output' })).toMatchObject({ count: 3, sum: 33 });
    expect(pointOf(points, 'gen_ai.client.token.usage', { ...embed, 'gen_ai.token.type': 'input' })).toMatchObject({ count: 2, sum: 200, buckets: buckets(L.inputTokens, [4, 2]) });

    for (const [metric, series, value] of [
      ['pulse.requests', chat, 3],
      ['pulse.responses', embed, 2],
      ['pulse.request.errors', embed, 1],
      ['pulse.request.errors', chat, 0],
    ] as const) {
      expect(pointOf(points, metric, series), `${metric} ${series['server.address']}`).toMatchObject({ kind: 'sum', monotonic: true, temporality: 2, value });
    }
    // Cumulative from the metrics store's creation: every point starts at the same instant, before the first event.
    const starts = new Set(points.map((p) => p.startNs));
    expect(starts.size).toBe(1);
    const createdNs = [...starts][0]!;
    expect(createdNs).toBeLessThanOrEqual(BigInt(first.at) * 1_000_000n);

    // The leader stops (SIGTERM: a last push, then it hands the lease over); the standby takes over and pushes.
    const stoppedAt = Date.now();
    expect(await leader.proc.stop('SIGTERM')).toBe(0);
    expect(byReplica(receiver, leader.tag).at(-1)!.at).toBeGreaterThanOrEqual(stoppedAt);
    await until('the standby to push', () => byReplica(receiver, standby.tag).length > 0, 10_000);
    const takeover = pointsOf(byReplica(receiver, standby.tag)[0]!);
    expect(total(takeover, 'pulse.requests')).toBe(5);
    expect(pointOf(takeover, 'gen_ai.server.request.duration', chat)).toMatchObject({ count: 3, buckets: duration.buckets });

    await post(ingest.url, eventsOf([{ ...CHAT, latencyMs: 50, ttftMs: 2, promptTokens: 1, completionTokens: 1 }]));
    const after = await until('the new leader counting the 6th request', () => pushCounting(byReplica(receiver, standby.tag), 6), 10_000);
    expect(pointOf(after, 'gen_ai.server.request.duration', chat)).toMatchObject({ count: 4, buckets: buckets(L.latency, [3, 1], [4, 2], [9, 1]) });
    expect(pointOf(after, 'gen_ai.server.time_to_first_token', chat)).toMatchObject({ count: 4, buckets: buckets(L.ttft, [1, 1], [4, 3]) });
    expect(pointOf(after, 'gen_ai.server.time_per_output_token', chat)).toMatchObject({ count: 3 }); // one completion token: no ITL
    expect(new Set(after.map((p) => p.startNs))).toEqual(new Set([createdNs]));
    expectNeverDecreasing(receiver.requests);
  }, 60_000);

  it('a bad OTEL_* value stops the process at start with exit 2, naming the variable', async () => {
    const proc = await startService('aggregator', { REDIS_URL: redis.url, OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc', OTEL_METRIC_EXPORT_INTERVAL: 'soon' }, { waitReady: false });
    procs.push(proc);
    expect(await proc.exited).toBe(2);
    expect(proc.output()).toContain('OTEL_EXPORTER_OTLP_PROTOCOL');
    expect(proc.output()).toContain('OTEL_METRIC_EXPORT_INTERVAL');
  });
});

describe('OTLP push from npm start', () => {
  let receiver: TestReceiver;
  const procs: ServiceProcess[] = [];

  beforeAll(async () => {
    receiver = await TestReceiver.start();
  });

  afterAll(async () => {
    await Promise.all(procs.map((p) => p.stop('SIGKILL')));
    await receiver?.close();
  });

  it('pushes once more on SIGTERM, to OTEL_EXPORTER_OTLP_ENDPOINT + v1/metrics, with the resource of OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES', async () => {
    receiver.fallback = json200;
    const base = receiver.url.replace(/\/hook$/, '/otlp');
    const pulse = await startService('standalone', {
      PULSE_TICK_MS: '100',
      OTEL_EXPORTER_OTLP_ENDPOINT: base,
      OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
      OTEL_METRIC_EXPORT_INTERVAL: '600000', // never within the test: only the SIGTERM flush pushes
      OTEL_SERVICE_NAME: 'pulse-ci',
      OTEL_RESOURCE_ATTRIBUTES: 'deployment.environment.name=ci,team=llm%20serving',
    });
    procs.push(pulse);
    await post(pulse.url, eventsOf(FIRST.slice(0, 2)));
    await sleep(500); // a few ticks: the events are counted
    expect(receiver.requests).toEqual([]);
    expect(await pulse.stop('SIGTERM')).toBe(0);
    expect(receiver.requests).toHaveLength(1);
    const push = receiver.requests[0]!;
    expect(push.path).toBe('/otlp/v1/metrics');
    expect(resourceOf(push)).toMatchObject({ 'service.name': 'pulse-ci', 'deployment.environment.name': 'ci', team: 'llm serving' });
    const points = pointsOf(push);
    expect(total(points, 'pulse.requests')).toBe(2);
    expect(pointOf(points, 'gen_ai.server.request.duration', { 'server.address': 'node-a' })).toMatchObject({ count: 2 });
  }, 30_000);

  it('speaks http/protobuf by default', async () => {
    receiver.requests.length = 0;
    receiver.fallback = { status: 200, headers: { 'content-type': 'application/x-protobuf' }, body: '' };
    const pulse = await startService('standalone', { PULSE_TICK_MS: '100', OTEL_EXPORTER_OTLP_METRICS_ENDPOINT: receiver.url, OTEL_METRIC_EXPORT_INTERVAL: '500' });
    procs.push(pulse);
    await post(pulse.url, eventsOf(FIRST.slice(0, 1)));
    const push = await until('a protobuf push', () => receiver.requests.find((r) => String(r.body).includes('gen_ai.server.request.duration')), 10_000);
    expect(push.headers['content-type']).toBe('application/x-protobuf');
    // Protobuf keeps strings as they are: the names and attributes are in the bytes.
    for (const s of ['gen_ai.server.time_to_first_token', 'gen_ai.client.token.usage', 'pulse.requests', 'gen_ai.request.model', 'node-a']) expect(String(push.body)).toContain(s);
  }, 30_000);
});

/**
 * Exponential histograms (OTEL_EXPORTER_OTLP_METRICS_DEFAULT_HISTOGRAM_AGGREGATION=base2_exponential_bucket_histogram):
 * the same known events, whose buckets at scale 3 — (2^(i/8), 2^((i+1)/8)] — are worked out by hand below.
 */
const EXP: KnownRequest[] = [
  // 1 s = 2^0 closes bucket -1; TTFT 0.25 s = 2^-2 closes bucket -17; ITL (1000 − 250) / 10 = 0.075 s: 2^(-30/8) = 0.0743 < 0.075 ≤ 0.0810 → -30.
  // 8 input tokens = 2^3 → 23; 11 output tokens: 2^(27/8) = 10.37 < 11 ≤ 11.31 → 27.
  { ...CHAT, latencyMs: 1000, ttftMs: 250, promptTokens: 8, completionTokens: 11 },
  // 0 input tokens: the zero count; 1 output token = 2^0 → -1 (and no ITL: one token).
  { ...CHAT, latencyMs: 1000, ttftMs: 250, promptTokens: 0, completionTokens: 1 },
  // 0.15 s: 2^(-22/8) = 0.1487 < 0.15 ≤ 0.1621 → -22; TTFT 0.03 s: 0.0287 < 0.03 ≤ 0.03125 → -41; ITL 0.012 s: 0.01105 < 0.012 ≤ 0.012013 → -52.
  // 5 input tokens: 4.757 < 5 ≤ 5.187 → 18.
  { ...CHAT, latencyMs: 150, ttftMs: 30, promptTokens: 5, completionTokens: 11 },
  // 3 s: 2.83 < 3 ≤ 3.08 → 12; ITL 0.297 s: 0.2726 < 0.297 ≤ 0.29730 → -15.
  { ...CHAT, latencyMs: 3000, ttftMs: 30, promptTokens: 5, completionTokens: 11 },
  // 0 ms: the zero count; 100 tokens: 98.7 < 100 ≤ 103.97 → 53.
  { ...EMBED, latencyMs: 0, promptTokens: 100 },
  // 0.015 s: 2^(-49/8) = 0.01435 < 0.015 ≤ 2^-6 → -49.
  { ...EMBED, latencyMs: 15, promptTokens: 100, status: 500 },
];

/** Dense positive buckets from `offset` with `n` at index i for each [i, n]. */
function expBuckets(offset: number, ...at: [number, number][]): { offset: number; buckets: number[] } {
  const last = Math.max(...at.map(([i]) => i));
  const buckets = new Array<number>(last - offset + 1).fill(0);
  for (const [i, n] of at) buckets[i - offset] = n;
  return { offset, buckets };
}

describe('OTLP push of exponential histograms', () => {
  let pipeline: PushPipeline | undefined;
  let receiver: TestReceiver;
  let ingest: ServiceProcess;
  let aggregators: PushPipeline['aggregators'];

  beforeAll(async () => {
    pipeline = await startPipeline({ PULSE_KEY_PREFIX: uniquePrefix('otlp-exp'), PULSE_LEASE_MS: '600' }, (tag) => ({
      OTEL_EXPORTER_OTLP_HEADERS: `x-replica=${tag}`,
      OTEL_EXPORTER_OTLP_METRICS_DEFAULT_HISTOGRAM_AGGREGATION: 'base2_exponential_bucket_histogram',
    }));
    ({ receiver, ingest, aggregators } = pipeline);
  }, 60_000);

  afterAll(() => stopPipeline(pipeline));

  it('pushes exact scale-3 buckets, zero counts, sums and counts, and the standby carries them on after a kill -9 of the leader', async () => {
    await post(ingest.url, eventsOf(EXP));
    const points = await until('a push counting the 6 requests', () => pushCounting(receiver.requests, 6), 10_000);

    const chat = { 'server.address': 'node-a', 'gen_ai.request.model': 'gpt-4', 'pulse.endpoint': '/v1/chat/completions' };
    const embed = { 'server.address': 'node-b', 'gen_ai.request.model': 'emb-1', 'pulse.endpoint': '/v1/embeddings' };
    // Exponential points only: no explicit-bucket histogram is pushed besides them.
    expect(points.filter((p) => p.kind === 'histogram')).toEqual([]);
    for (const p of points.filter((x) => x.kind === 'exponential')) {
      expect(p, p.metric).toMatchObject({ scale: 3, temporality: 2, negative: [] });
      expect(p.zeroCount + p.buckets.reduce((a, b) => a + b, 0), p.metric).toBe(p.count);
    }

    const duration = pointOf(points, 'gen_ai.server.request.duration', chat)!;
    expect(duration).toMatchObject({ unit: 's', kind: 'exponential', count: 4, zeroCount: 0, ...expBuckets(-22, [-22, 1], [-1, 2], [12, 1]) });
    expect(duration.sum).toBeCloseTo(5.15, 9);
    expect(duration.attributes).toEqual({ ...chat, 'gen_ai.operation.name': 'chat', 'gen_ai.provider.name': 'openai' });
    const embedDuration = pointOf(points, 'gen_ai.server.request.duration', embed)!;
    expect(embedDuration).toMatchObject({ count: 2, zeroCount: 1, ...expBuckets(-49, [-49, 1]) });
    expect(embedDuration.sum).toBeCloseTo(0.015, 9);
    expect(embedDuration.attributes['gen_ai.operation.name']).toBe('embeddings');

    const ttft = pointOf(points, 'gen_ai.server.time_to_first_token', chat)!;
    expect(ttft).toMatchObject({ unit: 's', kind: 'exponential', count: 4, zeroCount: 0, ...expBuckets(-41, [-41, 2], [-17, 2]) });
    expect(ttft.sum).toBeCloseTo(0.56, 9);
    expect(pointOf(points, 'gen_ai.server.time_to_first_token', embed)).toBeUndefined(); // nothing observed: no point
    const tpot = pointOf(points, 'gen_ai.server.time_per_output_token', chat)!;
    expect(tpot).toMatchObject({ unit: 's', count: 3, zeroCount: 0, ...expBuckets(-52, [-52, 1], [-30, 1], [-15, 1]) });
    expect(tpot.sum).toBeCloseTo(0.075 + 0.012 + 0.297, 9);

    const usage = (series: Record<string, string>, type: string) => pointOf(points, 'gen_ai.client.token.usage', { ...series, 'gen_ai.token.type': type });
    expect(usage(chat, 'input')).toMatchObject({ unit: '{token}', kind: 'exponential', count: 4, sum: 18, zeroCount: 1, ...expBuckets(18, [18, 2], [23, 1]) });
    expect(usage(chat, 'output')).toMatchObject({ count: 4, sum: 34, zeroCount: 0, ...expBuckets(-1, [-1, 1], [27, 3]) });
    expect(usage(embed, 'input')).toMatchObject({ count: 2, sum: 200, zeroCount: 0, ...expBuckets(53, [53, 2]) });
    expect(usage(embed, 'output')).toBeUndefined();
    // The counters as ever.
    expect(pointOf(points, 'pulse.request.errors', embed)).toMatchObject({ kind: 'sum', value: 1 });

    // kill -9 of the leader: the standby takes over, loads the persisted buckets and pushes them, from the same start.
    const leader = await until('one leader', async () => {
      const roles = await Promise.all(aggregators.map((a) => roleOf(a.proc)));
      return roles.filter((r) => r === 'leader').length === 1 ? aggregators[roles.indexOf('leader')] : undefined;
    }, 5000);
    const standby = aggregators.find((a) => a !== leader)!;
    expect(byReplica(receiver, standby.tag)).toEqual([]);
    await leader.proc.stop('SIGKILL');
    await until('the standby to push', () => byReplica(receiver, standby.tag).length > 0, 10_000);
    const takeover = pointsOf(byReplica(receiver, standby.tag)[0]!);
    for (const p of points.filter((x) => x.kind === 'exponential')) {
      const q = pointOf(takeover, p.metric, p.attributes)!;
      expect(q, `${p.metric} ${JSON.stringify(p.attributes)}`).toMatchObject({ count: p.count, zeroCount: p.zeroCount, offset: p.offset, buckets: p.buckets, startNs: p.startNs });
      expect(q.sum).toBeCloseTo(p.sum, 9);
    }

    // Counted on top by the new leader: 2 s = 2^1 closes bucket 7; TTFT 0 ms joins the zeros.
    await post(ingest.url, eventsOf([{ ...CHAT, latencyMs: 2000, ttftMs: 0, promptTokens: 8, completionTokens: 1 }]));
    const after = await until('the new leader counting the 7th request', () => pushCounting(byReplica(receiver, standby.tag), 7), 10_000);
    expect(pointOf(after, 'gen_ai.server.request.duration', chat)).toMatchObject({ count: 5, ...expBuckets(-22, [-22, 1], [-1, 2], [7, 1], [12, 1]) });
    expect(pointOf(after, 'gen_ai.server.time_to_first_token', chat)).toMatchObject({ count: 5, zeroCount: 1, ...expBuckets(-41, [-41, 2], [-17, 2]) });
    expect(pointOf(after, 'gen_ai.client.token.usage', { ...chat, 'gen_ai.token.type': 'input' })).toMatchObject({ count: 5, sum: 26, ...expBuckets(18, [18, 2], [23, 2]) });
    expectNeverDecreasing(receiver.requests);
  }, 60_000);
});
