/**
 * One suite, every AlertStateStore: what the evaluator relies on — a commit
 * is all or nothing, and a stale fence writes nothing — holds in one
 * process and in Redis alike.
 */
import { once } from 'node:events';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestRedis, testClient, uniquePrefix, type TestRedis } from '@pulse/test-support/redis';
import { connectRedis, silentLogger, type RedisConnection } from '@pulse/runtime';
import { pulseKeys } from '@pulse/protocol';
import { alertState, notification } from '@pulse/test-support/alert-fixtures';
import type { AlertFence, AlertState, AlertStateStore } from './alert-state.js';
import { MemoryAlertStateStore } from './alert-state.memory.js';
import { RedisAlertStateStore } from './alert-state.redis.js';
import { alertKeys } from './keys.js';

interface Subject {
  store: AlertStateStore;
  /** A fence that holds the lease now. */
  fence: AlertFence;
  /** Another replica takes the lease: `fence` goes stale, the returned one holds. */
  takeOver(): Promise<AlertFence>;
}

let redis: TestRedis;
let admin: RedisConnection;
const connections: RedisConnection[] = [];
beforeAll(async () => {
  redis = await startTestRedis();
  admin = testClient(redis.url);
});
afterAll(async () => {
  for (const c of connections) c.disconnect();
  admin?.disconnect();
  await redis?.stop();
});

const backends: { name: string; make(): Promise<Subject> }[] = [
  {
    name: 'MemoryAlertStateStore',
    async make() {
      let epoch = 1;
      const store = new MemoryAlertStateStore((fence) => fence.epoch === epoch);
      return { store, fence: { key: 'lease', epoch: 1 }, takeOver: async () => ({ key: 'lease', epoch: ++epoch }) };
    },
  },
  {
    name: 'RedisAlertStateStore',
    async make() {
      const prefix = uniquePrefix();
      const lease = pulseKeys(prefix).leaderLease;
      const producer = connectRedis(redis.url, 'producer', 'alert-state-contract', silentLogger());
      connections.push(producer);
      await once(producer, 'ready');
      // The aggregators' lease as leader-lease.redis.ts writes it: `token|epoch`.
      await admin.set(lease, 'token-a|41', 'PX', 60_000);
      return {
        store: new RedisAlertStateStore(producer, alertKeys(prefix)),
        fence: { key: lease, epoch: 41 },
        takeOver: async () => {
          await admin.set(lease, 'token-b|42', 'PX', 60_000);
          return { key: lease, epoch: 42 };
        },
      };
    },
  },
];

describe.each(backends)('AlertStateStore contract: $name', ({ make }) => {
  it('starts empty', async () => {
    const { store } = await make();
    expect(await store.load()).toEqual([]);
    expect(await store.listAlerts()).toEqual([]);
    expect(await store.outbox()).toEqual([]);
  });

  it('commits puts, removes and notifications together; the outbox reads oldest first until acknowledged', async () => {
    const { store, fence } = await make();
    expect(await store.commit({ put: [alertState('a'), alertState('b', { phase: 'pending', firedAtMs: null, firedValue: null, sent: {} })], remove: [], notifications: [notification('n2', 20), notification('n1', 10)] }, fence)).toBe(true);
    expect(sortByFp(await store.load())).toEqual([alertState('a'), alertState('b', { phase: 'pending', firedAtMs: null, firedValue: null, sent: {} })]);
    expect((await store.outbox()).map((n) => n.id)).toEqual(['n1', 'n2']);
    expect(await store.outbox()).toEqual([notification('n1', 10), notification('n2', 20)]);

    expect(await store.commit({ put: [alertState('b', { value: 9 })], remove: ['a'], notifications: [notification('n3', 30)] }, fence)).toBe(true);
    expect(await store.load()).toEqual([alertState('b', { value: 9 })]);

    await store.acknowledge(['n1', 'n3', 'unknown']);
    expect((await store.outbox()).map((n) => n.id)).toEqual(['n2']);
    await store.acknowledge([]);
  });

  it('refuses a stale fence and writes nothing of the commit, neither state nor notification', async () => {
    const { store, fence, takeOver } = await make();
    await store.commit({ put: [alertState('a')], remove: [], notifications: [] }, fence);
    const current = await takeOver();
    expect(await store.commit({ put: [alertState('b')], remove: ['a'], notifications: [notification('stale', 1)] }, fence)).toBe(false);
    expect(await store.load()).toEqual([alertState('a')]);
    expect(await store.outbox()).toEqual([]);
    // The new holder writes.
    expect(await store.commit({ put: [], remove: ['a'], notifications: [notification('fresh', 2)] }, current)).toBe(true);
    expect(await store.load()).toEqual([]);
    expect((await store.outbox()).map((n) => n.id)).toEqual(['fresh']);
  });

  it('hands out copies: changing what load returned changes nothing stored', async () => {
    const { store, fence } = await make();
    await store.commit({ put: [alertState('a')], remove: [], notifications: [] }, fence);
    const [loaded] = await store.load();
    (loaded as { value: number }).value = 1234;
    expect((await store.load())[0]?.value).toBe(5);
  });
});

function sortByFp(states: AlertState[]): AlertState[] {
  return [...states].sort((a, b) => a.fingerprint.localeCompare(b.fingerprint));
}
