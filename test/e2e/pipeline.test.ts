/**
 * End to end, as deployed: ingest, aggregator and gateway as separate `node`
 * processes against one Redis. Events POSTed to ingest show up, with exact
 * figures, in a WebSocket client's metrics_update and in GET /metrics/snapshot.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestRedis, uniquePrefix, type TestRedis } from '@pulse/test-support/redis';
import { startService, type ServiceProcess } from '@pulse/test-support/processes';
import { TestClient } from '@pulse/test-support/ws-client';

let redis: TestRedis;
const procs: ServiceProcess[] = [];
let ingest: ServiceProcess;
let gateway: ServiceProcess;

beforeAll(async () => {
  redis = await startTestRedis();
  const env = { REDIS_URL: redis.url, PULSE_KEY_PREFIX: uniquePrefix('e2e'), PULSE_TICK_MS: '100', LOG_LEVEL: 'warn' };
  [ingest] = await Promise.all([startService('ingest', env)]);
  procs.push(ingest, await startService('aggregator', env));
  gateway = await startService('gateway', env);
  procs.push(gateway);
}, 60_000);

afterAll(async () => {
  const codes = await Promise.all(procs.map((p) => p.stop('SIGTERM')));
  await redis?.stop();
  // Every service exits 0 on SIGTERM (docs/PROTOCOL.md §2).
  expect(codes).toEqual(procs.map(() => 0));
});

function post(body: unknown) {
  return fetch(`${ingest.url}/v1/events`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
}

describe('ingest → aggregator → gateway, as separate processes', () => {
  it('a client sees posted events in its metrics_update, filtered, with exact figures', async () => {
    const client = await TestClient.connect(`ws://127.0.0.1:${gateway.port}/metrics/stream`);
    const hist = await client.next((m) => m.type === 'historical_data', 5000, 0);
    expect(Object.keys(hist.msg.data as object).sort()).toEqual(['cache', 'error', 'latency', 'nodes', 'queue', 'slo', 'streaming', 'throughput']);

    client.send({ type: 'subscribe', filters: { model: 'gpt-4', interval: 0.2 } });
    await client.nextOfType('subscribed');

    const now = Date.now() / 1000;
    const events = [];
    for (let i = 0; i < 4; i++) {
      const model = i < 3 ? 'gpt-4' : 'other-model';
      const base = { ts: now, node: 'fakeai-1', request_id: `e2e-${i}`, endpoint: '/v1/chat/completions', model, stream: true };
      events.push({ type: 'request.start', ...base });
      events.push({ type: 'request.end', ...base, status: i === 2 ? 500 : 200, latency_ms: 100 * (i + 1), ttft_ms: 10, completion_tokens: 50 });
    }
    const res = await post({ events });
    expect(res.status).toBe(202);
    expect(await res.json()).toEqual({ accepted: 8, rejected: [] });

    const update = await client.next(
      (m) => m.type === 'metrics_update' && ((m.data as any)?.streaming?.completed_streams ?? 0) + ((m.data as any)?.streaming?.failed_streams ?? 0) >= 3,
      10_000,
    );
    const data = update.msg.data as any;
    expect(data.streaming.completed_streams).toBe(2);
    expect(data.streaming.failed_streams).toBe(1);
    expect(data.latency['/v1/chat/completions']).toMatchObject({ min: 100, max: 300, avg: 200 });
    expect(data.streaming.ttft.avg).toBe(10);
    expect(data.throughput.total_requests_per_sec).toBeGreaterThan(0);
    expect(typeof update.msg.timestamp).toBe('number');
    expect(update.msg.deltas).toHaveProperty('throughput.total_requests_per_sec');
    client.close();

    const snap = (await (await fetch(`${gateway.url}/metrics/snapshot`)).json()) as any;
    expect(snap.data.streaming.completed_streams).toBe(3); // unfiltered: the other model's stream too
    expect(snap.data.streaming.failed_streams).toBe(1);
  });
});
