/**
 * Snapshots into a gateway (newest kept, the rest dropped) and its REST
 * surface (docs/PROTOCOL.md §2, §6), on the in-process snapshot bus.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { encodeSnapshot } from '@pulse/protocol';
import { MemorySnapshotBus } from '@pulse/runtime';
import { getJson, SAMPLE_CELLS as CELLS, snapshot, startGateway, TestClient, wireData as wire, type RunningGateway } from '@pulse/test-support/gateway';

let bus: MemorySnapshotBus;
let gw: RunningGateway;
const clients: TestClient[] = [];

async function setup(): Promise<void> {
  bus = new MemorySnapshotBus();
  gw = await startGateway(bus);
}

async function connect(): Promise<TestClient> {
  const c = await TestClient.connect(gw.ws);
  clients.push(c);
  return c;
}

afterEach(async () => {
  for (const c of clients.splice(0)) c.ws.terminate();
  await gw?.close();
});

describe('snapshots in', () => {
  it('drops stale, duplicate and undecodable snapshots and keeps serving the newest', async () => {
    await setup();
    const newest = snapshot(100, CELLS, { epoch: 2, builtAt: 10 });
    await bus.publish(encodeSnapshot(newest));
    await vi.waitFor(() => expect(gw.gateway.ready()).toBe(true));
    const c = await connect();
    await c.request({ type: 'subscribe', filters: { interval: 0.1 } }, 'subscribed');
    await new Promise((r) => setTimeout(r, 150)); // c is due from here on

    await bus.publish(encodeSnapshot(snapshot(101, [], { epoch: 1, builtAt: 11 }))); // older epoch
    await bus.publish(encodeSnapshot(snapshot(99, [], { epoch: 2, builtAt: 9 }))); // older seq
    await bus.publish(encodeSnapshot(snapshot(100, [], { epoch: 2, builtAt: 10.5 }))); // duplicate
    await bus.publish(Buffer.from('not a snapshot'));
    await bus.publish(encodeSnapshot(newest).subarray(0, 20)); // truncated
    const body = (await getJson(`${gw.http}/metrics/snapshot`)).body;
    expect(body).toEqual({ timestamp: 10, data: wire(newest) });
    expect(c.ofType('metrics_update')).toEqual([]);

    // A newer epoch wins even with a lower seq.
    await bus.publish(encodeSnapshot(snapshot(50, [], { epoch: 3, builtAt: 12 })));
    expect((await c.next('metrics_update')).message.timestamp).toBe(12);
  });
});

describe('REST', () => {
  it('serves the latest snapshot with the same data as historical_data', async () => {
    await setup();
    const empty = (await getJson(`${gw.http}/metrics/snapshot`)).body;
    expect(empty.data).toEqual(wire(null));
    const snap = snapshot(5, CELLS, { builtAt: 1_700_000_123.25 });
    await bus.publish(encodeSnapshot(snap));
    await vi.waitFor(() => expect(gw.gateway.ready()).toBe(true));
    const res = await getJson(`${gw.http}/metrics/snapshot?x=1`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/application\/json/);
    const body = res.body;
    const hist = (await (await connect()).next('historical_data')).message;
    expect(body).toEqual({ timestamp: 1_700_000_123.25, data: hist.data });
  });

  it('answers readyz 503 with a reason until a snapshot is in hand, then 200', async () => {
    await setup();
    const before = await getJson(`${gw.http}/readyz`);
    expect(before.status).toBe(503);
    expect(before.body).toEqual({ status: 'not_ready', reason: 'no snapshot received yet' });
    await bus.publish(encodeSnapshot(snapshot(1, CELLS)));
    await vi.waitFor(async () => expect((await getJson(`${gw.http}/readyz`)).status).toBe(200));
  });

  it('serves its self-metrics at /metrics: process memory, event-loop lag, clients, refusals', async () => {
    await setup();
    const res = await fetch(`${gw.http}/metrics`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8');
    const text = await res.text();
    for (const series of ['process_resident_memory_bytes', 'nodejs_heap_size_used_bytes', 'nodejs_eventloop_lag_seconds', 'pulse_gateway_clients 0']) {
      expect(text).toContain(`\n${series}`);
    }
    expect(text).toMatch(/^pulse_rejections_total\{reason="unauthorized"\} 0$/m);
  });

  it('answers healthz 200 and anything else with a JSON 404', async () => {
    await setup();
    const health = await getJson(`${gw.http}/healthz`);
    expect([health.status, health.body]).toEqual([200, { status: 'ok' }]);
    for (const path of ['/', '/metricz', '/metrics/stream']) {
      const res = await getJson(`${gw.http}${path}`);
      expect(res.status).toBe(404);
      expect(res.body.code).toBe('not_found');
    }
    const post = await getJson(`${gw.http}/metrics/snapshot`, { method: 'POST' });
    expect(post.status).toBe(405);
  });
});
