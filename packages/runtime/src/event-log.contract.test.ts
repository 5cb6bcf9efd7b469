/**
 * One suite, every EventLog backend: what ingest relies on must hold for the
 * in-process log and for the Redis stream alike — on one server, through
 * Sentinel and on a Cluster (docs/REDIS.md).
 */
import { once } from 'node:events';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeBatch, ENTRY_FIELD, PREV_FIELD, pulseKeys, type PulseEvent } from '@pulse/protocol';
import { startTestRedis, testClient, uniquePrefix, type TestRedis } from '@pulse/test-support/redis';
import { stopTopologies, TOPOLOGIES, topologyUrl } from '@pulse/test-support/redis-topologies';
import type { EventLog, LogEntry } from './event-log.js';
import { MemoryEventLog } from './event-log.memory.js';
import { RedisEventLog } from './event-log.redis.js';
import { compareIds } from './event-source.js';
import { silentLogger } from './logger.js';
import { closeRedis, connectRedis, type RedisConnection } from './redis.js';

interface Subject {
  log: EventLog;
  /** Everything in the log, oldest first, read back by the test's own means. */
  entries(): Promise<LogEntry[]>;
}

let redis: TestRedis;
let reader: ReturnType<typeof testClient>;
beforeAll(async () => {
  redis = await startTestRedis();
  reader = testClient(redis.url);
});
const topologyReaders: RedisConnection[] = [];
afterAll(async () => {
  reader?.disconnect();
  await Promise.all(topologyReaders.map((c) => closeRedis(c)));
  await Promise.all([redis?.stop(), stopTopologies()]);
});

/** The Redis backend on the server `url()` names, read back through `read()` (a plain client, or a topology-aware one). */
function redisBackend(name: string, url: () => Promise<string>, read: () => Promise<Pick<RedisConnection, 'xrange'>>) {
  return {
    name,
    async make(retentionMs: number): Promise<Subject> {
      const keys = pulseKeys(uniquePrefix());
      const connection = connectRedis(await url(), 'producer', 'contract-test', silentLogger());
      // A fail-fast connection refuses commands until it is ready.
      await once(connection, 'ready');
      const log = new RedisEventLog(connection, { keys, retentionMs });
      const reader = await read();
      const entries = async (): Promise<LogEntry[]> => {
        const raw = await reader.xrange(keys.events, '-', '+');
        return raw.map(([id, fields]) => ({ id, events: decodeBatch(fields[fields.indexOf(ENTRY_FIELD) + 1]).events, prev: fields[fields.indexOf(PREV_FIELD) + 1] }));
      };
      return { log, entries };
    },
  };
}

const backends: { name: string; make(retentionMs: number): Promise<Subject> }[] = [
  {
    name: 'MemoryEventLog',
    async make(retentionMs) {
      const log = new MemoryEventLog(retentionMs);
      return { log, entries: async () => log.readAfter('0-0', Number.MAX_SAFE_INTEGER) };
    },
  },
  redisBackend('RedisEventLog', async () => redis.url, async () => reader),
  ...TOPOLOGIES.map((t) =>
    redisBackend(`RedisEventLog on ${t}`, () => topologyUrl(t), async () => {
      const c = connectRedis(await topologyUrl(t), 'consumer', 'contract-reader', silentLogger());
      topologyReaders.push(c);
      return c;
    }),
  ),
];

const HOUR_MS = 3_600_000;

function gauge(i: number): PulseEvent {
  return { type: 'node.gauge', ts: 1_700_000_000 + i, node: `node-${i % 3}`, queue_depth: i };
}

describe.each(backends)('EventLog contract: $name', ({ make }) => {
  const opened: EventLog[] = [];
  const open = async (retentionMs = HOUR_MS) => {
    const subject = await make(retentionMs);
    opened.push(subject.log);
    return subject;
  };
  afterAll(async () => {
    await Promise.all(opened.map((log) => log.close()));
  });

  it('appends each batch as one entry, ids ascending, events intact', async () => {
    const { log, entries } = await open();
    const batches = Array.from({ length: 20 }, (_, i) => [gauge(2 * i), gauge(2 * i + 1)]);
    const ids: string[] = [];
    for (const batch of batches) {
      const result = await log.append(batch);
      expect(result.replay).toBeNull();
      expect(result.id).toMatch(/^\d+-\d+$/);
      ids.push(result.id!);
    }
    for (let i = 1; i < ids.length; i++) expect(compareIds(ids[i]!, ids[i - 1]!)).toBeGreaterThan(0);

    const stored = await entries();
    expect(stored.map((e) => e.id)).toEqual(ids);
    expect(stored.map((e) => e.events)).toEqual(batches);
  });

  // What lets a reader see the log rolled back under it (a failover to a replica that missed the last writes).
  it('names in each entry the entry that was last before it', async () => {
    const { log, entries } = await open();
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) ids.push((await log.append([gauge(i)])).id!);
    const stored = await entries();
    expect(stored.map((e) => e.prev)).toEqual(['0-0', ...ids.slice(0, -1)]);
  });

  it('answers a replayed idempotency key with the first reply and appends nothing', async () => {
    const { log, entries } = await open();
    const first = { status: 202, body: '{"accepted":1,"rejected":[]}' };
    const appended = await log.append([gauge(1)], { key: 'retry-me', reply: first, ttlSeconds: 600 });
    expect(appended.replay).toBeNull();
    expect(appended.id).not.toBeNull();

    const second = { status: 202, body: '{"accepted":2,"rejected":[]}' };
    const replayed = await log.append([gauge(2), gauge(3)], { key: 'retry-me', reply: second, ttlSeconds: 600 });
    expect(replayed).toEqual({ id: null, replay: first });

    const stored = await entries();
    expect(stored).toHaveLength(1);
    expect(stored[0]!.events).toEqual([gauge(1)]);

    // Another key is another request.
    const other = await log.append([gauge(4)], { key: 'another', reply: second, ttlSeconds: 600 });
    expect(other.replay).toBeNull();
    expect(await entries()).toHaveLength(2);
  });

  it('stores the reply of an empty batch with a key, appending no entry', async () => {
    const { log, entries } = await open();
    const reply = { status: 202, body: '{"accepted":0,"rejected":[]}' };
    expect(await log.append([], { key: 'empty', reply, ttlSeconds: 600 })).toEqual({ id: null, replay: null });
    expect(await entries()).toHaveLength(0);

    const replayed = await log.append([gauge(1)], { key: 'empty', reply: { status: 202, body: 'x' }, ttlSeconds: 600 });
    expect(replayed).toEqual({ id: null, replay: reply });
    expect(await entries()).toHaveLength(0);
  });

  it('does nothing for an empty batch without a key', async () => {
    const { log, entries } = await open();
    expect(await log.append([])).toEqual({ id: null, replay: null });
    expect(await entries()).toHaveLength(0);
  });

  it('trims entries older than the retention and keeps the recent ones', async () => {
    const retentionMs = 200;
    const { log, entries } = await open(retentionMs);
    // Enough old entries to fill several stream nodes: Redis trims whole nodes only (MINID ~).
    const oldCount = 300;
    for (let i = 0; i < oldCount; i++) await log.append([gauge(i)]);
    await new Promise((resolve) => setTimeout(resolve, retentionMs + 100));

    const recentIds: string[] = [];
    for (let i = 0; i < 20; i++) recentIds.push((await log.append([gauge(1000 + i)])).id!);

    const stored = await entries();
    const storedIds = new Set(stored.map((e) => e.id));
    for (const id of recentIds) expect(storedIds.has(id)).toBe(true);
    expect(stored.length - recentIds.length).toBeLessThan(oldCount / 2);
  });

  it('answers ping while the store is up', async () => {
    expect(await (await open()).log.ping()).toBe(true);
  });
});
