/**
 * The aggregator against a real Redis: events appended by the ingest's event
 * log come out in published snapshots with exact figures; a standby takes over
 * when the leader dies, continuing the window and the totals.
 */
import { once } from 'node:events';
import { decodePatch, decodeSnapshot, messageKind, pulseKeys, type InternalSnapshot, type PulseEvent, type PulseKeys } from '@pulse/protocol';
import { buildView, SnapshotReplica } from '@pulse/metrics';
import {
  connectRedis,
  RedisEventLog,
  RedisEventSource,
  RedisLeaderLease,
  RedisSnapshotFeed,
  RedisSnapshotPublisher,
  silentLogger,
  type RedisConnection,
} from '@pulse/runtime';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startTestRedis, uniquePrefix, type TestRedis } from '@pulse/test-support/redis';
import { createAggregator, type Aggregator } from './aggregator.js';

const TICK = 100;
let redis: TestRedis;
const connections: RedisConnection[] = [];
const running: Aggregator[] = [];

beforeAll(async () => {
  redis = await startTestRedis();
});
afterEach(async () => {
  await Promise.all(running.splice(0).map((a) => a.close()));
});
afterAll(async () => {
  for (const c of connections) c.disconnect();
  await redis.stop();
});

async function connection(role: 'producer' | 'consumer'): Promise<RedisConnection> {
  const c = connectRedis(redis.url, role, 'agg-test', silentLogger());
  connections.push(c);
  if (c.status !== 'ready') await once(c, 'ready');
  return c;
}

async function replica(keys: PulseKeys, name: string, leaseMs = 600, keyframeEveryMs?: number): Promise<Aggregator> {
  const commands = await connection('producer');
  const source = new RedisEventSource(await connection('consumer'), commands, { keys, consumer: name, reclaimIdleMs: 1000 });
  const agg = createAggregator({
    settings: { windowMs: 60_000, tickMs: TICK, maxEndpoints: 100, maxModels: 100, maxNodes: 256, maxCells: 1000, slos: [], batchEntries: 100 },
    source,
    lease: new RedisLeaderLease(commands, keys, leaseMs),
    publisher: new RedisSnapshotPublisher(commands, keys),
    logger: silentLogger(),
    keyframeEveryMs,
  });
  running.push(agg);
  agg.start();
  return agg;
}

async function eventLog(keys: PulseKeys): Promise<RedisEventLog> {
  return new RedisEventLog(await connection('producer'), { keys, retentionMs: 130_000 });
}

function request(i: number, opts: { stream?: boolean; latency?: number } = {}): PulseEvent[] {
  const ts = Date.now() / 1000;
  const common = { ts, node: 'n1', request_id: `r${i}`, endpoint: '/v1/chat/completions', model: i % 2 ? 'gpt-4' : 'llama', stream: opts.stream ?? false };
  return [
    { type: 'request.start', ...common },
    { type: 'request.end', ...common, status: 200, latency_ms: opts.latency ?? 100 + i, completion_tokens: 10, cache: { hit: i % 2 === 0, cached_tokens: 5, prefix_length: 8 } },
  ];
}

/** Waits for a published snapshot that satisfies `ok`. */
async function until(agg: Aggregator, ok: (s: InternalSnapshot) => boolean, ms = 5000): Promise<InternalSnapshot> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    const s = await Promise.race([agg.nextSnapshot(), new Promise<null>((r) => setTimeout(() => r(null), 1000))]);
    if (s && ok(s)) return s;
  }
  throw new Error('no matching snapshot in time');
}

const responses = (s: InternalSnapshot) => s.cells.reduce((n, c) => n + c.responses, 0);

describe('aggregator', () => {
  it('publishes snapshots with the figures of the events in the stream, and stores the latest', async () => {
    const keys = pulseKeys(uniquePrefix('agg'));
    const agg = await replica(keys, 'a1');
    const log = await eventLog(keys);
    for (let i = 0; i < 10; i++) await log.append(request(i, { stream: true }));
    const snap = await until(agg, (s) => responses(s) === 10);
    const view = buildView(snap).data;
    expect(view.throughput.responses_per_sec['/v1/chat/completions']).toBeGreaterThan(0);
    expect(view.streaming.completed_streams).toBe(10);
    expect(view.cache.total_lookups).toBe(10);
    expect(view.cache.cache_hits).toBe(5);
    expect(view.latency['/v1/chat/completions']!.min).toBe(100);
    expect(view.latency['/v1/chat/completions']!.max).toBe(109);
    expect(snap.seq).toBe(Math.floor((snap.builtAt * 1000) / TICK));

    const feed = new RedisSnapshotFeed({ url: redis.url, keys, name: 'agg-test-feed', logger: silentLogger() });
    const latest = SnapshotReplica.fromMessages(await feed.latest()).snapshot!;
    await feed.close();
    expect(latest.epoch).toBe(snap.epoch);
  });

  it('broadcasts one keyframe, then only patches, and stores a keyframe every keyframeEveryMs that the broadcasts agree with', async () => {
    const keys = pulseKeys(uniquePrefix('agg'));
    const feed = new RedisSnapshotFeed({ url: redis.url, keys, name: 'agg-test-keyframes', logger: silentLogger() });
    const kinds: (string | null)[] = [];
    const followed = new SnapshotReplica();
    await feed.start((m) => {
      kinds.push(messageKind(m));
      expect(messageKind(m) === 'patch' ? followed.apply(decodePatch(m)) : (followed.load(decodeSnapshot(m)), 'applied')).toBe('applied');
    });
    try {
      const agg = await replica(keys, 'a1', 600, 5 * TICK);
      const log = await eventLog(keys);
      for (let i = 0; i < 30; i++) {
        await log.append(request(i));
        await new Promise((r) => setTimeout(r, 50));
      }
      const last = await until(agg, (s) => responses(s) === 30);
      // Enough broadcasts to span several stored keyframes, however many ticks a loaded machine skipped meanwhile.
      await expect.poll(() => kinds.length, { timeout: 10_000 }).toBeGreaterThan(15);
      running.splice(running.indexOf(agg), 1);
      await agg.close();
      await expect.poll(() => followed.snapshot?.seq).toBeGreaterThanOrEqual(last.seq);

      expect(kinds[0]).toBe('snapshot');
      expect(kinds.slice(1).every((k) => k === 'patch')).toBe(true);
      expect(kinds.length).toBeGreaterThan(15);
      // What a feed starting now reads: a keyframe stored within the last 5 ticks, and the patches after it.
      const stored = await feed.latest();
      const keyframe = decodeSnapshot(stored[0]!);
      expect(stored.length).toBeLessThanOrEqual(5);
      expect(keyframe.seq).toBeGreaterThan(followed.snapshot!.seq - 5);
      const caughtUp = SnapshotReplica.fromMessages(stored).snapshot!;
      expect(caughtUp.seq).toBe(followed.snapshot!.seq);
      expect(buildView(caughtUp).data).toEqual(buildView(followed.snapshot).data);
    } finally {
      await feed.close();
    }
  });

  it('exactly one replica leads; when the leader stops a standby continues window and totals', async () => {
    const keys = pulseKeys(uniquePrefix('agg'));
    const a = await replica(keys, 'a');
    await until(a, () => true);
    const b = await replica(keys, 'b');
    const log = await eventLog(keys);
    for (let i = 0; i < 20; i++) await log.append(request(i, { stream: true }));
    const before = await until(a, (s) => responses(s) === 20);
    expect(b.status().role).toBe('standby');

    // A clean stop hands the lease over; SIGKILL (lease left to expire) is in test/faults.
    running.splice(running.indexOf(a), 1);
    await a.close();
    const killedAt = Date.now();
    const after = await until(b, (s) => s.epoch > before.epoch, 5000);
    expect(Date.now() - killedAt).toBeLessThan(3000);
    expect(responses(after)).toBe(20); // the window was rebuilt from the stream
    expect(buildView(after).data.streaming.completed_streams).toBe(20); // totals continued, not recounted

    for (let i = 20; i < 25; i++) await log.append(request(i, { stream: true }));
    const later = await until(b, (s) => responses(s) === 25);
    expect(buildView(later).data.streaming.completed_streams).toBe(25);
  });

  it('a standby that takes over counts what a dead leader left behind exactly once', async () => {
    const keys = pulseKeys(uniquePrefix('agg'));
    const admin = await connection('producer');
    // A "leader" that died mid-batch: it holds the lease and read entries it never acknowledged.
    await admin.set(keys.leaderLease, 'ghost|1', 'PX', 1500);
    await admin.call('XGROUP', 'CREATE', keys.events, keys.group, '0', 'MKSTREAM');
    const log = await eventLog(keys);
    for (let i = 0; i < 10; i++) await log.append(request(i, { stream: true }));
    await admin.call('XREADGROUP', 'GROUP', keys.group, 'ghost', 'COUNT', 100, 'STREAMS', keys.events, '>');
    for (let i = 10; i < 15; i++) await log.append(request(i, { stream: true })); // never delivered

    const b = await replica(keys, 'b');
    expect(b.status().role).toBe('standby');
    const first = await until(b, () => true, 5000); // after the ghost's lease expired
    expect(responses(first)).toBe(15); // each entry in the window once, though claimed after it was tailed
    // Totals may trail the window by a tick when the takeover's claims outlast one (a loaded machine).
    const settled = await until(b, (s) => buildView(s).data.streaming.completed_streams >= 15);
    expect(buildView(settled).data.streaming.completed_streams).toBe(15); // counted once, never twice
    expect(((await admin.xpending(keys.events, keys.group)) as unknown[])[0]).toBe(0); // nothing left pending
    expect(buildView(await until(b, () => true)).data.streaming.completed_streams).toBe(15);

    for (let i = 15; i < 18; i++) await log.append(request(i, { stream: true }));
    const later = await until(b, (s) => responses(s) === 18);
    expect(buildView(later).data.streaming.completed_streams).toBe(18);
  });

  // A failover to a replica that missed the old primary's last writes, played on one Redis: XDEL takes those
  // entries out of the stream, as the promoted replica never had them, and their producers retry (takeover.ts).
  describe('when the log loses entries the window was read from', () => {
    async function standbyThatRead(keys: PulseKeys, leaseMs: number): Promise<{ b: Aggregator; log: RedisEventLog }> {
      const admin = await connection('producer');
      await admin.set(keys.leaderLease, 'ghost|1', 'PX', leaseMs); // a leader that died with the old primary
      const log = await eventLog(keys);
      const b = await replica(keys, 'b');
      const ids: string[] = [];
      for (let i = 0; i < 10; i++) ids.push((await log.append(request(i, { stream: true }))).id!);
      await expect.poll(() => b.status().appliedId, { timeout: 5000 }).toBe(ids[9]);
      expect(b.status()).toMatchObject({ role: 'standby', eventsApplied: 20 });
      await admin.xdel(keys.events, ...ids.slice(7));
      return { b, log };
    }

    it('a standby handed an entry that does not follow the last it read rebuilds its window: lost writes retried count once', async () => {
      const keys = pulseKeys(uniquePrefix('agg'));
      const { b, log } = await standbyThatRead(keys, 60_000);
      const retried: string[] = [];
      for (let i = 7; i < 10; i++) retried.push((await log.append(request(i, { stream: true }))).id!);
      await expect.poll(() => [b.status().appliedId, b.status().state], { timeout: 5000 }).toEqual([retried[2], 'standby']);
      expect(b.status().eventsApplied).toBe(20); // 7 kept + 3 retried, not 10 + 3
    });

    it('a standby taking over checks its last entry is still in the log, so it never leads on entries the log lost', async () => {
      const keys = pulseKeys(uniquePrefix('agg'));
      const { b, log } = await standbyThatRead(keys, 3000);
      const first = await until(b, () => true, 8000); // once the ghost's lease expired
      expect(responses(first)).toBe(7);
      for (let i = 7; i < 10; i++) await log.append(request(i, { stream: true }));
      // Totals may trail the window by a tick (as above).
      const later = await until(b, (s) => responses(s) >= 10 && buildView(s).data.streaming.completed_streams >= 10);
      expect(responses(later)).toBe(10);
      expect(buildView(later).data.streaming.completed_streams).toBe(10);
    });
  });
});

