/**
 * One suite, every NotificationQueue: the in-process queue and BullMQ on a
 * real Redis deliver to a real HTTP receiver with the same semantics —
 * idempotent enqueue, one Idempotency-Key across attempts, retries with
 * backoff, 429 honoured without spending an attempt, other 4xx failed at
 * once, failed deliveries listed and replayable. Backoffs are tens of ms so
 * the suite runs in seconds; Retry-After has a resolution of one second.
 */
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { connectRedis, silentLogger, type RedisConnection } from '@pulse/runtime';
import { startTestRedis, uniquePrefix, type TestRedis } from '@pulse/test-support/redis';
import { stopTopologies, TOPOLOGIES, topologyUrl } from '@pulse/test-support/redis-topologies';
import { notification } from '@pulse/test-support/alert-fixtures';
import { TestReceiver } from '@pulse/test-support/http-receiver';
import { BullmqNotificationQueue } from './delivery.bullmq.js';
import { MemoryNotificationQueue } from './delivery.memory.js';
import type { DeliveryOptions, NotificationQueue } from './delivery.js';
import { alertKeys } from './keys.js';
import type { Receiver } from './rules.js';

const FAST: Partial<DeliveryOptions> = { attempts: 3, initialBackoffMs: 40, maxBackoffMs: 150, timeoutMs: 2000 };

let redis: TestRedis;
/** BullMQ on a Redis Cluster too: its scripts stay in one slot only with the `{prefix}` hash tag (docs/REDIS.md). */
let clusterUrl = '';
const connections: RedisConnection[] = [];
beforeAll(async () => {
  redis = await startTestRedis();
  if (TOPOLOGIES.includes('cluster')) clusterUrl = await topologyUrl('cluster');
});
afterAll(async () => {
  for (const c of connections) c.disconnect();
  await Promise.all([redis?.stop(), stopTopologies()]);
});

function bullmqBackend(name: string, url: () => string) {
  return {
    name,
    make: (receivers: Receiver[], delivery: Partial<DeliveryOptions>): NotificationQueue => {
      const connection = connectRedis(url(), 'consumer', 'alerts-delivery-contract', silentLogger());
      connections.push(connection);
      return new BullmqNotificationQueue({ connection, keys: alertKeys(uniquePrefix()), receivers, delivery });
    },
  };
}

const backends: { name: string; make(receivers: Receiver[], delivery: Partial<DeliveryOptions>): NotificationQueue }[] = [
  {
    name: 'MemoryNotificationQueue',
    make: (receivers, delivery) => new MemoryNotificationQueue({ receivers, delivery }),
  },
  bullmqBackend('BullmqNotificationQueue', () => redis.url),
  ...(TOPOLOGIES.includes('cluster') ? [bullmqBackend('BullmqNotificationQueue on a Redis Cluster', () => clusterUrl)] : []),
];

describe.each(backends)('NotificationQueue contract: $name', ({ make }) => {
  let receiver: TestReceiver;
  let queue: NotificationQueue | null = null;
  beforeEach(async () => {
    receiver = await TestReceiver.start();
  });
  afterEach(async () => {
    await queue?.close();
    queue = null;
    await receiver.close();
  });

  function open(delivery: Partial<DeliveryOptions> = {}, extra: Partial<Receiver> = {}): NotificationQueue {
    const target: Receiver = { name: 'oncall', url: receiver.url, headers: { Authorization: 'Bearer t' }, sendResolved: true, repeatIntervalMs: 60_000, format: 'alertmanager', ...extra };
    queue = make([target], { ...FAST, ...delivery });
    return queue;
  }

  /** Waits out a few backoffs, to see that nothing more arrives. */
  const settle = () => new Promise((r) => setTimeout(r, 400));

  it('delivers the body once with its Idempotency-Key; enqueueing the same id again is a no-op', async () => {
    const q = open();
    const n = notification('fp-once', 1);
    await Promise.all([q.enqueue(n), q.enqueue(n)]);
    await expect.poll(() => receiver.requestsFor('fp-once').length).toBe(1);
    await q.enqueue(n);
    // A later notification delivered proves the queue moved on; the first one was not sent again.
    await q.enqueue(notification('fp-next', 2));
    await expect.poll(() => receiver.requestsFor('fp-next').length).toBe(1);
    await settle();
    expect(receiver.requestsFor('fp-once')).toHaveLength(1);
    const [req] = receiver.requestsFor('fp-once');
    expect(req?.body).toEqual(n.body);
    expect(req?.headers.authorization).toBe('Bearer t');
    expect(await q.failed()).toEqual([]);
  });

  it('drops a firing notification being retried once its resolution is queued: late, it would reopen the alert', async () => {
    // Backoff of at least 500 ms: the resolution is enqueued well before the firing notification's retry.
    const q = open({ initialBackoffMs: 1000, maxBackoffMs: 1000 });
    receiver.reply({ status: 503 });
    await q.enqueue({ ...notification('fp-firing', 1), resolvedBy: 'fp-resolved' });
    await expect.poll(() => receiver.requestsFor('fp-firing').length).toBe(1);
    await q.enqueue(notification('fp-resolved', 2));
    await expect.poll(() => receiver.requestsFor('fp-resolved').length).toBe(1);
    await new Promise((r) => setTimeout(r, 1500));
    expect(receiver.requestsFor('fp-firing')).toHaveLength(1);
    expect(await q.failed()).toEqual([]);
  });

  it('retries a 503 with the same Idempotency-Key, and delivers', async () => {
    const q = open();
    receiver.reply({ status: 503 }, { status: 503 });
    await q.enqueue(notification('fp-503', 1));
    await expect.poll(() => receiver.requestsFor('fp-503').length).toBe(3);
    expect(receiver.requests.map((r) => r.headers['idempotency-key'])).toEqual(['fp-503', 'fp-503', 'fp-503']);
    await settle();
    expect(receiver.requests).toHaveLength(3);
    expect(await q.failed()).toEqual([]);
  });

  it('waits for a 429 Retry-After without spending an attempt', async () => {
    // One attempt only: had the 429 spent it, the notification would fail instead of being delivered.
    const q = open({ attempts: 1 });
    receiver.reply({ status: 429, headers: { 'Retry-After': '1' } });
    await q.enqueue(notification('fp-429', 1));
    await expect.poll(() => receiver.requestsFor('fp-429').length, { timeout: 5000 }).toBe(2);
    const [first, second] = receiver.requestsFor('fp-429');
    expect(second!.at - first!.at).toBeGreaterThanOrEqual(950);
    await settle();
    expect(receiver.requests).toHaveLength(2);
    expect(await q.failed()).toEqual([]);
  });

  it('a 503 with one attempt fails (the contrast to the 429 above)', async () => {
    const q = open({ attempts: 1 });
    receiver.reply({ status: 503, body: 'down' });
    await q.enqueue(notification('fp-503-once', 1));
    await expect.poll(async () => (await q.failed()).map((f) => [f.id, f.attempts, f.lastError])).toEqual([['fp-503-once', 1, 'HTTP 503 Service Unavailable: down']]);
    expect(receiver.requests).toHaveLength(1);
  });

  it('fails a 400 at once, lists it with its last error, and replays it by id with the same Idempotency-Key', async () => {
    const q = open();
    receiver.reply({ status: 400, body: 'bad payload' });
    const n = notification('fp-400', 1_700_000_000_000);
    await q.enqueue(n);
    await expect.poll(async () => (await q.failed()).length).toBe(1);
    const [failed] = await q.failed();
    expect(failed).toEqual({
      id: 'fp-400',
      receiver: 'oncall',
      status: 'firing',
      labels: { alertname: 'Deep' },
      attempts: 1,
      lastError: 'HTTP 400 Bad Request: bad payload',
      createdAtMs: 1_700_000_000_000,
      failedAtMs: expect.any(Number),
    });
    await settle();
    expect(receiver.requests).toHaveLength(1);

    // A failed one is not enqueued again by a duplicate: only a retry replays it.
    await q.enqueue(n);
    expect(await q.retry('no-such-id')).toBe(false);
    expect(await q.retry('fp-400')).toBe(true);
    await expect.poll(() => receiver.requestsFor('fp-400').length).toBe(2);
    await expect.poll(async () => (await q.failed()).length).toBe(0);
    // Delivered now: nothing failed to retry.
    expect(await q.retry('fp-400')).toBe(false);
  });

  it('keeps a notification that exhausted its attempts as failed, with the count and the last error', async () => {
    const q = open();
    receiver.fallback = { status: 502, body: 'bad gateway' };
    await q.enqueue(notification('fp-exhausted', 1));
    await expect.poll(async () => (await q.failed()).map((f) => [f.attempts, f.lastError]), { timeout: 5000 }).toEqual([[3, 'HTTP 502 Bad Gateway: bad gateway']]);
    expect(receiver.requests).toHaveLength(3);

    // Replay gets a fresh set of attempts.
    receiver.fallback = { status: 200 };
    receiver.reply({ status: 503 }, { status: 503 });
    expect(await q.retry('fp-exhausted')).toBe(true);
    await expect.poll(() => receiver.requests.length).toBe(6);
    await expect.poll(async () => (await q.failed()).length).toBe(0);
  });

  it('retries a receiver that does not answer within the timeout', async () => {
    const q = open({ timeoutMs: 300 });
    receiver.reply({ status: 200, delayMs: 2000 });
    await q.enqueue(notification('fp-timeout', 1));
    await expect.poll(() => receiver.requestsFor('fp-timeout').length, { timeout: 5000 }).toBe(2);
    await settle();
    expect(await q.failed()).toEqual([]);
  });

  it('POSTs {"text"} to a Slack receiver', async () => {
    const q = open({}, { format: 'slack' });
    await q.enqueue(notification('fp-slack', 1));
    await expect.poll(() => receiver.requestsFor('fp-slack').map((r) => r.body)).toEqual([{ text: '[FIRING] Deep value=5' }]);
  });

  it('close() lets the attempt under way finish', async () => {
    const q = open();
    receiver.reply({ status: 200, delayMs: 300 });
    await q.enqueue(notification('fp-close', 1));
    await expect.poll(() => receiver.requestsFor('fp-close').length).toBe(1);
    const started = Date.now();
    await q.close();
    expect(Date.now() - started).toBeGreaterThanOrEqual(150);
    await q.close();
  });
});
