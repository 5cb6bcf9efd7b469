/**
 * One suite, every EventSource backend: what the aggregator relies on —
 * claim hands out each entry once, commit adds totals only under the lease,
 * history gives back what was finished — must hold in one process and on a
 * Redis stream alike.
 */
import { once } from 'node:events';
import { pulseKeys, type PulseEvent } from '@pulse/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestRedis, uniquePrefix, type TestRedis } from '@pulse/test-support/redis';
import { stopTopologies, TOPOLOGIES, topologyUrl } from '@pulse/test-support/redis-topologies';
import type { EventLog } from './event-log.js';
import { MemoryEventLog } from './event-log.memory.js';
import { RedisEventLog } from './event-log.redis.js';
import type { EventSource, Fence } from './event-source.js';
import { MemoryConsumerGroup, MemoryEventSource } from './event-source.memory.js';
import { RedisEventSource } from './event-source.redis.js';
import type { LeaderLease } from './leader-lease.js';
import { MemoryLeaderLease, MemoryLeaseStore } from './leader-lease.memory.js';
import { RedisLeaderLease } from './leader-lease.redis.js';
import { silentLogger } from './logger.js';
import { connectRedis, type RedisConnection } from './redis.js';

interface Subject {
  log: EventLog;
  source: EventSource;
  lease: LeaderLease;
  /** A second replica's lease on the same store. */
  rival: LeaderLease;
  /** A second replica's consumer on the same store. */
  peer(): Promise<EventSource>;
}

let redis: TestRedis;
const connections: RedisConnection[] = [];
beforeAll(async () => {
  redis = await startTestRedis();
});
afterAll(async () => {
  for (const c of connections) c.disconnect();
  await Promise.all([redis?.stop(), stopTopologies()]);
});

async function conn(role: 'producer' | 'consumer', url = redis.url): Promise<RedisConnection> {
  const c = connectRedis(url, role, 'source-contract', silentLogger());
  connections.push(c);
  if (c.status !== 'ready') await once(c, 'ready');
  return c;
}

const backends: { name: string; make(): Promise<Subject> }[] = [
  {
    name: 'memory',
    async make() {
      const log = new MemoryEventLog(3_600_000);
      const leases = new MemoryLeaseStore();
      const group = new MemoryConsumerGroup(Date.now() - 1000, leases);
      return {
        log,
        source: new MemoryEventSource(log, { group, consumer: 'c1', reclaimIdleMs: 60_000 }),
        lease: new MemoryLeaderLease(leases, 5000),
        rival: new MemoryLeaderLease(leases, 5000),
        peer: async () => new MemoryEventSource(log, { group, consumer: 'c2', reclaimIdleMs: 60_000 }),
      };
    },
  },
  redisBackend('redis', async () => redis.url),
  // Sentinel and Cluster (docs/REDIS.md): the scripts, XREADGROUP/XAUTOCLAIM and the lease routed through each client.
  ...TOPOLOGIES.map((t) => redisBackend(`redis on ${t}`, () => topologyUrl(t))),
];

function redisBackend(name: string, url: () => Promise<string>): { name: string; make(): Promise<Subject> } {
  return {
    name,
    async make() {
      const at = await url();
      const keys = pulseKeys(uniquePrefix('src'));
      const commands = await conn('producer', at);
      return {
        log: new RedisEventLog(await conn('producer', at), { keys, retentionMs: 3_600_000 }),
        source: new RedisEventSource(await conn('consumer', at), commands, { keys, consumer: 'c1', reclaimIdleMs: 60_000 }),
        lease: new RedisLeaderLease(commands, keys, 5000),
        rival: new RedisLeaderLease(await conn('producer', at), keys, 5000),
        peer: async () => new RedisEventSource(await conn('consumer', at), await conn('producer', at), { keys, consumer: 'c2', reclaimIdleMs: 60_000 }),
      };
    },
  };
}

/** The queue depth of each entry's first event: which gauges came back. */
const depth = (entries: { events: readonly PulseEvent[] }[]) => entries.map((e) => (e.events[0] as { queue_depth: number }).queue_depth);
const gauge = (i: number): PulseEvent => ({ type: 'node.gauge', ts: Date.now() / 1000, node: `n${i}`, queue_depth: i });

describe.each(backends)('EventSource contract: $name', ({ make }) => {
  it('claims every appended entry once, in order', async () => {
    const { log, source } = await make();
    for (let i = 0; i < 5; i++) await log.append([gauge(i)]);
    const first = await source.claim(3, 100);
    const rest = await source.claim(10, 100);
    expect([...first, ...rest].map((e) => (e.events[0] as { queue_depth: number }).queue_depth)).toEqual([0, 1, 2, 3, 4]);
    expect(await source.claim(10, 50)).toEqual([]);
  });

  it('commits totals under the lease and reloads them', async () => {
    const { log, source, lease } = await make();
    await log.append([gauge(1)]);
    const entries = await source.claim(10, 100);
    const fence = (await lease.acquireOrRenew())!;
    expect(await source.commit(entries.map((e) => e.id), new Map([['f', 3]]), fence)).toBe(true);
    expect(await source.commit([], new Map([['f', 2]]), fence)).toBe(true);
    expect(await source.loadTotals()).toEqual({ f: '5' });
  });

  it('commits a batch past what one call may carry in one go: every entry acknowledged, every total added', async () => {
    // A read of 20,000 events over a fleet's 6,400 cells: ids past one XACK's slice, 160,000 arguments for the fields alone.
    const { log, source, lease, peer } = await make();
    for (let i = 0; i < 9; i++) await Promise.all(Array.from({ length: 500 }, (_, j) => log.append([gauge(i * 500 + j)])));
    const entries: string[] = [];
    for (let got = await source.claim(5000, 100); got.length > 0; got = await source.claim(5000, 0)) entries.push(...got.map((e) => e.id));
    expect(entries).toHaveLength(4500);
    const totals = new Map(Array.from({ length: 80_000 }, (_, i) => [`f${i}`, i % 7 === 0 ? 2 : 1]));
    const fence = (await lease.acquireOrRenew())!;
    expect(await source.commit(entries, totals, fence)).toBe(true);
    const loaded = await source.loadTotals();
    expect(Object.keys(loaded)).toHaveLength(80_000);
    expect([loaded.f0, loaded.f1, loaded.f79999]).toEqual(['2', '1', '1']);
    const next = await peer();
    next.takeOver(); // would claim whatever is still pending
    expect(await next.claim(10, 50)).toEqual([]);
  });

  it('tails every entry after an id, whatever the group did with it, and waits for new ones', async () => {
    const { log, source } = await make();
    const before = `${Date.now() - 60_000}-0`;
    await log.append([gauge(1)]);
    await source.claim(10, 100); // claimed by the group: the tail still sees it
    await log.append([gauge(2)]);
    const all = await source.tail(before, 10, 0);
    expect(depth(all)).toEqual([1, 2]);
    expect(depth(await source.tail(all[0]!.id, 10, 0))).toEqual([2]);
    expect(await source.tail(all[1]!.id, 10, 0)).toEqual([]);
    const waiting = source.tail(all[1]!.id, 10, 2000);
    await new Promise((r) => setTimeout(r, 50));
    await log.append([gauge(3)]);
    expect(depth(await waiting)).toEqual([3]);
  });

  it('a consumer that takes over claims what another left unacknowledged, once, and new entries after it', async () => {
    const { log, source, peer } = await make();
    for (let i = 1; i <= 3; i++) await log.append([gauge(i)]);
    expect(depth(await source.claim(10, 100))).toEqual([1, 2, 3]); // read, never committed: the consumer dies
    await log.append([gauge(4)]);
    const next = await peer();
    next.takeOver();
    expect(depth(await next.claim(10, 100))).toEqual([1, 2, 3]);
    expect(depth(await next.claim(10, 100))).toEqual([4]);
    expect(await next.claim(10, 50)).toEqual([]);
  });

  it('the creation time is fixed once', async () => {
    const { source } = await make();
    const t = await source.createdAt();
    expect(t).toBeLessThanOrEqual(Date.now());
    expect(await source.createdAt()).toBe(t);
  });

  it('only one replica holds the lease; a fenced-off commit changes nothing', async () => {
    const { log, source, lease, rival } = await make();
    const mine = (await lease.acquireOrRenew())!;
    expect(await rival.acquireOrRenew()).toBeNull();
    await lease.release();
    const theirs = (await rival.acquireOrRenew())!;
    expect(theirs.epoch).toBeGreaterThan(mine.epoch);
    await log.append([gauge(1)]);
    const entries = await source.claim(10, 100);
    const stale: Fence = mine;
    expect(await source.commit(entries.map((e) => e.id), new Map([['f', 1]]), stale)).toBe(false);
    expect(await source.loadTotals()).toEqual({});
  });
});

describe('RedisEventSource when Redis restarts empty', () => {
  it('the next claim re-creates the group and the store’s creation time, and counts what ingest wrote since', async () => {
    const keys = pulseKeys(uniquePrefix('src'));
    const commands = await conn('producer');
    const log = new RedisEventLog(await conn('producer'), { keys, retentionMs: 3_600_000 });
    const source = new RedisEventSource(await conn('consumer'), commands, { keys, consumer: 'c1', reclaimIdleMs: 60_000 });
    expect(await source.claim(10, 0)).toEqual([]); // no group yet: created
    await log.append([gauge(1)]);
    expect(depth(await source.claim(10, 0))).toEqual([1]);

    await commands.del(keys.events, keys.meta); // the stream (and its group) and the meta, gone
    await log.append([gauge(2)]); // ingest writes again: the stream comes back, the group does not
    expect(await source.claim(10, 0)).toEqual([]);
    expect(Number(await commands.hget(keys.meta, 'created_at'))).toBeGreaterThan(0);
    expect(depth(await source.claim(10, 0))).toEqual([2]);
  });
});

describe('RedisLeaderLease when Redis restarts empty', () => {
  it('epochs keep rising when the epoch counter is lost', async () => {
    const keys = pulseKeys(uniquePrefix('src'));
    const commands = await conn('producer');
    const lease = new RedisLeaderLease(commands, keys, 5000);
    const rival = new RedisLeaderLease(await conn('producer'), keys, 5000);
    const first = (await lease.acquireOrRenew())!;
    await lease.release();
    await commands.del(keys.leaderEpoch);
    // A restart takes far longer than the millisecond the restarted counter is read from.
    await new Promise((resolve) => setTimeout(resolve, 5));
    expect((await rival.acquireOrRenew())!.epoch).toBeGreaterThan(first.epoch);
  });
});
