/**
 * What only the Redis store has: the fence read from the aggregators' lease
 * value (`token|epoch`), its keys in one hash-tag slot, and entries that do
 * not decode dropped rather than crashing a new leader.
 */
import { once } from 'node:events';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pulseKeys } from '@pulse/protocol';
import { connectRedis, RedisLeaderLease, silentLogger, type RedisConnection } from '@pulse/runtime';
import { startTestRedis, testClient, uniquePrefix, type TestRedis } from '@pulse/test-support/redis';
import { alertState, notification } from '@pulse/test-support/alert-fixtures';
import { RedisAlertStateStore } from './alert-state.redis.js';
import { alertKeys } from './keys.js';

let redis: TestRedis;
let admin: RedisConnection;
let producer: RedisConnection;
beforeAll(async () => {
  redis = await startTestRedis();
  admin = testClient(redis.url);
  producer = connectRedis(redis.url, 'producer', 'alert-state-redis-test', silentLogger());
  await once(producer, 'ready');
});
afterAll(async () => {
  producer?.disconnect();
  admin?.disconnect();
  await redis?.stop();
});

const commit = { put: [alertState('a')], remove: [], notifications: [notification('n1', 1)] };

describe('RedisAlertStateStore', () => {
  it("writes only under the epoch the lease's value ends with", async () => {
    const prefix = uniquePrefix();
    const keys = alertKeys(prefix);
    const lease = pulseKeys(prefix).leaderLease;
    const store = new RedisAlertStateStore(producer, keys);

    // No lease at all (expired): refused.
    expect(await store.commit(commit, { key: lease, epoch: 5 })).toBe(false);
    // Epoch 15 held: epoch 5 is a suffix of "15" but not of "|15".
    await admin.set(lease, 'tok|15');
    expect(await store.commit(commit, { key: lease, epoch: 5 })).toBe(false);
    expect(await admin.exists(keys.state, keys.outbox)).toBe(0);
    expect(await store.commit(commit, { key: lease, epoch: 15 })).toBe(true);
    expect(await admin.hkeys(keys.state)).toEqual(['a']);
    expect(await admin.hkeys(keys.outbox)).toEqual(['n1']);
  });

  it('is fenced by a lease that @pulse/runtime handed out, and refuses the former holder after a takeover', async () => {
    const prefix = uniquePrefix();
    const pulse = pulseKeys(prefix);
    const store = new RedisAlertStateStore(producer, alertKeys(prefix));
    const first = new RedisLeaderLease(producer, pulse, 200);
    const a = await first.acquireOrRenew();
    expect(a).not.toBeNull();
    expect(await store.commit(commit, { key: pulse.leaderLease, epoch: a!.epoch })).toBe(true);

    // The holder pauses past its TTL; a standby takes the lease with the next epoch.
    await new Promise((r) => setTimeout(r, 250));
    const second = new RedisLeaderLease(producer, pulse, 5_000);
    const b = await second.acquireOrRenew();
    expect(b!.epoch).toBeGreaterThan(a!.epoch);
    expect(await store.commit({ put: [], remove: ['a'], notifications: [] }, { key: pulse.leaderLease, epoch: a!.epoch })).toBe(false);
    expect((await store.load()).map((s) => s.fingerprint)).toEqual(['a']);
    expect(await store.commit({ put: [], remove: ['a'], notifications: [] }, { key: pulse.leaderLease, epoch: b!.epoch })).toBe(true);
    expect(await store.load()).toEqual([]);
    await second.release();
  });

  it('keeps every key in the hash slot of the deployment, with the lease', async () => {
    const keys = alertKeys('pulse');
    expect([keys.state, keys.outbox, `${keys.bullPrefix}:${keys.queueName}:wait`]).toEqual([
      '{pulse}:alerts:state',
      '{pulse}:alerts:outbox',
      '{pulse}:bull:alert-notifications:wait',
    ]);
    expect(pulseKeys('pulse').leaderLease.startsWith('{pulse}:')).toBe(true);
  });

  it('drops entries that do not decode (reported), and removes such outbox entries for good', async () => {
    const prefix = uniquePrefix();
    const keys = alertKeys(prefix);
    const bad: string[] = [];
    const store = new RedisAlertStateStore(producer, keys, (key, field) => bad.push(`${key} ${field}`));
    await admin.hset(keys.state, 'a', JSON.stringify(alertState('a')), 'junk', '{"not":"a state"}', 'b', JSON.stringify(alertState('other')));
    await admin.hset(keys.outbox, 'n1', JSON.stringify(notification('n1', 1)), 'x', 'not json');
    expect((await store.load()).map((s) => s.fingerprint)).toEqual(['a']);
    expect((await store.outbox()).map((n) => n.id)).toEqual(['n1']);
    expect(bad.sort()).toEqual([`${keys.outbox} x`, `${keys.state} b`, `${keys.state} junk`]);
    expect(await admin.hkeys(keys.outbox)).toEqual(['n1']);
  });
});
