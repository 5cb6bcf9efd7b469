/**
 * One suite, both history stores: what the recorder and the readers rely on
 * must hold in one process and on Redis alike.
 */
import { once } from 'node:events';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { partitionKeys } from '@pulse/protocol';
import { connectRedis, MemoryLeaseStore, MemoryLeaderLease, RedisLeaderLease, silentLogger, type LeaderLease, type RedisConnection } from '@pulse/runtime';
import { startTestRedis, testClient, uniquePrefix, type TestRedis } from '@pulse/test-support/redis';
import { MemoryHistoryStore } from './store.memory.js';
import { RedisHistoryStore } from './store.redis.js';
import type { HistoryStore } from './store.js';
import { parseTiers, type Tier } from './tiers.js';

let redis: TestRedis;
const connections: RedisConnection[] = [];
beforeAll(async () => {
  redis = await startTestRedis();
});
afterAll(async () => {
  for (const c of connections) c.disconnect();
  await redis?.stop();
});

interface Backend {
  store: HistoryStore;
  /** A new contender for a partition's lease, as another aggregator replica. */
  lease(partition: number): LeaderLease;
  /** Takes a partition's lease from whoever holds it (its TTL ran out). */
  expire(partition: number): Promise<void>;
}

const backends: { name: string; make(partitions: number): Promise<Backend> }[] = [
  {
    name: 'MemoryHistoryStore',
    async make(partitions) {
      // Each partition's lease on a clock of its own, moved past the TTL to let a lease lapse.
      const skews = new Array<number>(partitions).fill(0);
      const leases = Array.from({ length: partitions }, (_, p) => new MemoryLeaseStore(() => Date.now() + skews[p]!));
      return {
        store: new MemoryHistoryStore(partitions, (p, fence) => leases[p]!.holds(fence)),
        lease: (p) => new MemoryLeaderLease(leases[p]!, 60_000),
        expire: async (p) => void (skews[p]! += 120_000),
      };
    },
  },
  {
    name: 'RedisHistoryStore',
    async make(partitions) {
      const keys = partitionKeys(uniquePrefix('hist'), partitions);
      const conn = connectRedis(redis.url, 'producer', 'history-contract', silentLogger());
      connections.push(conn);
      await once(conn, 'ready');
      const admin = testClient(redis.url);
      connections.push(admin);
      return {
        store: new RedisHistoryStore(conn, keys),
        lease: (p) => new RedisLeaderLease(conn, keys[p]!, 60_000),
        expire: async (p) => void (await admin.del(keys[p]!.leaderLease)),
      };
    },
  },
];

const [tick, fiveS] = parseTiers('0.5s:10m,5s:6h', 500) as [Tier, Tier];
/** The tick bucket that ended a few seconds ago (still well within retention). */
const recent = () => Math.floor(Date.now() / 500) - 10;
/** Bytes that do not survive a UTF-8 round trip. */
const blob = (n: number) => Buffer.from([0x00, 0xff, 0xfe, 0xc3, 0x28, n & 0xff, (n >> 8) & 0xff]);

describe.each(backends)('$name', ({ make }) => {
  it('reads back what was written, per bucket, every partition in order, binary-safe', async () => {
    const b = await make(2);
    const n = recent();
    expect(await b.store.write(0, [{ tier: tick, bucket: n, blob: blob(1) }, { tier: tick, bucket: n + 1, blob: blob(2) }])).toBe(true);
    expect(await b.store.write(1, [{ tier: tick, bucket: n, blob: blob(3) }])).toBe(true);
    const got = await b.store.read(tick, [n - 1, n, n + 1]);
    expect(got).toEqual([[], [blob(1), blob(3)], [blob(2)]]);
    expect(await b.store.read(tick, [n, n + 1], 1)).toEqual([[blob(3)], []]);
    // Tiers are apart: the same number in another tier is another record.
    expect(await b.store.read(fiveS, [n])).toEqual([[]]);
    expect(await b.store.read(tick, [])).toEqual([]);
  });

  it('a write overwrites the record of the same bucket', async () => {
    const b = await make(1);
    const n = recent();
    await b.store.write(0, [{ tier: tick, bucket: n, blob: blob(1) }]);
    await b.store.write(0, [{ tier: tick, bucket: n, blob: blob(9) }]);
    expect(await b.store.read(tick, [n])).toEqual([[blob(9)]]);
  });

  it('refuses a former leader: fenced off, nothing written, while the new leader writes', async () => {
    const b = await make(2);
    const n = recent();
    const old = b.lease(1);
    const oldFence = (await old.acquireOrRenew())!;
    expect(oldFence).not.toBeNull();
    expect(await b.store.write(1, [{ tier: tick, bucket: n, blob: blob(1) }], oldFence)).toBe(true);
    await b.expire(1);
    const next = b.lease(1);
    const nextFence = (await next.acquireOrRenew())!;
    expect(nextFence.epoch).toBeGreaterThan(oldFence.epoch);
    // The former leader wakes from a pause and writes: refused, whole.
    expect(await b.store.write(1, [{ tier: tick, bucket: n, blob: blob(2) }, { tier: tick, bucket: n + 1, blob: blob(3) }], oldFence)).toBe(false);
    expect(await b.store.read(tick, [n, n + 1])).toEqual([[blob(1)], []]);
    expect(await b.store.write(1, [{ tier: tick, bucket: n + 1, blob: blob(4) }], nextFence)).toBe(true);
    expect(await b.store.read(tick, [n + 1])).toEqual([[blob(4)]]);
    // A fence holds for its own partition only.
    expect(await b.store.write(0, [{ tier: tick, bucket: n, blob: blob(5) }], nextFence)).toBe(false);
  });

  it('keeps a record until its bucket end plus its tier retention, then it is gone', async () => {
    const b = await make(1);
    const [short] = parseTiers('0.5s:1500ms', 500) as [Tier];
    const n = Math.floor(Date.now() / 500);
    // Ended long before its retention: never stored.
    expect(await b.store.write(0, [{ tier: short, bucket: n - 10, blob: blob(1) }, { tier: short, bucket: n, blob: blob(2) }])).toBe(true);
    expect(await b.store.read(short, [n - 10, n])).toEqual([[], [blob(2)]]);
    await new Promise((r) => setTimeout(r, (n + 1) * 500 + 1500 - Date.now() + 100));
    expect(await b.store.read(short, [n])).toEqual([[]]);
  });
});
