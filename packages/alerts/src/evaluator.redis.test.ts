/**
 * A takeover, end to end on a real Redis: two evaluators (a leader and the
 * standby that takes its lease over), the fenced Redis store, BullMQ, and a
 * real HTTP receiver. The new leader must not notify again an alert the
 * former one already notified, and must notify its resolution — including
 * when the former leader committed a notification and died before handing
 * it to the queue.
 */
import { once } from 'node:events';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { pulseKeys } from '@pulse/protocol';
import { connectRedis, silentLogger, type RedisConnection } from '@pulse/runtime';
import { startTestRedis, testClient, uniquePrefix, type TestRedis } from '@pulse/test-support/redis';
import { dataWith, rulesFrom, SwitchableQueue } from '@pulse/test-support/alert-fixtures';
import { TestReceiver } from '@pulse/test-support/http-receiver';
import { RedisAlertStateStore } from './alert-state.redis.js';
import { BullmqNotificationQueue } from './delivery.bullmq.js';
import { AlertEvaluator } from './evaluator.js';
import { alertKeys } from './keys.js';
import { alertsBody } from './rest.js';
import type { AlertRules } from './rules.js';

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

const T0 = Date.UTC(2026, 0, 1, 12, 0, 0);
const LABELS = { endpoints: ['/chat'], models: ['gpt-4o'], nodes: ['n1'] };

let receiver: TestReceiver;
const queues: BullmqNotificationQueue[] = [];
beforeEach(async () => {
  receiver = await TestReceiver.start();
});
afterEach(async () => {
  for (const q of queues.splice(0)) await q.close();
  await receiver.close();
});

/** One aggregator replica's alerting: its own connections, store, queue (with a worker) and evaluator. */
async function replica(prefix: string, rules: AlertRules) {
  const producer = connectRedis(redis.url, 'producer', 'alerts-replica', silentLogger());
  const consumer = connectRedis(redis.url, 'consumer', 'alerts-replica', silentLogger());
  connections.push(producer, consumer);
  await once(producer, 'ready');
  const keys = alertKeys(prefix);
  const store = new RedisAlertStateStore(producer, keys);
  const bullmq = new BullmqNotificationQueue({ connection: consumer, keys, receivers: rules.receivers, delivery: { attempts: 3, initialBackoffMs: 40, maxBackoffMs: 150 } });
  queues.push(bullmq);
  const queue = new SwitchableQueue(bullmq);
  const evaluator = new AlertEvaluator({ rules, store, queue, externalUrl: 'http://pulse.test' });
  const lease = pulseKeys(prefix).leaderLease;
  return {
    store,
    queue,
    evaluator,
    evaluate: (atMs: number, queueDepth: number, epoch: number) =>
      evaluator.evaluate({ nowMs: T0 + atMs, labels: LABELS, fence: { key: lease, epoch }, view: () => dataWith({ queueDepth }) }),
  };
}

function rules(): AlertRules {
  return rulesFrom(
    `  - {name: Deep, figure: queue_depth, op: ">", value: 10, group_by: [node], receivers: [oncall]}\n`,
    `receivers:\n  - {name: oncall, url: "${receiver.url}", repeat_interval: 1h}\n`,
  );
}

const statuses = () => receiver.requests.map((r) => r.body.status);
/** Waits out the queue's backoffs, to see that nothing more arrives. */
const settle = () => new Promise((r) => setTimeout(r, 500));

describe('takeover', () => {
  it('the new leader does not re-send a firing alert, and sends its resolution', async () => {
    const prefix = uniquePrefix();
    const lease = pulseKeys(prefix).leaderLease;
    const a = await replica(prefix, rules());
    const b = await replica(prefix, rules());

    await admin.set(lease, 'replica-a|7');
    const fired = await a.evaluate(0, 50, 7);
    expect(fired.notifications.map((n) => n.body.status)).toEqual(['firing']);
    await expect.poll(statuses).toEqual(['firing']);

    // B takes the lease over; A, paused through it, wakes up and is refused.
    await admin.set(lease, 'replica-b|8');
    expect((await a.evaluate(500, 0, 7)).status).toBe('fenced');

    // B loads the state: the alert is firing and was notified. Still deep: nothing to send.
    const still = await b.evaluate(1_000, 60, 8);
    expect(still).toMatchObject({ status: 'evaluated', notifications: [] });
    expect((await alertsBody(b.store)).alerts).toEqual([
      { name: 'Deep', labels: { alertname: 'Deep', node: 'n1' }, state: 'firing', active_at: new Date(T0).toISOString(), value: 60 },
    ]);

    const resolved = await b.evaluate(1_500, 1, 8);
    expect(resolved.notifications.map((n) => n.body.status)).toEqual(['resolved']);
    await expect.poll(statuses).toEqual(['firing', 'resolved']);
    const [firing, resolution] = receiver.requests;
    expect(resolution!.body.alerts[0].fingerprint).toBe(firing!.body.alerts[0].fingerprint);
    expect(resolution!.body.alerts[0].startsAt).toBe(firing!.body.alerts[0].startsAt);
    await settle();
    expect(statuses()).toEqual(['firing', 'resolved']);
    expect(await admin.hlen(alertKeys(prefix).state)).toBe(0);
  });

  it('a leader that committed a firing and a resolution but died before handing them over loses neither', async () => {
    const prefix = uniquePrefix();
    const lease = pulseKeys(prefix).leaderLease;
    const a = await replica(prefix, rules());
    await admin.set(lease, 'replica-a|3');

    // A's queue is gone from the start: it commits the firing (state and outbox, atomically) and cannot hand it over.
    a.queue.down = true;
    expect((await a.evaluate(0, 50, 3)).status).toBe('error');
    expect(await admin.hlen(alertKeys(prefix).outbox)).toBe(1);
    await settle();
    expect(receiver.requests).toEqual([]);

    // A standby takes over: it drains what A left, and the firing is sent once.
    const b = await replica(prefix, rules());
    await admin.set(lease, 'replica-b|4');
    expect(await b.evaluate(500, 55, 4)).toMatchObject({ status: 'evaluated', notifications: [] });
    await expect.poll(statuses).toEqual(['firing']);
    expect(await admin.hlen(alertKeys(prefix).outbox)).toBe(0);

    // B in turn resolves the alert and dies before handing the resolution over.
    b.queue.down = true;
    expect((await b.evaluate(1_000, 0, 4)).status).toBe('error');
    const c = await replica(prefix, rules());
    await admin.set(lease, 'replica-c|5');
    expect(await c.evaluate(1_500, 0, 5)).toMatchObject({ status: 'evaluated', notifications: [] });
    await expect.poll(statuses).toEqual(['firing', 'resolved']);

    // A's and B's stale drains (they come back) re-send nothing: same job ids.
    a.queue.down = false;
    b.queue.down = false;
    await a.evaluator.drainOutbox();
    await b.evaluator.drainOutbox();
    await settle();
    expect(statuses()).toEqual(['firing', 'resolved']);
  });

  it('a handover that was enqueued but not acknowledged (a crash between the two) is not delivered twice', async () => {
    const prefix = uniquePrefix();
    const lease = pulseKeys(prefix).leaderLease;
    const a = await replica(prefix, rules());
    await admin.set(lease, 'replica-a|1');
    await a.evaluate(0, 50, 1);
    await expect.poll(statuses).toEqual(['firing']);

    // Put the handed-over notification back into the outbox, as if A had died between enqueue and acknowledge.
    expect(await a.store.outbox()).toEqual([]);
    const sent = receiver.requests[0]!;
    const id = sent.headers['idempotency-key'] as string;
    await admin.hset(alertKeys(prefix).outbox, id, JSON.stringify({ id, receiver: 'oncall', createdAtMs: T0, body: sent.body }));

    const b = await replica(prefix, rules());
    await admin.set(lease, 'replica-b|2');
    await b.evaluate(500, 50, 2);
    expect(await admin.hlen(alertKeys(prefix).outbox)).toBe(0);
    await settle();
    expect(statuses()).toEqual(['firing']);
  });
});
