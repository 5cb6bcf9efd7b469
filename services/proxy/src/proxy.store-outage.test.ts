/**
 * Redis goes away under the proxy: traffic keeps flowing at full speed, the
 * events that cannot be written are dropped and counted, and writing resumes
 * when Redis is back.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createFakeOpenAI, type FakeOpenAI } from '@pulse/fake-openai';
import { startTestRedis, testClient, type KillableTestRedis } from '@pulse/test-support/redis';
import { startProxy, storedEvents, type TestProxy } from '@pulse/test-support/proxy';

let redis: KillableTestRedis;
let fake: FakeOpenAI;
let proxy: TestProxy;

beforeAll(async () => {
  redis = await startTestRedis({ killable: true });
  fake = createFakeOpenAI();
  proxy = await startProxy({ redisUrl: redis.url, upstreams: [await fake.listen()] });
});
afterAll(async () => {
  await proxy?.close();
  await fake?.close();
  await redis?.stop();
});

async function chat(): Promise<{ status: number; ms: number }> {
  const t0 = performance.now();
  const res = await fetch(proxy.url + '/v1/chat/completions', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'm', messages: [], stream: true }),
  });
  await res.text();
  return { status: res.status, ms: performance.now() - t0 };
}

describe('proxy while the event store is down', () => {
  it('keeps serving, counts the dropped events, and writes again once Redis is back', async () => {
    expect((await chat()).status).toBe(200);
    await expect.poll(() => proxy.proxy.status().events.appended).toBe(2);

    await redis.kill();
    const during = [];
    for (let i = 0; i < 10; i++) during.push(await chat());
    expect(during.map((r) => r.status)).toEqual(Array(10).fill(200));
    // Never waiting on the store: no request took anywhere near the store's 1.5 s command timeout.
    expect(Math.max(...during.map((r) => r.ms))).toBeLessThan(1000);
    await expect.poll(() => proxy.proxy.status().events, { timeout: 5000 }).toMatchObject({ appended: 2, dropped: 20, queued: 0 });
    expect(proxy.proxy.ready()).toBe(true);

    await redis.restart();
    const reader = testClient(redis.url);
    try {
      await expect
        .poll(async () => {
          await chat();
          return (await storedEvents(reader, proxy.keys)).length;
        }, { timeout: 10_000, interval: 200 })
        .toBeGreaterThanOrEqual(2);
    } finally {
      reader.disconnect();
    }
    expect(proxy.proxy.status().events.dropped).toBeGreaterThanOrEqual(20);
  });
});
