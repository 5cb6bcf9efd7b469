/**
 * The bodies of the alert routes, over a real store and queue: what the
 * services send for GET /v1/alerts, GET /v1/alerts/deliveries?state=failed
 * and POST /v1/alerts/deliveries/{id}/retry.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { alertState, notification } from '@pulse/test-support/alert-fixtures';
import { TestReceiver } from '@pulse/test-support/http-receiver';
import { MemoryAlertStateStore } from './alert-state.memory.js';
import { MemoryNotificationQueue } from './delivery.memory.js';
import { alertsReply, deliveriesReply, retryReply } from './rest.js';

describe('alert routes', () => {
  let receiver: TestReceiver;
  let queue: MemoryNotificationQueue;
  beforeEach(async () => {
    receiver = await TestReceiver.start();
    queue = new MemoryNotificationQueue({
      receivers: [{ name: 'oncall', url: receiver.url, headers: {}, sendResolved: true, repeatIntervalMs: 60_000, format: 'alertmanager' }],
      delivery: { attempts: 1 },
    });
  });
  afterEach(async () => {
    await queue.close();
    await receiver.close();
  });

  it('GET /v1/alerts lists pending and firing alerts by name, with labels, state, active_at and value', async () => {
    const store = new MemoryAlertStateStore();
    await store.commit(
      {
        put: [
          alertState('b', { rule: 'Zeta', labels: { alertname: 'Zeta' }, activeAtMs: Date.UTC(2026, 0, 1), value: 3 }),
          alertState('a', { rule: 'Alpha', labels: { alertname: 'Alpha', endpoint: '/x' }, phase: 'pending', firedAtMs: null, activeAtMs: Date.UTC(2026, 0, 2), value: 7.5 }),
        ],
        remove: [],
        notifications: [],
      },
      { key: 'memory', epoch: 1 },
    );
    expect(await alertsReply(store)).toEqual({
      status: 200,
      body: {
        alerts: [
          { name: 'Alpha', labels: { alertname: 'Alpha', endpoint: '/x' }, state: 'pending', active_at: '2026-01-02T00:00:00.000Z', value: 7.5 },
          { name: 'Zeta', labels: { alertname: 'Zeta' }, state: 'firing', active_at: '2026-01-01T00:00:00.000Z', value: 3 },
        ],
      },
    });
  });

  it('GET /v1/alerts/deliveries?state=failed lists failed notifications; POST …/{id}/retry answers 202, or 404', async () => {
    receiver.reply({ status: 410, body: 'gone' });
    await queue.enqueue(notification('fp-1', Date.UTC(2026, 0, 1)));
    await expect.poll(async () => (await queue.failed()).length).toBe(1);

    const listed = await deliveriesReply(queue, 'failed');
    expect(listed).toEqual({
      status: 200,
      body: {
        deliveries: [
          {
            id: 'fp-1',
            receiver: 'oncall',
            status: 'firing',
            labels: { alertname: 'Deep' },
            attempts: 1,
            last_error: 'HTTP 410 Gone: gone',
            created_at: '2026-01-01T00:00:00.000Z',
            failed_at: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
          },
        ],
      },
    });
    expect(await deliveriesReply(queue, 'delivered')).toEqual({ status: 400, body: { error: expect.stringContaining('failed'), code: 'invalid_body' } });
    expect(await deliveriesReply(queue, null)).toMatchObject({ status: 400 });

    expect(await retryReply(queue, 'nope')).toEqual({ status: 404, body: { error: 'no failed delivery with id "nope"', code: 'not_found' } });
    expect(await retryReply(queue, 'fp-1')).toEqual({ status: 202, body: { id: 'fp-1', state: 'queued' } });
    await expect.poll(() => receiver.requestsFor('fp-1').length).toBe(2);
    await expect.poll(async () => (await deliveriesReply(queue, 'failed')).body).toEqual({ deliveries: [] });
  });
});
