/**
 * The runs and annotations routes over real HTTP, on the Redis store: the
 * life of a run, validation, write and read tokens, exports read back to
 * the figures they were made from, and runs that outlive a gateway and are
 * the same on two. Exports read a recording history reader here, serving
 * points made from real views; test/e2e/runs.test.ts goes through the real
 * history.
 */
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { figureOf, type Figure } from '@pulse/alerts';
import { HistoryQueryError, type HistoryAnswer, type HistoryQuery, type HistoryReader, type HistorySummary } from '@pulse/history';
import { METRIC_TYPES, runsKeys, type RunsKeys, type SnapshotData } from '@pulse/protocol';
import { connectRedis, MemorySnapshotBus, RedisRunsStore, silentLogger, type RedisConnection, type Run, type RunsStore } from '@pulse/runtime';
import { startTestRedis, uniquePrefix, type TestRedis } from '@pulse/test-support/redis';
import { realPoints, type FullPoint } from '@pulse/test-support/runs';
import { parseGatewayConfig } from './config.js';
import { createGateway, type Gateway } from './gateway.js';
import { parseCsv, TIME_COLUMNS } from './run-export.js';

let redis: TestRedis;
const connections: RedisConnection[] = [];
beforeAll(async () => {
  redis = await startTestRedis();
});
afterAll(async () => {
  for (const c of connections) c.disconnect();
  await redis?.stop();
});

const WRITE = 'runs-write-token-0123456789';
const READ = 'runs-read-token-0123456789';
const T0 = 1_765_000_000;

/** A history reader that records what it is asked and answers from `points`, with only the types asked for. */
class RecordingHistory implements HistoryReader {
  readonly queries: HistoryQuery[] = [];
  constructor(readonly points: FullPoint[]) {}
  async query(q: HistoryQuery): Promise<HistoryAnswer> {
    this.queries.push(q);
    const points = this.points
      .filter((p) => p.timestamp >= q.since && p.timestamp <= q.until)
      .map((p) => ({ timestamp: p.timestamp, data: Object.fromEntries(q.types.map((t) => [t, p.data[t]])) as Partial<SnapshotData> }));
    return { step: q.step ?? 1, points };
  }
  /** The newest point of the span, as if it summed it: the route's part is what it asks and passes on. */
  async summary(q: Omit<HistoryQuery, 'step'>): Promise<HistorySummary | null> {
    const { points } = await this.query(q);
    const last = points[points.length - 1];
    return last ? { since: q.since, until: q.until, data: last.data } : null;
  }
}

interface Running {
  gateway: Gateway;
  http: string;
  history: RecordingHistory;
  clock: { now: number };
}

const running: Running[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((r) => r.gateway.close()));
});

async function storeOn(keys: RunsKeys): Promise<RedisRunsStore> {
  const c = connectRedis(redis.url, 'producer', 'runs-routes-test', silentLogger());
  connections.push(c);
  await once(c, 'ready');
  return new RedisRunsStore(c, keys);
}

/** A gateway on port 0 whose runs are under `keys`, its wall clock at `clock.now`. */
async function gatewayOn(keys: RunsKeys, env: Record<string, string> = {}, points: FullPoint[] = [], pointsPerQuery?: number, store?: RunsStore): Promise<Running> {
  const config = parseGatewayConfig({ PULSE_TICK_MS: '100', PORT: '0', HOST: '127.0.0.1', ...env });
  const clock = { now: T0 };
  const history = new RecordingHistory(points);
  const gateway = createGateway({
    config,
    feed: new MemorySnapshotBus(),
    logger: silentLogger(),
    clock: { nowMs: () => performance.now(), epochSeconds: () => clock.now },
    runs: { store: store ?? (await storeOn(keys)), history, ...(pointsPerQuery !== undefined && { pointsPerQuery }) },
  });
  await new Promise<void>((resolve) => gateway.server.listen(0, '127.0.0.1', resolve));
  const r = { gateway, http: `http://127.0.0.1:${(gateway.server.address() as AddressInfo).port}`, history, clock };
  running.push(r);
  return r;
}

interface Reply {
  status: number;
  headers: Headers;
  body: any;
  text: string;
}

async function call(url: string, method = 'GET', body?: unknown, headers: Record<string, string> = {}): Promise<Reply> {
  const init: RequestInit = { method, headers: { ...(body !== undefined && typeof body !== 'string' && { 'content-type': 'application/json' }), ...headers } };
  if (body !== undefined) init.body = typeof body === 'string' ? body : JSON.stringify(body);
  const res = await fetch(url, init);
  const text = await res.text();
  let parsed: unknown = null;
  try {
    parsed = JSON.parse(text);
  } catch {
    // not JSON: an export
  }
  return { status: res.status, headers: res.headers, body: parsed, text };
}

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

describe('runs over REST', () => {
  it('starts, shows, lists and stops a run; a second stop is a 409, an unknown id a 404', async () => {
    const gw = await gatewayOn(runsKeys(uniquePrefix()));
    const started = await call(`${gw.http}/v1/runs`, 'POST', { name: 'baseline', labels: { model: 'gpt-4', qps: '50' } });
    expect(started.status).toBe(201);
    const run = started.body as Run;
    expect(run).toEqual({ id: expect.any(String), name: 'baseline', labels: { model: 'gpt-4', qps: '50' }, started_at: T0 });

    gw.clock.now = T0 + 5;
    const second = (await call(`${gw.http}/v1/runs`, 'POST', { name: 'tuned' })).body as Run;
    expect(second.labels).toEqual({});
    expect((await call(`${gw.http}/v1/runs/${run.id}`)).body).toEqual(run);
    expect((await call(`${gw.http}/v1/runs`)).body).toEqual({ runs: [second, run] });

    gw.clock.now = T0 + 60;
    const stopped = await call(`${gw.http}/v1/runs/${run.id}/stop`, 'POST');
    expect(stopped).toMatchObject({ status: 200, body: { ...run, stopped_at: T0 + 60 } });
    gw.clock.now = T0 + 70;
    const again = await call(`${gw.http}/v1/runs/${run.id}/stop`, 'POST');
    expect(again.status).toBe(409);
    expect(again.body).toEqual({ code: 'conflict', error: `run ${run.id} was stopped already, at ${new Date((T0 + 60) * 1000).toISOString()}` });
    expect((await call(`${gw.http}/v1/runs/${run.id}`)).body.stopped_at).toBe(T0 + 60);

    for (const [method, path] of [
      ['GET', '/v1/runs/run-999'],
      ['POST', '/v1/runs/run-999/stop'],
      ['GET', '/v1/runs/run-999/export'],
    ] as const) {
      const reply = await call(`${gw.http}${path}`, method);
      expect([reply.status, reply.body.code, reply.body.error]).toEqual([404, 'not_found', 'no run run-999']);
    }
  });

  it('answers HEAD like GET without the body, and a wrong method with 405 and the methods allowed', async () => {
    const gw = await gatewayOn(runsKeys(uniquePrefix()));
    const del = await call(`${gw.http}/v1/runs`, 'DELETE');
    expect([del.status, del.headers.get('allow')]).toEqual([405, 'GET, HEAD, POST']);
    const getStop = await call(`${gw.http}/v1/runs/run-1/stop`);
    expect([getStop.status, getStop.headers.get('allow')]).toEqual([405, 'POST']);
    const postRun = await call(`${gw.http}/v1/runs/run-1`, 'POST');
    expect([postRun.status, postRun.headers.get('allow')]).toEqual([405, 'GET, HEAD']);
    // HEAD: a GET's status and headers, no body.
    const { body: run } = await call(`${gw.http}/v1/runs`, 'POST', { name: 'x' });
    const head = await fetch(`${gw.http}/v1/runs/${run.id}`, { method: 'HEAD' });
    expect([head.status, head.headers.get('content-type'), await head.text()]).toEqual([200, 'application/json; charset=utf-8', '']);
    expect(Number(head.headers.get('content-length'))).toBe(JSON.stringify(run).length);
    expect((await fetch(`${gw.http}/v1/runs/run-404`, { method: 'HEAD' })).status).toBe(404);
    expect((await call(`${gw.http}/v1/runs/run-1/nope`)).status).toBe(404);
  });

  it('refuses a bad body with a 400 naming the field', async () => {
    const gw = await gatewayOn(runsKeys(uniquePrefix()));
    const cases: [string, unknown, string][] = [
      ['/v1/runs', {}, 'name: is required'],
      ['/v1/runs', { name: '' }, 'name: must not be empty'],
      ['/v1/runs', { name: 'n'.repeat(129) }, 'name: longer than 128 characters'],
      ['/v1/runs', { name: 'x', labels: ['a'] }, 'labels: must be an object of strings'],
      ['/v1/runs', { name: 'x', labels: { qps: 50 } }, 'labels.qps: must be a string'],
      ['/v1/runs', { name: 'x', labels: { qps: 'v'.repeat(257) } }, 'labels.qps: longer than 256 characters'],
      ['/v1/runs', { name: 'x', colour: 'red' }, 'colour: unknown field (expected name, labels)'],
      ['/v1/runs', '{"name": ', 'body: not valid JSON'],
      ['/v1/runs', '[1]', 'body: must be a JSON object'],
      ['/v1/annotations', { text: '' }, 'text: must not be empty'],
      ['/v1/annotations', { text: 't'.repeat(1025) }, 'text: longer than 1024 characters'],
      ['/v1/annotations', { text: 'x', timestamp: 'now' }, 'timestamp: must be seconds since the epoch (a number ≥ 0)'],
      ['/v1/annotations', { text: 'x', run_id: 'run-404' }, 'run_id: no run run-404'],
    ];
    for (const [path, body, error] of cases) {
      const reply = await call(`${gw.http}${path}`, 'POST', body, { 'content-type': 'application/json' });
      expect([reply.status, reply.body], JSON.stringify(body)).toEqual([400, { code: 'invalid_body', error }]);
    }
    const xml = await call(`${gw.http}/v1/runs`, 'POST', '<run/>', { 'content-type': 'application/xml' });
    expect([xml.status, xml.body.code]).toEqual([415, 'unsupported_media_type']);
    const big = await call(`${gw.http}/v1/runs`, 'POST', { name: 'x', labels: { a: 'v'.repeat(20_000) } });
    expect([big.status, big.body.code]).toEqual([413, 'body_too_large']);
    expect((await call(`${gw.http}/v1/runs`)).body).toEqual({ runs: [] });
  });

  it('refuses bad export parameters with a 400 naming them', async () => {
    const gw = await gatewayOn(runsKeys(uniquePrefix()));
    const { id } = (await call(`${gw.http}/v1/runs`, 'POST', { name: 'x' })).body as Run;
    gw.clock.now = T0 + 3600;
    for (const [query, error] of [
      ['format=xlsx', 'format: must be csv or jsonl, not xlsx'],
      ['step=-1', 'step: not a positive duration (seconds, or 500ms, 5s, 1m, 1h): -1'],
      ['step=1ms', `step: 0.001 s gives more than 100000 points over the run's 3600 s; ask for a coarser one`],
      ['metric_type=latency&metric_type=speed', 'metric_type: unknown type speed (expected one of throughput, latency, cache, queue, streaming, error, slo, nodes, or all)'],
    ]) {
      const reply = await call(`${gw.http}/v1/runs/${id}/export?${query}`);
      expect([reply.status, reply.body], query).toEqual([400, { code: 'invalid_body', error }]);
    }
    expect(gw.history.queries).toEqual([]);
  });

  it('keeps annotations and lists them by time and by run', async () => {
    const gw = await gatewayOn(runsKeys(uniquePrefix()));
    const { id } = (await call(`${gw.http}/v1/runs`, 'POST', { name: 'x' })).body as Run;
    gw.clock.now = T0 + 10;
    const now = await call(`${gw.http}/v1/annotations`, 'POST', { text: 'scaled to 4 nodes', run_id: id });
    expect(now).toMatchObject({ status: 201, body: { id: expect.any(String), text: 'scaled to 4 nodes', timestamp: T0 + 10, run_id: id } });
    const past = (await call(`${gw.http}/v1/annotations`, 'POST', { text: 'deploy', timestamp: T0 - 100 })).body;
    expect((await call(`${gw.http}/v1/annotations`)).body).toEqual({ annotations: [past, now.body] });
    expect((await call(`${gw.http}/v1/annotations?since=${T0}`)).body).toEqual({ annotations: [now.body] });
    expect((await call(`${gw.http}/v1/annotations?until=${T0}`)).body).toEqual({ annotations: [past] });
    expect((await call(`${gw.http}/v1/annotations?run_id=${id}`)).body).toEqual({ annotations: [now.body] });
    const bad = await call(`${gw.http}/v1/annotations?since=yesterday`);
    expect([bad.status, bad.body.error]).toEqual([400, 'since: not seconds since the epoch: yesterday']);
  });
});

describe('run exports', () => {
  /** A run from T0 to T0 + 10 over points every second from T0 − 2 to T0 + 12: the export holds T0 … T0 + 10. */
  async function recordedRun(): Promise<{ gw: Running; run: Run; inRun: FullPoint[] }> {
    const points = realPoints(15, T0 - 2);
    const gw = await gatewayOn(runsKeys(uniquePrefix()), {}, points);
    const run = (await call(`${gw.http}/v1/runs`, 'POST', { name: 'export me' })).body as Run;
    gw.clock.now = T0 + 10;
    await call(`${gw.http}/v1/runs/${run.id}/stop`, 'POST');
    return { gw, run: { ...run, stopped_at: T0 + 10 }, inRun: points.filter((p) => p.timestamp >= T0 && p.timestamp <= T0 + 10) };
  }

  it('exports CSV over [started_at, stopped_at] that reads back to the figures of the points', async () => {
    const { gw, run, inRun } = await recordedRun();
    const reply = await call(`${gw.http}/v1/runs/${run.id}/export?format=csv&step=1s`);
    expect(reply.status).toBe(200);
    expect(reply.headers.get('content-type')).toBe('text/csv; charset=utf-8');
    expect(reply.headers.get('content-disposition')).toBe(`attachment; filename="${run.id}.csv"`);
    expect(gw.history.queries).toEqual([{ since: T0, until: T0 + 10, step: 1, filter: { endpoints: new Set(), models: new Set(), nodes: new Set() }, types: METRIC_TYPES }]);
    const { columns, rows } = parseCsv(reply.text);
    expect(columns).toContain('slo_attainment_pct:interactive');
    expect(rows).toHaveLength(11);
    rows.forEach((row, i) => {
      const point = inRun[i]!;
      expect(row.timestamp).toBe(point.timestamp);
      for (const c of columns.slice(TIME_COLUMNS.length)) expect(row.figures[c], c).toBe(figureOf(point.data, c as Figure));
    });
  });

  it('exports JSON lines, one {timestamp, data} per point, with the filters and types asked for', async () => {
    const { gw, run, inRun } = await recordedRun();
    const reply = await call(`${gw.http}/v1/runs/${run.id}/export?format=jsonl&step=2&endpoint=/v1/chat/completions&model=gpt-4&model=llama&node=n1&metric_type=latency&metric_type=streaming`);
    expect(reply.status).toBe(200);
    expect(reply.headers.get('content-type')).toBe('application/x-ndjson; charset=utf-8');
    expect(gw.history.queries[0]).toEqual({
      since: T0,
      until: T0 + 10,
      step: 2,
      filter: { endpoints: new Set(['/v1/chat/completions']), models: new Set(['gpt-4', 'llama']), nodes: new Set(['n1']) },
      types: ['latency', 'streaming'],
    });
    const lines = reply.text.trimEnd().split('\n').map((l) => JSON.parse(l) as { timestamp: number; data: Partial<SnapshotData> });
    expect(lines).toEqual(inRun.map((p) => ({ timestamp: p.timestamp, data: { latency: p.data.latency, streaming: p.data.streaming } })));
  });

  it('asks history in parts when the step gives more points than one query answers, and gets the same file', async () => {
    const points = realPoints(15, T0 - 2);
    const whole = await gatewayOn(runsKeys(uniquePrefix()), {}, points);
    const parts = await gatewayOn(runsKeys(uniquePrefix()), {}, points, 4);
    const files: string[] = [];
    for (const gw of [whole, parts]) {
      const run = (await call(`${gw.http}/v1/runs`, 'POST', { name: 'parts' })).body as Run;
      gw.clock.now = T0 + 10;
      files.push((await call(`${gw.http}/v1/runs/${run.id}/export?step=1`)).text);
    }
    expect(parts.history.queries.map((q) => [q.since, q.until])).toEqual([
      [T0, T0 + 3],
      [T0 + 4, T0 + 7],
      [T0 + 8, T0 + 10],
    ]);
    expect(parseCsv(files[1]!).rows).toHaveLength(11);
    expect(files[1]).toBe(files[0]);
  });

  it('answers a query history refuses with a 400 naming the parameter', async () => {
    const gw = await gatewayOn(runsKeys(uniquePrefix()));
    gw.history.query = async () => {
      throw new HistoryQueryError('step', 'expected a multiple of 0.5s or 5s');
    };
    const run = (await call(`${gw.http}/v1/runs`, 'POST', { name: 'x' })).body as Run;
    const reply = await call(`${gw.http}/v1/runs/${run.id}/export?step=0.7`);
    expect([reply.status, reply.body]).toEqual([400, { code: 'invalid_body', error: 'step: expected a multiple of 0.5s or 5s' }]);
  });

  it('exports a run still going on up to now, and only the columns of the metric types asked for', async () => {
    const points = realPoints(8, T0);
    const gw = await gatewayOn(runsKeys(uniquePrefix()), {}, points);
    const run = (await call(`${gw.http}/v1/runs`, 'POST', { name: 'live' })).body as Run;
    gw.clock.now = T0 + 4;
    const reply = await call(`${gw.http}/v1/runs/${run.id}/export?metric_type=error`);
    expect(gw.history.queries[0]).toMatchObject({ since: T0, until: T0 + 4 });
    expect(gw.history.queries[0]).not.toHaveProperty('step');
    const { columns, rows } = parseCsv(reply.text);
    expect(columns).toEqual([...TIME_COLUMNS, 'errors_per_sec', 'error_rate_pct']);
    expect(rows.map((r) => r.timestamp)).toEqual([T0, T0 + 1, T0 + 2, T0 + 3, T0 + 4]);
  });
});

describe('runs and tokens', () => {
  it('needs a write token to write when PULSE_WRITE_TOKENS is set, like ingest; reads stay open without read tokens', async () => {
    const gw = await gatewayOn(runsKeys(uniquePrefix()), { PULSE_WRITE_TOKENS: WRITE });
    const none = await call(`${gw.http}/v1/runs`, 'POST', { name: 'x' });
    expect([none.status, none.body.code, none.headers.get('www-authenticate')]).toEqual([401, 'unauthorized', 'Bearer realm="pulse"']);
    const wrong = await call(`${gw.http}/v1/runs`, 'POST', { name: 'x' }, bearer(READ));
    expect([wrong.status, wrong.headers.get('www-authenticate')]).toEqual([401, 'Bearer realm="pulse", error="invalid_token"']);
    expect(JSON.stringify(wrong.body)).not.toContain(READ);
    const run = await call(`${gw.http}/v1/runs`, 'POST', { name: 'x' }, bearer(WRITE));
    expect(run.status).toBe(201);
    expect((await call(`${gw.http}/v1/runs/${run.body.id}/stop`, 'POST')).status).toBe(401);
    expect((await call(`${gw.http}/v1/annotations`, 'POST', { text: 'x' })).status).toBe(401);
    expect((await call(`${gw.http}/v1/runs/${run.body.id}/stop`, 'POST', undefined, bearer(WRITE))).status).toBe(200);
    expect((await call(`${gw.http}/v1/annotations`, 'POST', { text: 'x' }, bearer(WRITE))).status).toBe(201);
    expect((await call(`${gw.http}/v1/runs`)).status).toBe(200);
    expect((await call(`${gw.http}/v1/annotations`)).status).toBe(200);
    // Refusals count where the gateway's other refusals do.
    expect((await call(`${gw.http}/metrics/limits`)).text).toMatch(/reason="unauthorized"} [3-9]/);
  });

  it('reads with a read token like /metrics/*, writes with a write token when both are set', async () => {
    const gw = await gatewayOn(runsKeys(uniquePrefix()), { PULSE_WRITE_TOKENS: WRITE, PULSE_READ_TOKENS: READ });
    expect((await call(`${gw.http}/v1/runs`, 'POST', { name: 'x' }, bearer(READ))).status).toBe(401);
    const { body: run } = await call(`${gw.http}/v1/runs`, 'POST', { name: 'x' }, bearer(WRITE));
    expect((await call(`${gw.http}/v1/runs`)).status).toBe(401);
    expect((await call(`${gw.http}/v1/runs`, 'GET', undefined, bearer(WRITE))).status).toBe(401);
    expect((await call(`${gw.http}/v1/runs`, 'GET', undefined, bearer(READ))).body).toEqual({ runs: [run] });
    expect((await call(`${gw.http}/v1/runs/${run.id}?token=${READ}`)).body).toEqual(run);
    expect((await call(`${gw.http}/v1/runs/${run.id}/export`)).status).toBe(401);
    expect((await call(`${gw.http}/v1/annotations`)).status).toBe(401);
  });

  it('applies the read rules to writes when only read tokens are set, so writes are never more open than reads', async () => {
    const gw = await gatewayOn(runsKeys(uniquePrefix()), { PULSE_READ_TOKENS: READ });
    expect((await call(`${gw.http}/v1/runs`, 'POST', { name: 'x' })).status).toBe(401);
    expect((await call(`${gw.http}/v1/runs`, 'POST', { name: 'x' }, bearer(READ))).status).toBe(201);
  });

  it('refuses an origin outside PULSE_ALLOWED_ORIGINS with 403, and answers a preflight for one inside', async () => {
    const gw = await gatewayOn(runsKeys(uniquePrefix()), { PULSE_ALLOWED_ORIGINS: 'https://dash.example.com' });
    const evil = await call(`${gw.http}/v1/runs`, 'POST', { name: 'x' }, { origin: 'https://evil.example.com' });
    expect([evil.status, evil.body.code]).toEqual([403, 'forbidden_origin']);
    expect((await call(`${gw.http}/v1/runs`, 'GET', undefined, { origin: 'https://evil.example.com' })).status).toBe(403);
    const preflight = await fetch(`${gw.http}/v1/runs`, { method: 'OPTIONS', headers: { origin: 'https://dash.example.com', 'access-control-request-method': 'POST' } });
    expect(preflight.status).toBe(204);
    expect(preflight.headers.get('access-control-allow-origin')).toBe('https://dash.example.com');
    expect(preflight.headers.get('access-control-allow-methods')).toBe('GET, HEAD, POST');
    expect(preflight.headers.get('access-control-allow-headers')).toBe('Authorization, Content-Type');
    const ok = await call(`${gw.http}/v1/runs`, 'POST', { name: 'x' }, { origin: 'https://dash.example.com' });
    expect([ok.status, ok.headers.get('access-control-allow-origin')]).toEqual([201, 'https://dash.example.com']);
  });
});

describe('runs when Redis is away', () => {
  it('answers 503 store_unavailable, to try again, when the store refuses a command', async () => {
    const keys = runsKeys(uniquePrefix());
    const connection = connectRedis(redis.url, 'producer', 'runs-routes-down', silentLogger());
    await once(connection, 'ready');
    const gw = await gatewayOn(keys, {}, [], undefined, new RedisRunsStore(connection, keys));
    connection.disconnect();
    for (const [method, path] of [
      ['POST', '/v1/runs'],
      ['GET', '/v1/runs'],
      ['GET', '/v1/annotations'],
    ] as const) {
      const reply = await call(`${gw.http}${path}`, method, method === 'POST' ? { name: 'x' } : undefined);
      expect([reply.status, reply.body.code, reply.headers.get('retry-after')], path).toEqual([503, 'store_unavailable', '1']);
    }
  });
});

describe('runs across gateways', () => {
  it('are the same on two gateways of one deployment, and a stop on one is a 409 on the other', async () => {
    const keys = runsKeys(uniquePrefix());
    const [a, b] = await Promise.all([gatewayOn(keys), gatewayOn(keys)]);
    const run = (await call(`${a.http}/v1/runs`, 'POST', { name: 'shared', labels: { env: 'staging' } })).body as Run;
    await call(`${b.http}/v1/annotations`, 'POST', { text: 'from b', run_id: run.id });
    expect((await call(`${b.http}/v1/runs`)).body).toEqual({ runs: [run] });
    b.clock.now = T0 + 30;
    expect((await call(`${b.http}/v1/runs/${run.id}/stop`, 'POST')).status).toBe(200);
    expect((await call(`${a.http}/v1/runs/${run.id}/stop`, 'POST')).status).toBe(409);
    expect((await call(`${a.http}/v1/runs/${run.id}`)).body).toEqual({ ...run, stopped_at: T0 + 30 });
    expect((await call(`${a.http}/v1/annotations`)).body).toEqual((await call(`${b.http}/v1/annotations`)).body);
  });

  it('survive a gateway restart', async () => {
    const keys = runsKeys(uniquePrefix());
    const first = await gatewayOn(keys);
    const run = (await call(`${first.http}/v1/runs`, 'POST', { name: 'before restart' })).body as Run;
    const note = (await call(`${first.http}/v1/annotations`, 'POST', { text: 'before restart', run_id: run.id })).body;
    await first.gateway.close();
    const second = await gatewayOn(keys);
    expect((await call(`${second.http}/v1/runs`)).body).toEqual({ runs: [run] });
    expect((await call(`${second.http}/v1/annotations`)).body).toEqual({ annotations: [note] });
    second.clock.now = T0 + 5;
    expect((await call(`${second.http}/v1/runs/${run.id}/stop`, 'POST')).body).toEqual({ ...run, stopped_at: T0 + 5 });
  });

  it('are a deployment\'s: another key prefix has none of them', async () => {
    const a = await gatewayOn(runsKeys(uniquePrefix()));
    const b = await gatewayOn(runsKeys(uniquePrefix()));
    await call(`${a.http}/v1/runs`, 'POST', { name: 'mine' });
    expect((await call(`${b.http}/v1/runs`)).body).toEqual({ runs: [] });
  });
});
