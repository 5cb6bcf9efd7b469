import { spawnSync } from 'node:child_process';
import { request } from 'node:http';
import { gunzipSync } from 'node:zlib';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { COUNTER_SLOT, CUMULATIVE_SLOT_COUNT, encodeSnapshot, HISTOGRAM_SLOTS, zeroCumulative, type CellData } from '@pulse/protocol';
import { MemorySnapshotBus } from '@pulse/runtime';
import { cell, snapshot, startGateway, type RunningGateway } from '@pulse/test-support/gateway';
import { acceptsGzip } from './http-routes.js';
import { prometheusText, PrometheusExport, pulseExposition } from './prometheus-export.js';

/** A cell with 3 requests on two nodes' worth of cumulative slots. */
function counted(node: string, endpoint: string, model: string, latencyBuckets: Record<number, number>) {
  const cumulative = zeroCumulative();
  cumulative[COUNTER_SLOT.requests] = 3;
  cumulative[COUNTER_SLOT.errors] = 1;
  for (const [bucket, n] of Object.entries(latencyBuckets)) cumulative[HISTOGRAM_SLOTS.latency.first + Number(bucket)] = n;
  cumulative[HISTOGRAM_SLOTS.latency.sum] = 1_500_000; // 1.5 s
  return { ...cell(endpoint, model, { responses: 4, sloGood: [3], queueDepth: 2 }), node, cumulative };
}

const sample = (text: string, series: string) => text.split('\n').find((l) => l.startsWith(`${series} `))?.split(' ')[1];

describe('GET /metrics/prometheus exposition', () => {
  const text = prometheusText({
    slos: ['interactive'],
    cells: [
      counted('n1', '/v1/chat/completions', 'gpt-4', { 0: 1, 3: 2 }),
      counted('n2', '/v1/chat/completions', 'gpt-4', { 3: 1, 14: 1 }),
      counted('n1', '/v1/"odd"\\path', 'line\nbreak', {}),
    ],
  });

  it('sums the nodes of each endpoint and model, counters and gauges alike', () => {
    expect(sample(text, 'pulse_requests_total{endpoint="/v1/chat/completions",model="gpt-4"}')).toBe('6');
    expect(sample(text, 'pulse_request_errors_total{endpoint="/v1/chat/completions",model="gpt-4"}')).toBe('2');
    expect(sample(text, 'pulse_requests_in_flight{endpoint="/v1/chat/completions",model="gpt-4"}')).toBe('4');
    expect(sample(text, 'pulse_slo_attainment_ratio{slo="interactive",endpoint="/v1/chat/completions",model="gpt-4"}')).toBe('0.75');
  });

  it('writes histograms with cumulative le buckets at the GenAI bounds, +Inf equal to the count, sums in seconds', () => {
    const l = 'endpoint="/v1/chat/completions",model="gpt-4"';
    expect(sample(text, `pulse_request_duration_seconds_bucket{${l},le="0.01"}`)).toBe('1');
    expect(sample(text, `pulse_request_duration_seconds_bucket{${l},le="0.04"}`)).toBe('1');
    expect(sample(text, `pulse_request_duration_seconds_bucket{${l},le="0.08"}`)).toBe('4');
    expect(sample(text, `pulse_request_duration_seconds_bucket{${l},le="81.92"}`)).toBe('4');
    expect(sample(text, `pulse_request_duration_seconds_bucket{${l},le="+Inf"}`)).toBe('5');
    expect(sample(text, `pulse_request_duration_seconds_count{${l}}`)).toBe('5');
    expect(sample(text, `pulse_request_duration_seconds_sum{${l}}`)).toBe('3');
  });

  it('escapes label values', () => {
    expect(sample(text, 'pulse_requests_total{endpoint="/v1/\\"odd\\"\\\\path",model="line\\nbreak"}')).toBe('3');
  });

  it('declares every family with no snapshot yet', () => {
    const empty = prometheusText(null);
    expect(empty.match(/^# TYPE /gm)).toHaveLength(13);
    expect(empty.split('\n').filter((l) => l && !l.startsWith('#'))).toEqual([]);
  });

  const promtool = spawnSync('promtool', ['--version']).error ? 'promtool is not installed' : null;
  it.skipIf(promtool !== null)(`passes \`promtool check metrics\`${promtool ? ` — skipped: ${promtool}` : ''}`, () => {
    const run = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
    expect(run.stderr + run.stdout).toBe('');
    expect(run.status).toBe(0);
  });
});

describe('rendering each snapshot from the last one (Exposition)', () => {
  /** A deterministic pseudo-random source, so a failure replays. */
  function random(seed: number) {
    let x = seed;
    return () => ((x = (x * 1103515245 + 12345) % 2147483648) / 2147483648);
  }

  it('gives, snapshot after snapshot, exactly the text of a render from scratch, whatever moved', () => {
    const r = random(7);
    const exposition = pulseExposition();
    let cells: CellData[] = [];
    for (let e = 0; e < 6; e++) for (let m = 0; m < 4; m++) for (const node of ['n1', 'n2']) cells.push({ ...cell(`/v1/e${e}`, `m${m}`, { responses: 3, sloGood: [2, 1] }), node });
    const slos = ['fast', 'slow'];
    for (let tick = 0; tick < 60; tick++) {
      // Some cells' cumulative slots, some cache totals, some window figures; a cell leaving or arriving now and then.
      cells = cells.map((c) => {
        const u = r();
        if (u < 0.1) {
          const cumulative = [...c.cumulative];
          cumulative[Math.floor(r() * CUMULATIVE_SLOT_COUNT)]! += 1 + Math.floor(r() * 5);
          return { ...c, cumulative };
        }
        if (u < 0.15) return { ...c, totalLookups: c.totalLookups + 1, totalHits: c.totalHits + (r() < 0.5 ? 1 : 0) };
        if (u < 0.3) return { ...c, queueDepth: Math.floor(r() * 5), activeStreams: Math.floor(r() * 3), responses: Math.floor(r() * 4), sloGood: [Math.floor(r() * 3), 0] };
        return c;
      });
      if (tick % 10 === 5) cells = cells.filter((c) => c.endpoint !== `/v1/e${tick % 6}` || c.node !== 'n2');
      if (tick % 10 === 8) cells.push({ ...cell(`/v1/new${tick}`, 'm0', { responses: 1, sloGood: [1, 1] }), node: 'n3' });
      const snap = { cells, slos };
      expect(exposition.render(snap)).toBe(prometheusText(snap));
    }
  });

  it('rewrites only the counters and histograms of the series whose figures moved', () => {
    const cells = [counted('n1', '/a', 'x', { 1: 1 }), counted('n1', '/b', 'x', { 1: 1 }), counted('n1', '/c', 'x', { 1: 1 })];
    const exposition = pulseExposition();
    exposition.render({ cells, slos: [] });
    expect(exposition.last).toEqual({ reused: 0, written: 3 });
    const moved = { ...cells[1]!, cumulative: cells[1]!.cumulative.map((v, i) => (i === COUNTER_SLOT.requests ? v + 1 : v)) };
    // A gauge moving alone keeps the series' cached lines: gauges are written afresh every time.
    const gauge = { ...cells[2]!, queueDepth: 9 };
    const text = exposition.render({ cells: [cells[0]!, moved, gauge], slos: [] });
    expect(exposition.last).toEqual({ reused: 2, written: 1 });
    expect(sample(text, 'pulse_requests_total{endpoint="/b",model="x"}')).toBe('4');
    expect(sample(text, 'pulse_requests_in_flight{endpoint="/c",model="x"}')).toBe('9');
    expect(text).toBe(prometheusText({ cells: [cells[0]!, moved, gauge], slos: [] }));
  });
});

describe('the body of a snapshot (PrometheusExport)', () => {
  it('is rendered once per snapshot and gzipped once, the gzip decompressing to the same bytes', async () => {
    const render = vi.fn((snap: { cells: CellData[] } | null) => Buffer.from(prometheusText(snap ? { ...snap, slos: [] } : null)));
    const exported = new PrometheusExport(render);
    const snap = { cells: [counted('n1', '/a', 'x', { 1: 1 })], slos: [] };
    const body = exported.body(snap);
    const [g1, g2] = await Promise.all([exported.gzip(snap), exported.gzip(snap)]);
    expect(g1).toBe(g2);
    expect(exported.body(snap)).toBe(body);
    expect(render).toHaveBeenCalledTimes(1);
    expect(gunzipSync(g1).equals(body)).toBe(true);
    const next = { ...snap };
    exported.body(next);
    expect(render).toHaveBeenCalledTimes(2);
    expect(await exported.gzip(next)).not.toBe(g1);
  });
});

describe('Accept-Encoding', () => {
  it.each([
    ['gzip', true],
    ['gzip, deflate', true],
    ['deflate, gzip;q=0.5', true],
    ['x-gzip', true],
    ['GZIP', true],
    ['*', true],
    ['br;q=1.0, *;q=0.1', true],
    ['gzip;q=0', false],
    ['gzip;q=0.000', false],
    ['*;q=0', false],
    ['gzip;q=0, *', false],
    ['identity', false],
    ['deflate, br', false],
    ['', false],
    [undefined, false],
  ])('%j accepts gzip: %s', (header, accepted) => {
    expect(acceptsGzip(header)).toBe(accepted);
  });
});

describe('GET /metrics/prometheus through a real gateway, gzipped or not', () => {
  const open: RunningGateway[] = [];
  afterEach(async () => {
    await Promise.all(open.splice(0).map((gw) => gw.close()));
  });

  /** A request with exactly these headers (fetch would add its own Accept-Encoding and decompress). */
  const get = (url: string, headers: Record<string, string>, method = 'GET') =>
    new Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: Buffer }>((resolve, reject) => {
      request(url, { method, headers }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks) }));
      })
        .on('error', reject)
        .end();
    });

  it('gzips for a scraper that accepts it, says so in Content-Encoding and Vary, and serves the same text either way', async () => {
    const bus = new MemorySnapshotBus();
    const gw = await startGateway(bus);
    open.push(gw);
    await bus.publish(encodeSnapshot(snapshot(5, [counted('n1', '/v1/chat/completions', 'gpt-4', { 0: 1, 3: 2 })])));
    await vi.waitFor(() => expect(gw.gateway.ready()).toBe(true));
    const url = `${gw.http}/metrics/prometheus`;
    // What Prometheus 2.x sends.
    const gz = await get(url, { 'Accept-Encoding': 'gzip', Accept: 'application/openmetrics-text;version=1.0.0;q=0.5,text/plain;version=0.0.4;q=0.3,*/*;q=0.1' });
    const plain = await get(url, {});
    expect(gz.status).toBe(200);
    expect(gz.headers['content-encoding']).toBe('gzip');
    expect(gz.headers.vary).toBe('Accept-Encoding');
    expect(gz.headers['content-type']).toMatch(/^text\/plain; version=0\.0\.4/);
    expect(Number(gz.headers['content-length'])).toBe(gz.body.length);
    expect(plain.headers['content-encoding']).toBeUndefined();
    expect(plain.headers.vary).toBe('Accept-Encoding');
    expect(Number(plain.headers['content-length'])).toBe(plain.body.length);
    const text = gunzipSync(gz.body).toString();
    expect(text).toBe(plain.body.toString());
    expect(sample(text, 'pulse_requests_total{endpoint="/v1/chat/completions",model="gpt-4"}')).toBe('3');
    expect((await get(url, { 'Accept-Encoding': 'gzip;q=0' })).headers['content-encoding']).toBeUndefined();

    // HEAD: the headers a GET would get, no body.
    const head = await get(url, { 'Accept-Encoding': 'gzip' }, 'HEAD');
    expect(head.headers['content-encoding']).toBe('gzip');
    expect(head.headers['content-length']).toBe(gz.headers['content-length']);
    expect(head.body.length).toBe(0);

    // A browser's request from an allowed origin: CORS's Vary and the encoding's, both.
    const cors = await get(url, { 'Accept-Encoding': 'gzip', Origin: 'http://elsewhere.example' });
    expect(cors.headers['access-control-allow-origin']).toBe('*');
    expect(cors.headers.vary).toBe('Accept-Encoding');
  });

  it('merges Vary with the allowlist\'s Vary: Origin', async () => {
    const bus = new MemorySnapshotBus();
    const gw = await startGateway(bus, { PULSE_ALLOWED_ORIGINS: 'http://dash.example' });
    open.push(gw);
    await bus.publish(encodeSnapshot(snapshot(5, [])));
    await vi.waitFor(() => expect(gw.gateway.ready()).toBe(true));
    const res = await get(`${gw.http}/metrics/prometheus`, { 'Accept-Encoding': 'gzip', Origin: 'http://dash.example' });
    expect(res.headers['access-control-allow-origin']).toBe('http://dash.example');
    expect(res.headers.vary).toBe('Origin, Accept-Encoding');
  });

  const promtool = spawnSync('promtool', ['--version']).error ? 'promtool is not installed' : null;
  it.skipIf(promtool !== null)(`the gzipped body, decompressed, passes \`promtool check metrics\`${promtool ? ` — skipped: ${promtool}` : ''}`, async () => {
    const bus = new MemorySnapshotBus();
    const gw = await startGateway(bus);
    open.push(gw);
    await bus.publish(encodeSnapshot(snapshot(5, [counted('n1', '/v1/chat/completions', 'gpt-4', { 0: 1, 3: 2 }), counted('n2', '/v1/embeddings', 'llama', { 14: 1 })])));
    await vi.waitFor(() => expect(gw.gateway.ready()).toBe(true));
    const gz = await get(`${gw.http}/metrics/prometheus`, { 'Accept-Encoding': 'gzip' });
    expect(gz.headers['content-encoding']).toBe('gzip');
    const run = spawnSync('promtool', ['check', 'metrics'], { input: gunzipSync(gz.body).toString(), encoding: 'utf8' });
    expect(run.stderr + run.stdout).toBe('');
    expect(run.status).toBe(0);
  });
});
