/**
 * PULSE_INGEST_MIN_REPLICAS (CONTRACT §10) on a real primary and replica: an
 * append resolves only once `WAIT` counts the replicas, and is refused
 * STORE_UNAVAILABLE (a 503) otherwise. A refused append stays on the primary
 * (a script cannot be undone), so the producer's retry with the same
 * Idempotency-Key must replay it — acknowledged once the replica holds it,
 * never appended twice.
 */
import { once } from 'node:events';
import { join } from 'node:path';
import { rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ErrorCode, PulseError, pulseKeys, type PulseEvent } from '@pulse/protocol';
import { testClient, uniquePrefix } from '@pulse/test-support/redis';
import { dataArgs, distinctPorts, nodesDir, RedisNodeProcess } from '@pulse/test-support/redis-topologies';
import { RedisEventLog } from './event-log.redis.js';
import { silentLogger } from './logger.js';
import { closeRedis, connectRedis } from './redis.js';

const event: PulseEvent = { type: 'node.gauge', ts: 1_700_000_000, node: 'n1', queue_depth: 1 };
const reply = { status: 202, body: '{"accepted":1,"rejected":[]}' };

let dir: string;
let primary: RedisNodeProcess;
let replica: RedisNodeProcess;

beforeAll(async () => {
  dir = nodesDir('replicas');
  const [p, r] = await distinctPorts(2);
  primary = new RedisNodeProcess(p!, dataArgs(p!, join(dir, 'p')), join(dir, 'p'));
  replica = new RedisNodeProcess(r!, [...dataArgs(r!, join(dir, 'r')), '--replicaof', '127.0.0.1', String(p)], join(dir, 'r'));
  await primary.start();
});
afterAll(async () => {
  await Promise.all([primary?.kill(), replica?.kill()]);
  rmSync(dir, { recursive: true, force: true });
});

describe('RedisEventLog with minReplicas', () => {
  it('refuses an append no replica confirmed (503), and replays it under its Idempotency-Key once a replica holds it, appended once', async () => {
    const connection = connectRedis(`redis://127.0.0.1:${primary.port}`, 'producer', 'replicas-test', silentLogger());
    await once(connection, 'ready');
    const keys = pulseKeys(uniquePrefix());
    const log = new RedisEventLog(connection, { keys, retentionMs: 60_000, minReplicas: 1 });
    const idempotency = { key: 'k1', reply, ttlSeconds: 60 };
    const reader = testClient(`redis://127.0.0.1:${primary.port}`);
    try {
      const started = Date.now();
      const refused = await log.append([event], idempotency).then(() => null, (err: unknown) => err);
      expect(refused).toBeInstanceOf(PulseError);
      expect((refused as PulseError).code).toBe(ErrorCode.STORE_UNAVAILABLE);
      expect(Date.now() - started).toBeLessThan(2000);
      // The entry stayed on the primary; a retry with the key is refused again while no replica confirms it.
      expect(await reader.xlen(keys.events)).toBe(1);
      await expect(log.append([event], idempotency)).rejects.toBeInstanceOf(PulseError);

      await replica.start();
      await expect.poll(async () => /master_link_status:up/.test(await reader.info('replication').catch(() => '')) || /connected_slaves:1/.test(await reader.info('replication')), { timeout: 10_000 }).toBe(true);
      const replayed = await log.append([event], idempotency);
      expect(replayed).toEqual({ id: null, replay: reply });
      expect(await reader.xlen(keys.events)).toBe(1);
      const appended = await log.append([event], { ...idempotency, key: 'k2' });
      expect(appended.id).toMatch(/^\d+-\d+$/);
    } finally {
      reader.disconnect();
      await closeRedis(connection);
    }
  });
});
