/**
 * Names producers chose are data everywhere (docs/SECURITY.md): endpoints,
 * models, node ids and error types spelled `__proto__`, `constructor` or
 * `toString` go from POST /v1/events through the aggregator and the gateway
 * like any other name — own keys of every map, exact figures, usable as
 * filters — and pollute no prototype on the way. Against `npm start`'s
 * process, which runs every role.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startService, type ServiceProcess } from '@pulse/test-support/processes';
import { TestClient } from '@pulse/test-support/ws-client';

const NAMES = ['__proto__', 'constructor', 'toString'];
let pulse: ServiceProcess;

beforeAll(async () => {
  pulse = await startService('standalone', { PULSE_TICK_MS: '100', LOG_LEVEL: 'warn' });
  const ts = Date.now() / 1000;
  // Name i gets i + 1 requests, latencies 10·(i+1) … and one error typed by the name; node ids too.
  const events = NAMES.flatMap((name, i) =>
    Array.from({ length: i + 1 }, (_, k) => {
      const base = { ts, node: name, request_id: `${name}-${k}`, endpoint: name, model: name, stream: true };
      return [
        { type: 'request.start', ...base },
        { type: 'request.end', ...base, status: k === 0 ? 500 : 200, error: k === 0 ? name : undefined, latency_ms: 10 * (i + 1), cache: { hit: true, cached_tokens: 1, prefix_length: 2 } },
      ];
    }).flat(),
  );
  events.push(...NAMES.map((name) => ({ type: 'node.gauge', ts, node: name, queue_depth: 0 }) as never));
  const res = await fetch(`${pulse.url}/v1/events`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(events) });
  expect(await res.json()).toEqual({ accepted: events.length, rejected: [] });
}, 60_000);

afterAll(async () => {
  expect(await pulse?.stop('SIGTERM')).toBe(0);
});

/** Parses JSON text the way a careful client does: own keys only, read with Object.keys. */
async function snapshotData(): Promise<any> {
  return ((await (await fetch(`${pulse.url}/metrics/snapshot`)).json()) as any).data;
}

describe('prototype-like names, end to end', () => {
  it('are own keys of every per-endpoint map of the snapshot, with exact figures', async () => {
    await expect.poll(async () => (await snapshotData()).cache.total_lookups, { timeout: 10_000 }).toBe(6);
    const data = await snapshotData();
    for (const map of [data.throughput.requests_per_sec, data.throughput.responses_per_sec, data.latency, data.error.errors_per_sec, data.cache.by_endpoint]) {
      expect(Object.keys(map).sort()).toEqual([...NAMES].sort());
    }
    NAMES.forEach((name, i) => {
      expect(Object.hasOwn(data.latency, name)).toBe(true);
      expect(data.latency[name]).toMatchObject({ min: 10 * (i + 1), max: 10 * (i + 1), avg: 10 * (i + 1) });
      expect(data.cache.by_endpoint[name]).toMatchObject({ total_lookups: i + 1, cache_hits: i + 1 });
    });
    expect(data.streaming).toMatchObject({ completed_streams: 3, failed_streams: 3 });
  });

  it('are listed by /metrics/labels and work as filters', async () => {
    const labels = (await (await fetch(`${pulse.url}/metrics/labels`)).json()) as any;
    expect(labels.endpoints).toEqual([...NAMES].sort());
    expect(labels.models).toEqual([...NAMES].sort());

    const client = await TestClient.connect(`ws://127.0.0.1:${pulse.port}/metrics/stream`);
    try {
      client.send({ type: 'subscribe', filters: { endpoint: '__proto__', model: 'constructor', interval: 0.2 } });
      expect((await client.nextOfType('subscribed')).msg.filters).toMatchObject({ endpoints: ['__proto__'], models: ['constructor'] });
      // No cell is both: the filtered view is empty, and says so rather than falling back to everything.
      const empty = await client.nextOfType('metrics_update');
      expect(Object.keys((empty.msg.data as any).latency)).toEqual([]);

      client.send({ type: 'unsubscribe' });
      await client.nextOfType('unsubscribed');
      client.send({ type: 'subscribe', filters: { model: '__proto__', interval: 0.2 } });
      await client.nextOfType('subscribed');
      const update = await client.nextOfType('metrics_update');
      expect(Object.keys((update.msg.data as any).latency)).toEqual(['__proto__']);
      expect((update.msg.data as any).streaming).toMatchObject({ completed_streams: 0, failed_streams: 1 });
    } finally {
      client.close();
    }
  });

  it('leave the service answering ordinary names as before', async () => {
    const ts = Date.now() / 1000;
    const base = { ts, node: 'n', request_id: 'plain', endpoint: '/v1/plain', model: 'plain' };
    const res = await fetch(`${pulse.url}/v1/events`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify([{ type: 'request.start', ...base }, { type: 'request.end', ...base, status: 200, latency_ms: 7 }]),
    });
    expect(res.status).toBe(202);
    await expect.poll(async () => (await snapshotData()).latency['/v1/plain']?.max, { timeout: 10_000 }).toBe(7);
    expect(Object.keys((await snapshotData()).latency).sort()).toEqual(['/v1/plain', ...NAMES].sort());
  });
});
