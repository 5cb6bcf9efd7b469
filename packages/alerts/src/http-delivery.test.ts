/**
 * One attempt against a real HTTP receiver: the request it sends, and how
 * each kind of answer (or silence) is classified.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { notification } from '@pulse/test-support/alert-fixtures';
import { TestReceiver } from '@pulse/test-support/http-receiver';
import { attemptDelivery, parseRetryAfter } from './http-delivery.js';
import type { Receiver } from './rules.js';

let receiver: TestReceiver;
beforeAll(async () => {
  receiver = await TestReceiver.start();
});
afterAll(async () => {
  await receiver?.close();
});

function target(overrides: Partial<Receiver> = {}): Receiver {
  return { name: 'oncall', url: receiver.url, headers: { Authorization: 'Bearer secret' }, sendResolved: true, repeatIntervalMs: 1000, format: 'alertmanager', ...overrides };
}

describe('attemptDelivery', () => {
  it('POSTs the Alertmanager body as JSON with the receiver headers and the Idempotency-Key', async () => {
    const n = notification('fp-1', 1);
    expect(await attemptDelivery(n, target(), 1000)).toEqual({ kind: 'delivered', status: 200 });
    const [req] = receiver.requestsFor('fp-1');
    expect(req?.method).toBe('POST');
    expect(req?.path).toBe('/hook');
    expect(req?.headers['content-type']).toBe('application/json');
    expect(req?.headers.authorization).toBe('Bearer secret');
    expect(req?.body).toEqual(n.body);
  });

  it('POSTs {"text"} to a Slack receiver', async () => {
    await attemptDelivery(notification('fp-slack', 1), target({ format: 'slack' }), 1000);
    expect(receiver.requestsFor('fp-slack')[0]?.body).toEqual({ text: '[FIRING] Deep value=5' });
  });

  it('classifies each answer: 2xx delivered; 408 and 5xx retried; 429 deferred with its Retry-After; other statuses failed', async () => {
    const cases: [number, Record<string, string>, unknown][] = [
      [204, {}, { kind: 'delivered', status: 204 }],
      [503, {}, { kind: 'retry', error: 'HTTP 503 Service Unavailable: busy' }],
      [500, {}, { kind: 'retry', error: 'HTTP 500 Internal Server Error: busy' }],
      [408, {}, { kind: 'retry', error: 'HTTP 408 Request Timeout: busy' }],
      [429, { 'Retry-After': '7' }, { kind: 'defer', retryAfterMs: 7000, error: 'HTTP 429 Too Many Requests: busy' }],
      [429, {}, { kind: 'defer', retryAfterMs: null, error: 'HTTP 429 Too Many Requests: busy' }],
      [400, {}, { kind: 'fail', error: 'HTTP 400 Bad Request: busy' }],
      [404, {}, { kind: 'fail', error: 'HTTP 404 Not Found: busy' }],
      [302, { Location: '/elsewhere' }, { kind: 'fail', error: 'HTTP 302 Found: busy (redirects are not followed)' }],
    ];
    for (const [status, headers, expected] of cases) {
      receiver.reply({ status, headers, body: status === 204 ? '' : 'busy' });
      expect([status, await attemptDelivery(notification(`fp-${status}`, 1), target(), 1000)]).toEqual([status, expected]);
    }
  });

  it('retries a receiver that does not answer in time, and one that cannot be reached', async () => {
    receiver.reply({ status: 200, delayMs: 2000 });
    const started = Date.now();
    expect(await attemptDelivery(notification('fp-slow', 1), target(), 200)).toEqual({ kind: 'retry', error: 'timeout: no answer within 200 ms' });
    expect(Date.now() - started).toBeLessThan(1500);

    const closed = http.createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const { port } = closed.address() as AddressInfo;
    await new Promise<void>((r) => closed.close(() => r()));
    expect(await attemptDelivery(notification('fp-refused', 1), target({ url: `http://127.0.0.1:${port}/` }), 1000)).toEqual({
      kind: 'retry',
      error: 'network error: ECONNREFUSED',
    });
  });

  it('reads Retry-After as seconds or as an HTTP date', () => {
    const now = Date.UTC(2026, 0, 1, 0, 0, 0);
    expect(parseRetryAfter('120', now)).toBe(120_000);
    expect(parseRetryAfter(new Date(now + 30_000).toUTCString(), now)).toBe(30_000);
    expect(parseRetryAfter(new Date(now - 30_000).toUTCString(), now)).toBe(0);
    expect(parseRetryAfter('soon', now)).toBeNull();
    expect(parseRetryAfter(null, now)).toBeNull();
  });
});
