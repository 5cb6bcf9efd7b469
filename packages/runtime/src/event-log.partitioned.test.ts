/**
 * The event log of a partitioned deployment (PULSE_PARTITIONS > 1): events
 * routed by node, a batch spanning partitions split into one atomic,
 * idempotent append each, acknowledged only when every partition took its
 * part — and a retry after a partial failure completing the rest without
 * counting anything twice. On Redis: each partition's stream and stored
 * reply in its own hash tag; the partition count recorded once and a
 * different one refused.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ENTRY_FIELD, ErrorCode, partitionKeys, partitionOf, PulseError, pulseKeys, type PulseEvent } from '@pulse/protocol';
import { capturingLogger } from '@pulse/test-support/logs';
import { freePort } from '@pulse/test-support/redis-server';
import { startTestRedis, testClient, uniquePrefix, type TestRedis } from '@pulse/test-support/redis';
import type { AppendResult, EventLog, StoredReply } from './event-log.js';
import { MemoryEventLog } from './event-log.memory.js';
import { PartitionedEventLog, splitByPartition } from './event-log.partitioned.js';
import { openRedisEventLog } from './event-log.redis.js';
import { RedisEventSource } from './event-source.redis.js';
import { silentLogger } from './logger.js';
import { checkPartitionCount, checkPartitionCountOrExit, PartitionCountError } from './partitions.js';
import { closeRedis, connectRedis, type RedisConnection } from './redis.js';

const NODES = ['fakeai-0', 'fakeai-1', 'fakeai-2', 'fakeai-3', 'fakeai-4', 'fakeai-5'];
const start = (node: string, i: number): PulseEvent => ({ type: 'request.start', ts: 1_700_000_000, node, request_id: `r${i}`, endpoint: '/v1/chat/completions', model: 'm', stream: false });
const batch = (nodes = NODES) => nodes.map(start);
const reply: StoredReply = { status: 202, body: '{"accepted":6,"rejected":[]}' };
const idem = (key: string) => ({ key, reply, ttlSeconds: 60 });

/** A memory log that refuses its next `n` appends as a store outage. */
class Flaky extends MemoryEventLog {
  failures = 0;
  override async append(...args: Parameters<MemoryEventLog['append']>): Promise<AppendResult> {
    if (this.failures > 0) {
      this.failures--;
      throw new PulseError(ErrorCode.STORE_UNAVAILABLE, 'down');
    }
    return super.append(...args);
  }
}

const eventsIn = (log: MemoryEventLog) => log.readAfter('0-0', 1000).flatMap((e) => e.events);

describe('PartitionedEventLog', () => {
  it('routes each event to the partition of its node, keeping the batch order within each', async () => {
    const logs = [0, 1, 2].map(() => new MemoryEventLog(60_000));
    const log = new PartitionedEventLog(logs);
    const events = batch([...NODES, ...NODES]);
    await log.append(events);
    logs.forEach((l, p) => {
      expect(eventsIn(l)).toEqual(events.filter((e) => partitionOf(e.node, 3) === p));
      // One entry per partition: each part is one atomic append.
      expect(l.size).toBe(1);
    });
    expect([...splitByPartition(events, 3).keys()].sort()).toEqual([0, 1, 2]);
  });

  it('acknowledges a spanning batch only once every partition took its part; the retry with the same key completes it without doubling', async () => {
    const logs = [new Flaky(60_000), new Flaky(60_000), new Flaky(60_000)];
    const log: EventLog = new PartitionedEventLog(logs);
    logs[1]!.failures = 1;
    const events = batch();
    const error = await log.append(events, idem('k1')).catch((err: unknown) => err);
    expect(error).toBeInstanceOf(PulseError);
    expect((error as PulseError).code).toBe(ErrorCode.STORE_UNAVAILABLE);
    expect(logs.map((l) => l.size)).toEqual([1, 0, 1]);
    // The retry: replayed where stored, appended where not.
    const retry = await log.append(events, idem('k1'));
    expect(retry.replay).toEqual(reply);
    expect(logs.map((l) => l.size)).toEqual([1, 1, 1]);
    // And again: replayed everywhere, nothing appended.
    expect((await log.append(events, idem('k1'))).replay).toEqual(reply);
    expect(logs.flatMap(eventsIn).map((e) => (e as { request_id: string }).request_id).sort()).toEqual(events.map((e) => (e as { request_id: string }).request_id).sort());
  });

  it('keeps the body as the entry when the batch is one partition\'s, and stores a reply without events with partition 0', async () => {
    const seen: (Buffer | undefined)[] = [];
    const logs = [0, 1].map(() => {
      const l = new MemoryEventLog(60_000);
      const append = l.append.bind(l);
      l.append = (events, idempotency, encoded?: Buffer) => (seen.push(encoded), append(events, idempotency));
      return l;
    });
    const log = new PartitionedEventLog(logs);
    const body = Buffer.from('[]');
    await log.append([start('fakeai-0', 1)], undefined, body);
    expect(seen).toEqual([body]);
    await log.append([], idem('empty'));
    expect((await logs[0]!.append([], idem('empty'))).replay).toEqual(reply);
  });
});

describe('on Redis', () => {
  let redis: TestRedis;
  let reader: RedisConnection;
  beforeAll(async () => {
    redis = await startTestRedis();
    reader = testClient(redis.url);
  });
  afterAll(async () => {
    reader?.disconnect();
    await redis?.stop();
  });

  it('appends each partition\'s part to its own stream and stores the reply beside it, one hash tag each', async () => {
    const prefix = uniquePrefix();
    const log = openRedisEventLog({ REDIS_URL: redis.url, PULSE_KEY_PREFIX: prefix, PULSE_WINDOW_SECONDS: 60, PULSE_PARTITIONS: 3 }, 'partitioned-test', silentLogger());
    try {
      await expect.poll(() => log.ping()).toBe(true);
      const events = batch();
      await log.append(events, idem('k'));
      const replay = await log.append(events, idem('k'));
      expect(replay.replay).toEqual(reply);
      for (const keys of partitionKeys(prefix, 3)) {
        const entries = await reader.xrange(keys.events, '-', '+');
        expect(entries).toHaveLength(1);
        const stored = JSON.parse(entries[0]![1][entries[0]![1].indexOf(ENTRY_FIELD) + 1]!) as PulseEvent[];
        expect(stored).toEqual(events.filter((e) => partitionOf(e.node, 3) === keys.partition));
        expect(await reader.exists(keys.idempotency('k'))).toBe(1);
      }
    } finally {
      await log.close();
    }
  });

  it('gives every partition one creation time: the oldest entry of any partition, fixed by the first to ask', async () => {
    const prefix = uniquePrefix();
    const all = partitionKeys(prefix, 3);
    // Ingest ran before any aggregator: partition 2 holds the oldest entry.
    await reader.xadd(all[2]!.events, '1000-0', ENTRY_FIELD, '[]');
    await reader.xadd(all[0]!.events, '2000-0', ENTRY_FIELD, '[]');
    const sources = all.map((keys) => new RedisEventSource(reader, reader, { keys, consumer: 'c', reclaimIdleMs: 1000 }));
    expect(await Promise.all(sources.map((s) => s.createdAt()))).toEqual([1000, 1000, 1000]);
    await reader.xadd(all[1]!.events, '500-0', ENTRY_FIELD, '[]');
    expect(await sources[1]!.createdAt()).toBe(1000);
  });

  it('records the partition count once and refuses another', async () => {
    const prefix = uniquePrefix();
    await checkPartitionCount(reader, pulseKeys(prefix, 0, 3));
    await checkPartitionCount(reader, pulseKeys(prefix, 2, 3));
    expect(await reader.hget(pulseKeys(prefix).meta, 'partitions')).toBe('3');
    const error = await checkPartitionCount(reader, pulseKeys(prefix)).catch((err: unknown) => err);
    expect(error).toBeInstanceOf(PartitionCountError);
    expect((error as Error).message).toMatch(/^PULSE_PARTITIONS=1, but this deployment's Redis records 3 partitions/);
  });

  it('checks at start, on a connection still connecting, without a warning; warns only while Redis does not answer', async () => {
    const prefix = uniquePrefix();
    const quiet = capturingLogger();
    const fresh = connectRedis(redis.url, 'producer', 'check-test', quiet.logger);
    try {
      await checkPartitionCountOrExit('test', fresh, pulseKeys(prefix, 0, 2), quiet.logger);
    } finally {
      await closeRedis(fresh);
    }
    expect(await reader.hget(pulseKeys(prefix).meta, 'partitions')).toBe('2');
    expect(quiet.lines.filter((l) => l.level >= 40)).toEqual([]);

    const down = capturingLogger();
    const nobody = connectRedis(`redis://127.0.0.1:${await freePort()}`, 'producer', 'check-test', down.logger);
    let stop = false;
    const checking = checkPartitionCountOrExit('test', nobody, pulseKeys(prefix), down.logger, () => stop);
    await new Promise((resolve) => setTimeout(resolve, 2500));
    stop = true;
    await checking;
    nobody.disconnect();
    expect(down.lines.filter((l) => l.msg.startsWith('cannot check PULSE_PARTITIONS'))).toHaveLength(1);
  });
});
