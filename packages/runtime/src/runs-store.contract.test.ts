/**
 * One suite, both runs stores: what the gateway's run routes rely on must
 * hold in one process (`npm start`) and across gateways on Redis alike.
 */
import { once } from 'node:events';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runsKeys } from '@pulse/protocol';
import { startTestRedis, testClient, uniquePrefix, type TestRedis } from '@pulse/test-support/redis';
import { stopTopologies, TOPOLOGIES, topologyUrl } from '@pulse/test-support/redis-topologies';
import { silentLogger } from './logger.js';
import { connectRedis, type RedisConnection } from './redis.js';
import { parseAnnotationInput, parseRunInput, RunInputError, RUN_LIMITS, type RunsLimits, type RunsStore } from './runs-store.js';
import { MemoryRunsStore } from './runs-store.memory.js';
import { RedisRunsStore } from './runs-store.redis.js';

let redis: TestRedis;
const connections: RedisConnection[] = [];
beforeAll(async () => {
  redis = await startTestRedis();
});
afterAll(async () => {
  for (const c of connections) c.disconnect();
  await Promise.all([redis?.stop(), stopTopologies()]);
});

async function redisConnection(url = redis.url): Promise<RedisConnection> {
  const c = connectRedis(url, 'producer', 'runs-contract', silentLogger());
  connections.push(c);
  await once(c, 'ready');
  return c;
}

/** `make` gives one store; `other` a second view of the same data (another gateway), where there can be one. */
const backends: { name: string; make(limits?: RunsLimits): Promise<{ store: RunsStore; other: () => Promise<RunsStore> }> }[] = [
  {
    name: 'MemoryRunsStore',
    async make(limits) {
      const store = new MemoryRunsStore(limits);
      return { store, other: async () => store };
    },
  },
  redisBackend('RedisRunsStore', async () => redis.url),
  // Sentinel and Cluster (docs/REDIS.md): every script's keys in the one `{prefix}` slot.
  ...TOPOLOGIES.map((t) => redisBackend(`RedisRunsStore on ${t}`, () => topologyUrl(t))),
];

function redisBackend(name: string, url: () => Promise<string>): (typeof backends)[number] {
  return {
    name,
    async make(limits) {
      const at = await url();
      const keys = runsKeys(uniquePrefix());
      const store = new RedisRunsStore(await redisConnection(at), keys, limits);
      return { store, other: async () => new RedisRunsStore(await redisConnection(at), keys, limits) };
    },
  };
}

const T0 = 1_765_000_000.125;

describe.each(backends)('runs store contract: $name', ({ make }) => {
  it('starts a run with its name, labels and start time, and finds it by id', async () => {
    const { store } = await make();
    const run = await store.startRun({ name: 'baseline', labels: { model: 'gpt-4', 'rate.qps': '50' } }, T0);
    expect(run).toEqual({ id: expect.any(String), name: 'baseline', labels: { model: 'gpt-4', 'rate.qps': '50' }, started_at: T0 });
    expect(await store.getRun(run.id)).toEqual(run);
    expect(await store.getRun('run-nope')).toBeNull();
  });

  it('stops a run once: the second stop says it was stopped already, with the first stop time', async () => {
    const { store } = await make();
    const run = await store.startRun({ name: 'a', labels: {} }, T0);
    expect(await store.stopRun(run.id, T0 + 30.5)).toEqual({ kind: 'stopped', run: { ...run, stopped_at: T0 + 30.5 } });
    expect(await store.stopRun(run.id, T0 + 40)).toEqual({ kind: 'already_stopped', run: { ...run, stopped_at: T0 + 30.5 } });
    expect(await store.getRun(run.id)).toEqual({ ...run, stopped_at: T0 + 30.5 });
    expect(await store.stopRun('run-unknown', T0)).toEqual({ kind: 'not_found' });
  });

  it('lists runs newest first, with distinct ids', async () => {
    const { store } = await make();
    const a = await store.startRun({ name: 'a', labels: {} }, T0);
    const b = await store.startRun({ name: 'b', labels: { k: 'v' } }, T0 + 1);
    const c = await store.startRun({ name: 'c', labels: {} }, T0 + 2);
    await store.stopRun(b.id, T0 + 3);
    expect(new Set([a.id, b.id, c.id]).size).toBe(3);
    expect(await store.listRuns()).toEqual([c, { ...b, stopped_at: T0 + 3 }, a]);
  });

  it('keeps at most maxRuns runs, dropping the oldest', async () => {
    const { store } = await make({ maxRuns: 3, maxAnnotations: 10 });
    const runs = [];
    for (let i = 0; i < 5; i++) runs.push(await store.startRun({ name: `r${i}`, labels: {} }, T0 + i));
    await store.stopRun(runs[4]!.id, T0 + 10);
    expect((await store.listRuns()).map((r) => r.name)).toEqual(['r4', 'r3', 'r2']);
    expect(await store.getRun(runs[0]!.id)).toBeNull();
    expect(await store.stopRun(runs[1]!.id, T0 + 10)).toEqual({ kind: 'not_found' });
  });

  it('keeps annotations by time and lists those in a range, oldest first, bounds included', async () => {
    const { store } = await make();
    const late = await store.addAnnotation({ text: 'scaled to 4 nodes', timestamp: T0 + 20, run_id: 'run-1' });
    const early = await store.addAnnotation({ text: 'deploy', timestamp: T0 });
    const mid = await store.addAnnotation({ text: 'cache flushed', timestamp: T0 + 10.5 });
    expect(late).toEqual({ id: expect.any(String), text: 'scaled to 4 nodes', timestamp: T0 + 20, run_id: 'run-1' });
    expect(early).not.toHaveProperty('run_id');
    expect(await store.listAnnotations(T0, T0 + 20)).toEqual([early, mid, late]);
    expect(await store.listAnnotations(T0 + 0.001, T0 + 19.999)).toEqual([mid]);
    expect(await store.listAnnotations(T0 + 30, T0 + 40)).toEqual([]);
  });

  it('keeps at most maxAnnotations annotations, dropping the oldest by timestamp', async () => {
    const { store } = await make({ maxRuns: 3, maxAnnotations: 3 });
    for (const t of [5, 1, 4, 2, 3]) await store.addAnnotation({ text: `at ${t}`, timestamp: T0 + t });
    expect((await store.listAnnotations(0, T0 + 100)).map((a) => a.text)).toEqual(['at 3', 'at 4', 'at 5']);
  });

  it('shows one store to every reader of the same data (two gateways)', async () => {
    const { store, other } = await make();
    const second = await other();
    const run = await store.startRun({ name: 'shared', labels: { env: 'staging' } }, T0);
    const stopped = await second.stopRun(run.id, T0 + 5);
    expect(stopped.kind).toBe('stopped');
    expect(await store.stopRun(run.id, T0 + 6)).toMatchObject({ kind: 'already_stopped' });
    expect(await store.listRuns()).toEqual(await second.listRuns());
    const note = await second.addAnnotation({ text: 'from the other one', timestamp: T0 + 1 });
    expect(await store.listAnnotations(T0, T0 + 2)).toEqual([note]);
  });

  it('gives concurrent starts distinct ids and stops one run once', async () => {
    const { store, other } = await make();
    const second = await other();
    const runs = await Promise.all(Array.from({ length: 20 }, (_, i) => (i % 2 ? store : second).startRun({ name: `c${i}`, labels: {} }, T0 + i)));
    expect(new Set(runs.map((r) => r.id)).size).toBe(20);
    const stops = await Promise.all([store.stopRun(runs[0]!.id, T0 + 100), second.stopRun(runs[0]!.id, T0 + 101)]);
    expect(stops.map((s) => s.kind).sort()).toEqual(['already_stopped', 'stopped']);
  });

  it('keeps labels and text byte for byte, quotes and non-ASCII included', async () => {
    const { store } = await make();
    const labels = { note: 'say "hi"\\n', lang: '日本語 ✓', empty: '', ...(JSON.parse('{"__proto__": "p"}') as Record<string, string>) };
    const run = await store.startRun({ name: 'ü "quoted" \u0000 run', labels }, T0);
    expect(await store.getRun(run.id)).toEqual({ id: run.id, name: 'ü "quoted" \u0000 run', labels, started_at: T0 });
    expect(Object.keys((await store.getRun(run.id))!.labels)).toEqual(['note', 'lang', 'empty', '__proto__']);
    const note = await store.addAnnotation({ text: '{"not":"json"} ✓', timestamp: T0 });
    expect(await store.listAnnotations(T0, T0)).toEqual([note]);
  });
});

describe('runs keys', () => {
  it('are all under the hash tag of the deployment prefix (partition 0), and bounded', async () => {
    const prefix = uniquePrefix();
    const store = new RedisRunsStore(await redisConnection(), runsKeys(prefix), { maxRuns: 2, maxAnnotations: 2 });
    for (let i = 0; i < 5; i++) {
      const run = await store.startRun({ name: `r${i}`, labels: {} }, T0 + i);
      await store.stopRun(run.id, T0 + i + 0.5);
      await store.addAnnotation({ text: `a${i}`, timestamp: T0 + i });
    }
    const admin = testClient(redis.url);
    try {
      const keys = (await admin.keys(`*${prefix}*`)).sort();
      expect(keys).toEqual(Object.values(runsKeys(prefix)).sort());
      expect(keys.every((k) => k.startsWith(`{${prefix}}:`))).toBe(true);
      const k = runsKeys(prefix);
      expect([await admin.hlen(k.runs), await admin.hlen(k.runsStopped), await admin.zcard(k.runsOrder)]).toEqual([2, 2, 2]);
      expect([await admin.hlen(k.annotations), await admin.zcard(k.annotationsByTime)]).toEqual([2, 2]);
    } finally {
      admin.disconnect();
    }
  });
});

describe('run and annotation bodies', () => {
  const refused = (f: () => unknown): string => {
    try {
      f();
    } catch (err) {
      expect(err).toBeInstanceOf(RunInputError);
      return (err as RunInputError).field;
    }
    throw new Error('accepted');
  };

  it('accepts a name with or without labels', () => {
    expect(parseRunInput({ name: 'x' })).toEqual({ name: 'x', labels: {} });
    expect(parseRunInput({ name: 'x', labels: { a: '1' } })).toEqual({ name: 'x', labels: { a: '1' } });
    const proto = parseRunInput(JSON.parse('{"name": "x", "labels": {"__proto__": "v", "constructor": "c"}}')).labels;
    expect(Object.entries(proto)).toEqual([
      ['__proto__', 'v'],
      ['constructor', 'c'],
    ]);
    expect(JSON.parse(JSON.stringify({ ...proto }))).toEqual(JSON.parse('{"__proto__": "v", "constructor": "c"}'));
  });

  it('names the field at fault', () => {
    expect(refused(() => parseRunInput(null))).toBe('body');
    expect(refused(() => parseRunInput([]))).toBe('body');
    expect(refused(() => parseRunInput({}))).toBe('name');
    expect(refused(() => parseRunInput({ name: '  ' }))).toBe('name');
    expect(refused(() => parseRunInput({ name: 'x'.repeat(RUN_LIMITS.nameLength + 1) }))).toBe('name');
    expect(refused(() => parseRunInput({ name: 'x', labels: [] }))).toBe('labels');
    expect(refused(() => parseRunInput({ name: 'x', labels: { a: 1 } }))).toBe('labels.a');
    expect(refused(() => parseRunInput({ name: 'x', labels: { a: 'v'.repeat(RUN_LIMITS.labelValueLength + 1) } }))).toBe('labels.a');
    expect(refused(() => parseRunInput({ name: 'x', labels: { 'bad key': 'v' } }))).toBe('labels.bad key');
    expect(refused(() => parseRunInput({ name: 'x', labels: Object.fromEntries(Array.from({ length: RUN_LIMITS.labels + 1 }, (_, i) => [`k${i}`, 'v'])) }))).toBe('labels');
    expect(refused(() => parseRunInput({ name: 'x', extra: 1 }))).toBe('extra');
    expect(refused(() => parseAnnotationInput({ timestamp: 1 }, T0))).toBe('text');
    expect(refused(() => parseAnnotationInput({ text: 't'.repeat(RUN_LIMITS.textLength + 1) }, T0))).toBe('text');
    expect(refused(() => parseAnnotationInput({ text: 't', timestamp: '1' }, T0))).toBe('timestamp');
    expect(refused(() => parseAnnotationInput({ text: 't', timestamp: -1 }, T0))).toBe('timestamp');
    expect(refused(() => parseAnnotationInput({ text: 't', run_id: 5 }, T0))).toBe('run_id');
  });

  it('stamps an annotation with now unless it says when', () => {
    expect(parseAnnotationInput({ text: 't' }, T0)).toEqual({ text: 't', timestamp: T0 });
    expect(parseAnnotationInput({ text: 't', timestamp: 12.5, run_id: 'run-3' }, T0)).toEqual({ text: 't', timestamp: 12.5, run_id: 'run-3' });
  });
});
