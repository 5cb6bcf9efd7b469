/**
 * The WebSocket protocol of docs/PROTOCOL.md §5, through real sockets, on a gateway
 * fed by the in-process snapshot bus.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { WebSocket } from 'ws';
import { encodeSnapshot, METRIC_TYPES } from '@pulse/protocol';
import { MemorySnapshotBus } from '@pulse/runtime';
import { cell, SAMPLE_CELLS as CELLS, snapshot, startGateway, startTicker, TestClient, TEST_TICK_MS, wireData as wire, type RunningGateway } from '@pulse/test-support/gateway';

let bus: MemorySnapshotBus;
let gw: RunningGateway;
const clients: TestClient[] = [];
const tickers: { stop(): void }[] = [];

async function setup(): Promise<void> {
  bus = new MemorySnapshotBus();
  gw = await startGateway(bus);
}

async function connect(): Promise<TestClient> {
  const c = await TestClient.connect(gw.ws);
  clients.push(c);
  return c;
}

/** A counter of the gateway's /metrics. */
async function counter(name: string): Promise<number> {
  const text = await (await fetch(`${gw.http}/metrics`)).text();
  const value = new RegExp(`^${name} (\\d+)$`, 'm').exec(text)?.[1];
  if (value === undefined) throw new Error(`no ${name} in /metrics`);
  return Number(value);
}

function tick(cellsAt: (n: number) => typeof CELLS = () => CELLS) {
  const t = startTicker(bus, cellsAt);
  tickers.push(t);
  return t;
}

afterEach(async () => {
  for (const t of tickers.splice(0)) t.stop();
  for (const c of clients.splice(0)) c.ws.terminate();
  await gw?.close();
});

describe('on connect', () => {
  it('sends historical_data at once: six empty metric types before any snapshot', async () => {
    await setup();
    const before = Date.now() / 1000;
    const c = await connect();
    const { message } = await c.next('historical_data', 500);
    expect(Object.keys(message.data).sort()).toEqual([...METRIC_TYPES].sort());
    expect(message.data).toEqual(wire(null));
    expect(message.data.throughput).toMatchObject({ requests_per_sec: {}, total_requests_per_sec: 0 });
    expect(message.timestamp).toBeGreaterThanOrEqual(before - 0.001);
    expect(message.timestamp).toBeLessThanOrEqual(Date.now() / 1000);
  });

  it('sends the latest snapshot, unfiltered, stamped with its build time', async () => {
    await setup();
    const snap = snapshot(1000, CELLS, { builtAt: 1_700_000_000.5 });
    await bus.publish(encodeSnapshot(snap));
    await vi.waitFor(() => expect(gw.gateway.ready()).toBe(true));
    const c = await connect();
    const { message } = await c.next('historical_data', 500);
    expect(message.timestamp).toBe(1_700_000_000.5);
    expect(message.data).toEqual(wire(snap));
    expect(Object.keys(message.data.throughput.requests_per_sec)).toEqual(['/v1/chat/completions', '/v1/embeddings']);
  });

  it('refuses upgrades on any other path with 404', async () => {
    await setup();
    const ws = new WebSocket(gw.ws.replace('/metrics/stream', '/metrics/other'));
    const status = await new Promise<number>((resolve) => {
      ws.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
      ws.on('error', () => resolve(-1));
    });
    expect(status).toBe(404);
  });
});

describe('client messages over the socket', () => {
  it('echoes subscribe with intervals rounded up to the tick, capped at 3600 s', async () => {
    await setup();
    const c = await connect();
    const cases = [
      { interval: 0.25, echoed: 0.3 },
      { interval: 0.01, echoed: 0.1 },
      { interval: 1e7, echoed: 3600 },
    ];
    for (const { interval, echoed } of cases) {
      const r = await c.request({ type: 'subscribe', filters: { interval } }, 'subscribed');
      expect(r.filters.interval).toBe(echoed);
    }
    const r = await c.request({ type: 'subscribe', filters: { endpoint: '/a', model: 'gpt-4', metric_type: 'latency' } }, 'subscribed');
    expect(r).toMatchObject({ filters: { endpoints: ['/a'], models: ['gpt-4'], nodes: [], metric_types: ['latency'], interval: 3600 } });
    expect(typeof r.timestamp).toBe('number');
  });

  it('answers every kind of bad input with an error naming it, and stays open', async () => {
    await setup();
    const c = await connect();
    await c.request({ type: 'subscribe', filters: { endpoint: '/kept' } }, 'subscribed');
    const bad: [string | Buffer, RegExp][] = [
      ['not json', /Invalid JSON/],
      ['[]', /JSON object/],
      ['42', /JSON object/],
      [JSON.stringify({ type: 'dance' }), /"dance"/],
      [JSON.stringify({ type: 'subscribe', filters: 'all' }), /filters/],
      [JSON.stringify({ type: 'subscribe', filters: { metric_type: 'gpu' } }), /"gpu"/],
      [JSON.stringify({ type: 'subscribe', filters: { interval: 0 } }), /interval/],
      [JSON.stringify({ type: 'subscribe', filters: { interval: 'soon' } }), /interval.*"soon"/],
      [JSON.stringify({ type: 'subscribe', filters: { region: 'eu' } }), /"region"/],
      [JSON.stringify({ type: 'subscribe', filters: { endpoint: 7 } }), /endpoint.*7/],
      [JSON.stringify({ type: 'subscribe', filters: { model: null } }), /model/],
    ];
    for (const [frame, message] of bad) {
      const r = await c.request(frame, 'error');
      expect(r.message).toMatch(message);
      expect(typeof r.timestamp).toBe('number');
    }
    c.ws.send(Buffer.from('{"type":"ping"}'), { binary: true });
    expect((await c.next('error')).message.message).toMatch(/binary/);
    // Nothing changed, and the connection is still open.
    const r = await c.request({ type: 'subscribe' }, 'subscribed');
    expect(r.filters).toEqual({ endpoints: ['/kept'], models: [], nodes: [], metric_types: ['all'], interval: 1 });
    expect(c.ws.readyState).toBe(WebSocket.OPEN);
  });

  it('answers ping with pong', async () => {
    await setup();
    const c = await connect();
    const r = await c.request({ type: 'ping' }, 'pong');
    expect(Object.keys(r).sort()).toEqual(['timestamp', 'type']);
  });

  it('answers unsubscribe and resets every filter, the interval included', async () => {
    await setup();
    const c = await connect();
    await c.request({ type: 'subscribe', filters: { endpoint: '/a', model: 'm', metric_type: 'cache', interval: 7 } }, 'subscribed');
    const r = await c.request({ type: 'unsubscribe' }, 'unsubscribed');
    expect(Object.keys(r).sort()).toEqual(['timestamp', 'type']);
    const echoed = await c.request({ type: 'subscribe' }, 'subscribed');
    expect(echoed.filters).toEqual({ endpoints: [], models: [], nodes: [], metric_types: ['all'], interval: 1 });
  });
});

describe('metrics_update', () => {
  it('holds only the subscribed metric types, with deltas only for those in view', async () => {
    await setup();
    tick();
    const c = await connect();
    await c.request({ type: 'subscribe', filters: { metric_type: 'latency', interval: 0.1 } }, 'subscribed');
    const latency = (await c.next('metrics_update')).message;
    expect(Object.keys(latency.data)).toEqual(['latency']);
    expect(latency.deltas).toEqual({});
    await c.request({ type: 'subscribe', filters: { metric_types: ['streaming', 'queue'] } }, 'subscribed');
    const more = (await c.next('metrics_update')).message;
    expect(Object.keys(more.data).sort()).toEqual(['latency', 'queue', 'streaming']);
    expect(Object.keys(more.deltas)).toEqual(['streaming']);
  });

  it('keeps only the filtered endpoints in every per-endpoint map', async () => {
    await setup();
    tick();
    const c = await connect();
    await c.request({ type: 'subscribe', filters: { endpoint: '/v1/embeddings', interval: 0.1 } }, 'subscribed');
    const { data } = (await c.next('metrics_update')).message;
    for (const map of [data.throughput.requests_per_sec, data.throughput.responses_per_sec, data.throughput.tokens_per_sec, data.error.errors_per_sec, data.cache.by_endpoint]) {
      expect(Object.keys(map)).toEqual(['/v1/embeddings']);
    }
    expect(data.throughput.total_requests_per_sec).toBe(2);
  });

  it('applies a model filter to every figure, totals and gauges included', async () => {
    await setup();
    tick();
    const c = await connect();
    await c.request({ type: 'subscribe', filters: { model: 'llama', interval: 0.1 } }, 'subscribed');
    const { data } = (await c.next('metrics_update')).message;
    expect(data.throughput.total_requests_per_sec).toBe(4);
    expect(data.throughput.total_tokens_per_sec).toBe(40);
    expect(data.queue).toEqual({ queue_depth: 1, active_streams: 1 });
    expect(data.streaming.active_streams).toBe(1);
    expect(data.error.total_errors_per_sec).toBe(0);
  });

  it('gives deltas from historical_data first, then from the previous update', async () => {
    await setup();
    await bus.publish(encodeSnapshot(snapshot(Math.floor(Date.now() / TEST_TICK_MS) - 1, CELLS)));
    const c = await connect();
    const hist = (await c.next('historical_data')).message;
    expect(hist.data.throughput.total_requests_per_sec).toBe(16);
    await c.request({ type: 'subscribe', filters: { interval: 0.1 } }, 'subscribed');
    // Each snapshot adds 1 request/s and 1 active stream on an extra cell.
    tick((n) => [...CELLS, cell('/v1/embeddings', 'extra', { requests: 10 * (n + 1), activeStreams: n + 1 })]);
    const first = (await c.next('metrics_update')).message;
    const second = (await c.next('metrics_update')).message;
    const req = (m: typeof first) => m.data.throughput.total_requests_per_sec;
    const streams = (m: typeof first) => m.data.streaming.active_streams;
    expect(first.deltas.throughput.total_requests_per_sec).toBeCloseTo(req(first) - req(hist), 9);
    expect(first.deltas.throughput.total_tokens_per_sec).toBeCloseTo(0, 9);
    expect(first.deltas.streaming.active_streams_delta).toBe(streams(first) - streams(hist));
    expect(second.deltas.throughput.total_requests_per_sec).toBeCloseTo(req(second) - req(first), 9);
    expect(second.deltas.streaming.active_streams_delta).toBe(streams(second) - streams(first));
    expect(second.deltas.streaming.active_streams_delta).toBe(1);
  });

  it('comes no sooner than one interval after connect and after subscribe, then every interval', async () => {
    await setup();
    tick();
    const c = await connect();
    const opened = performance.now();
    const firstAfterConnect = await c.next('metrics_update', 3000);
    expect(firstAfterConnect.at - opened).toBeGreaterThanOrEqual(1000);
    // Then the first snapshot on its view's phase: at most a tick short of another interval later.
    expect(firstAfterConnect.at - opened).toBeLessThan(1000 + (1000 - TEST_TICK_MS) + 3 * TEST_TICK_MS + 200);

    const sent = performance.now();
    c.send({ type: 'subscribe', filters: { interval: 0.3 } });
    const reply = await c.next('subscribed');
    expect(reply.at - sent).toBeLessThan(300); // the reply does not wait for the schedule
    const updates = [await c.next('metrics_update'), await c.next('metrics_update'), await c.next('metrics_update')];
    expect(updates[0]!.at - sent).toBeGreaterThanOrEqual(300);
    // Every interval: three ticks apart by snapshot build time.
    const stamps = updates.map((u) => u.message.timestamp);
    expect(stamps[1]! - stamps[0]!).toBeCloseTo(0.3, 6);
    expect(stamps[2]! - stamps[1]!).toBeCloseTo(0.3, 6);
  });

  it('sends the clients of one view at one interval the same snapshots, whenever they subscribed, building it once an interval', async () => {
    await setup();
    tick();
    const [a, b] = [await connect(), await connect()];
    const filters = { endpoint: '/v1/chat/completions', interval: 3 * (TEST_TICK_MS / 1000) };
    await a.request({ type: 'subscribe', filters }, 'subscribed');
    // A tick and a half apart: on the clock's schedules alone they would be due on different snapshots.
    await new Promise((resolve) => setTimeout(resolve, 1.5 * TEST_TICK_MS));
    await b.request({ type: 'subscribe', filters }, 'subscribed');
    const builds = await counter('pulse_gateway_view_builds_total');
    const fromB: number[] = [];
    for (let i = 0; i < 6; i++) fromB.push((await b.next('metrics_update')).message.timestamp);
    const built = (await counter('pulse_gateway_view_builds_total')) - builds;
    const fromA: number[] = [];
    while ((fromA.at(-1) ?? 0) < fromB.at(-1)!) fromA.push((await a.next('metrics_update')).message.timestamp);
    expect(fromA.slice(-6)).toEqual(fromB);
    // Six intervals of three ticks: about six builds of the view (not twelve, one for each client's ticks).
    expect(built).toBeGreaterThanOrEqual(5);
    expect(built).toBeLessThanOrEqual(8);
  });

  it('times each snapshot it applies and each fan-out in its self-metrics', async () => {
    await setup();
    tick();
    const c = await connect();
    await c.request({ type: 'subscribe', filters: { interval: TEST_TICK_MS / 1000 } }, 'subscribed');
    for (let i = 0; i < 3; i++) await c.next('metrics_update');
    const text = await (await fetch(`${gw.http}/metrics`)).text();
    const series = (suffix: string, phase: string) => Number(new RegExp(`^pulse_gateway_snapshot_seconds_${suffix}\\{phase="${phase}"\\} (\\S+)$`, 'm').exec(text)?.[1]);
    // Every snapshot is applied; those with a client due are fanned out too, at least the three this client got.
    expect(series('count', 'apply')).toBeGreaterThanOrEqual(3);
    expect(series('count', 'fanout')).toBeGreaterThanOrEqual(3);
    expect(series('count', 'apply')).toBeGreaterThanOrEqual(series('count', 'fanout'));
    for (const phase of ['apply', 'fanout']) {
      expect(series('sum', phase)).toBeGreaterThan(0);
      expect(series('sum', phase)).toBeLessThan(series('count', phase));
    }
  });

  it('sends byte-identical frames to clients with the same view', async () => {
    await setup();
    tick();
    const [a, b] = [await connect(), await connect()];
    for (const c of [a, b]) await c.request({ type: 'subscribe', filters: { endpoint: '/v1/chat/completions', interval: 0.1 } }, 'subscribed');
    // Both subscribed before the same snapshot; compare the frames built from one snapshot.
    const fromA = [await a.next('metrics_update'), await a.next('metrics_update'), await a.next('metrics_update')];
    const last = fromA[2]!.message.timestamp;
    let fromB = await b.next('metrics_update');
    while (fromB.message.timestamp < last) fromB = await b.next('metrics_update');
    expect(fromB.raw.equals(fromA[2]!.raw)).toBe(true);
  });
});
