/**
 * What only the Redis backend has: failing fast when Redis is gone, coming
 * back by itself, the stored-reply TTL, refusing a patient connection, and
 * how the services that write events open it.
 */
import { once } from 'node:events';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ErrorCode, PulseError, pulseKeys, type PulseEvent } from '@pulse/protocol';
import { startTestRedis, testClient, uniquePrefix, type KillableTestRedis } from '@pulse/test-support/redis';
import { freePort } from '@pulse/test-support/redis-server';
import { eventRetentionMs } from './event-log.js';
import { openRedisEventLog, RedisEventLog } from './event-log.redis.js';
import { silentLogger } from './logger.js';
import { connectRedis, type RedisConnection } from './redis.js';

const event: PulseEvent = { type: 'node.gauge', ts: 1_700_000_000, node: 'n1', queue_depth: 1 };
const reply = { status: 202, body: '{"accepted":1,"rejected":[]}' };

let redis: KillableTestRedis;
let reader: RedisConnection;
const connections: RedisConnection[] = [];

beforeAll(async () => {
  redis = await startTestRedis({ killable: true });
  reader = testClient(redis.url);
});
afterAll(async () => {
  for (const c of connections) c.disconnect();
  reader?.disconnect();
  await redis?.stop();
});

function producer(url: string): RedisConnection {
  const c = connectRedis(url, 'producer', 'event-log-test', silentLogger());
  connections.push(c);
  return c;
}

async function readyLog(): Promise<{ log: RedisEventLog; keys: ReturnType<typeof pulseKeys> }> {
  const connection = producer(redis.url);
  await once(connection, 'ready');
  const keys = pulseKeys(uniquePrefix());
  return { log: new RedisEventLog(connection, { keys, retentionMs: 60_000 }), keys };
}

async function expectStoreUnavailable(promise: Promise<unknown>): Promise<void> {
  const error = await promise.then(
    () => null,
    (err: unknown) => err,
  );
  expect(error).toBeInstanceOf(PulseError);
  expect((error as PulseError).code).toBe(ErrorCode.STORE_UNAVAILABLE);
}

describe('RedisEventLog', () => {
  it('rejects with store_unavailable within 2 s when nothing listens', async () => {
    const log = new RedisEventLog(producer(`redis://127.0.0.1:${await freePort()}`), {
      keys: pulseKeys(uniquePrefix()),
      retentionMs: 60_000,
    });
    const started = Date.now();
    await expectStoreUnavailable(log.append([event]));
    await expectStoreUnavailable(log.append([event], { key: 'k', reply, ttlSeconds: 600 }));
    expect(Date.now() - started).toBeLessThan(2000);
    expect(await log.ping()).toBe(false);
  });

  it('fails fast while Redis is down, writes nothing, and recovers on the same connection', async () => {
    const { log, keys } = await readyLog();
    await log.append([event]);

    await redis.kill();
    const started = Date.now();
    await expectStoreUnavailable(log.append([event]));
    expect(Date.now() - started).toBeLessThan(2000);

    // The restarted server is empty and has no script cache: EVALSHA must fall back to EVAL.
    await redis.restart();
    await expect.poll(() => log.ping(), { timeout: 5000 }).toBe(true);
    const { id } = await log.append([event]);
    expect(id).not.toBeNull();
    expect(await reader.xlen(keys.events)).toBe(1);
  });

  it('stores the idempotent reply with the requested TTL, in the same round trip', async () => {
    const { log, keys } = await readyLog();
    await log.append([event], { key: 'ttl', reply, ttlSeconds: 600 });
    const ttl = await reader.ttl(keys.idempotency('ttl'));
    expect(ttl).toBeGreaterThan(590);
    expect(ttl).toBeLessThanOrEqual(600);
    expect(JSON.parse((await reader.get(keys.idempotency('ttl')))!)).toEqual(reply);
  });

  it('reports a Redis that holds the wrong type at the key as a bug, not as unavailable', async () => {
    const { log, keys } = await readyLog();
    await reader.set(keys.events, 'not a stream');
    const error = await log.append([event]).catch((err: unknown) => err);
    expect(error).toBeInstanceOf(Error);
    expect(error).not.toBeInstanceOf(PulseError);
    expect(String(error)).toMatch(/WRONGTYPE/);
  });

  it('refuses a connection with an offline queue, which would hang during an outage', () => {
    const patient = connectRedis(redis.url, 'consumer', 'event-log-test', silentLogger());
    connections.push(patient);
    expect(() => new RedisEventLog(patient, { keys: pulseKeys(uniquePrefix()), retentionMs: 1000 })).toThrow(
      /fail-fast/,
    );
  });
});

describe('openRedisEventLog', () => {
  it("appends to the deployment's stream over a fail-fast connection named for the writer", async () => {
    const prefix = uniquePrefix();
    const log = openRedisEventLog({ REDIS_URL: redis.url, PULSE_KEY_PREFIX: prefix, PULSE_WINDOW_SECONDS: 60 }, 'writer-test', silentLogger());
    try {
      // Fail-fast: commands are refused, not queued, until the connection is ready.
      await expect.poll(() => log.ping()).toBe(true);
      await log.append([event]);
      expect(await reader.xlen(pulseKeys(prefix).events)).toBe(1);
      expect(await reader.client('LIST')).toMatch(/name=pulse:writer-test:producer\b/);
    } finally {
      await log.close();
    }
  });

  it('keeps two windows of entries plus a margin (docs/DEPLOY.md: 150 s for the default 60 s window)', () => {
    expect(eventRetentionMs(60)).toBe(150_000);
    expect(eventRetentionMs(300)).toBe(630_000);
  });
});
