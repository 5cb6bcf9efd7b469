/**
 * Redis dies under a running ingest app and comes back: requests get a fast
 * 503 meanwhile and 202 again afterwards, with no restart of the app.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startTestRedis, testClient, type KillableTestRedis } from '@pulse/test-support/redis';
import { startIngest, type TestIngest } from '@pulse/test-support/ingest';

const gauge = (depth: number) => JSON.stringify({ type: 'node.gauge', ts: 1_700_000_000, node: 'n1', queue_depth: depth });

let redis: KillableTestRedis;
let ingest: TestIngest;
beforeAll(async () => {
  redis = await startTestRedis({ killable: true });
  ingest = await startIngest({ redisUrl: redis.url });
});
afterAll(async () => {
  await ingest?.close();
  await redis?.stop();
});

it('answers 503 + Retry-After fast while Redis is down and 202 again once it is back', async () => {
  expect((await ingest.post(gauge(1))).status).toBe(202);

  await redis.kill();
  for (let i = 0; i < 3; i++) {
    const started = Date.now();
    const res = await ingest.post(gauge(2), { 'content-type': 'application/json', 'idempotency-key': 'during-outage' });
    expect(Date.now() - started).toBeLessThan(2000);
    expect(res.status).toBe(503);
    expect(res.headers.get('retry-after')).toBe('1');
    expect(await res.json()).toMatchObject({ code: 'store_unavailable' });
  }
  expect((await fetch(`${ingest.url}/readyz`)).status).toBe(503);

  await redis.restart();
  await expect.poll(async () => (await ingest.post(gauge(3))).status, { timeout: 5000, interval: 100 }).toBe(202);
  expect((await fetch(`${ingest.url}/readyz`)).status).toBe(200);

  // A 503 accepted nothing, so the key retried after the outage is a first request.
  const retried = await ingest.post(gauge(2), { 'content-type': 'application/json', 'idempotency-key': 'during-outage' });
  expect(retried.status).toBe(202);
  expect(retried.headers.get('idempotent-replayed')).toBeNull();

  const reader = testClient(redis.url);
  try {
    // The restarted server started empty: what is there now came after the outage.
    const depths = (await reader.xrange(ingest.keys.events, '-', '+')).map(([, f]) => JSON.parse(f[1]!)[0].queue_depth);
    expect(depths.at(-1)).toBe(2);
    expect(depths.slice(0, -1).every((d: number) => d === 3)).toBe(true);
  } finally {
    reader.disconnect();
  }
});
