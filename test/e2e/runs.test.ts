/**
 * Runs through the real stack (docs/PROTOCOL.md §11): `npm start` on the
 * test Redis with history on, and a second gateway process on the same
 * Redis. A run is started, events go through ingest, the aggregator records
 * history, the run is stopped; its export — JSON lines and CSV, from either
 * gateway — reads back to the figures the live snapshots showed at the same
 * times.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { figureOf, type Figure } from '@pulse/alerts';
import type { PulseEvent, SnapshotData } from '@pulse/protocol';
import { expectSameFigures } from '@pulse/test-support/figures';
import { startService, type ServiceProcess } from '@pulse/test-support/processes';
import { startTestRedis, uniquePrefix, type TestRedis } from '@pulse/test-support/redis';
import { RUN_SLOS_VAR } from '@pulse/test-support/runs';
import { parseCsv, TIME_COLUMNS } from '../../services/gateway/src/run-export.js';

const WRITE = 'e2e-runs-write-0123456789';
const TICK_MS = 100;

let redis: TestRedis;
let pulse: ServiceProcess;
let gateway: ServiceProcess;
let env: Record<string, string>;
beforeAll(async () => {
  redis = await startTestRedis();
  env = {
    REDIS_URL: redis.url,
    PULSE_KEY_PREFIX: uniquePrefix('e2e-runs'),
    PULSE_TICK_MS: String(TICK_MS),
    PULSE_WINDOW_SECONDS: '5',
    PULSE_HISTORY_TIERS: '0.1s:10m,1s:1h',
    PULSE_HISTORY_GRACE_MS: '200',
    PULSE_SLOS: RUN_SLOS_VAR,
    PULSE_WRITE_TOKENS: WRITE,
    LOG_LEVEL: 'warn',
  };
  pulse = await startService('standalone', env);
  gateway = await startService('gateway', env);
}, 60_000);
afterAll(async () => {
  await Promise.all([pulse?.stop(), gateway?.stop()]);
  await redis?.stop();
});

const write = { authorization: `Bearer ${WRITE}`, 'content-type': 'application/json' };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A batch of real traffic: streaming chats on two models and nodes (some failing), an embedding. */
function batch(i: number): PulseEvent[] {
  const ts = Date.now() / 1000;
  const events: PulseEvent[] = [];
  for (let k = 0; k < 4; k++) {
    const base = { ts, node: k % 2 ? 'n1' : 'n2', request_id: `r${i}-${k}`, endpoint: '/v1/chat/completions', model: k % 2 ? 'gpt-4' : 'llama', stream: true } as const;
    const failed = (i + k) % 7 === 0;
    events.push({ type: 'request.start', ...base });
    events.push({ type: 'request.end', ...base, status: failed ? 500 : 200, latency_ms: 200 + 37 * k + (i % 9) * 41, ttft_ms: 40 + 23 * k + (i % 5) * 17, completion_tokens: 8 + k + (i % 3), ...(failed && { error: 'upstream' }) });
  }
  const e = { ts, node: 'n1', request_id: `e${i}`, endpoint: '/v1/embeddings', model: 'ada', stream: false } as const;
  events.push({ type: 'request.start', ...e }, { type: 'request.end', ...e, status: 200, latency_ms: 15 + (i % 4), prompt_tokens: 90, cache: { hit: i % 2 === 0, cached_tokens: 30, prefix_length: 20 } });
  return events;
}

interface Live {
  timestamp: number;
  data: SnapshotData;
}

/** The run the first test recorded, and its JSONL export. */
let recorded: { id: string; jsonl: string } | undefined;

describe('a run through the real stack', () => {
  it('exports, from either gateway, the figures the live snapshots showed during the run', async () => {
    const started = await fetch(`${pulse.url}/v1/runs`, { method: 'POST', headers: write, body: JSON.stringify({ name: 'e2e', labels: { suite: 'runs' } }) });
    expect(started.status).toBe(201);
    const run = (await started.json()) as { id: string; started_at: number };

    // Traffic for ~3 s, from the first whole tick of the run on (a summary reads the buckets wholly inside it).
    await sleep(2 * TICK_MS);
    for (let i = 0; i < 30; i++) {
      const res = await fetch(`${pulse.url}/v1/events`, { method: 'POST', headers: write, body: JSON.stringify(batch(i)) });
      expect(res.status).toBe(202);
      await sleep(TICK_MS);
    }
    // Then the live figures, polled as a dashboard would, while the window still holds the traffic.
    // (Not during it: a tick's history record also counts events logged before its end but read
    // after its snapshot was built, which that live snapshot could not show yet.)
    await sleep(500);
    const live: Live[] = [];
    for (let i = 0; i < 12; i++) {
      live.push((await (await fetch(`${pulse.url}/metrics/snapshot`)).json()) as Live);
      await sleep(TICK_MS);
    }
    const stopped = await fetch(`${gateway.url}/v1/runs/${run.id}/stop`, { method: 'POST', headers: write });
    expect(stopped.status).toBe(200);
    const { stopped_at } = (await stopped.json()) as { stopped_at: number };
    // Past the grace, every tick of the run is recorded.
    await sleep(1000);

    const jsonl = await fetch(`${pulse.url}/v1/runs/${run.id}/export?format=jsonl&step=0.1`);
    expect(jsonl.status).toBe(200);
    const jsonlText = await jsonl.text();
    const points = jsonlText.trimEnd().split('\n').map((l) => JSON.parse(l) as Live);
    expect(points.length).toBeGreaterThan(30);
    expect(points[0]!.timestamp).toBeGreaterThanOrEqual(run.started_at);
    expect(points[points.length - 1]!.timestamp).toBeLessThanOrEqual(stopped_at);

    // The live snapshots of the run's ticks, found in the export at their own times.
    const byTime = new Map(points.map((p) => [Math.round(p.timestamp * 1000), p.data]));
    const matched = live.filter((l) => byTime.has(Math.round(l.timestamp * 1000)));
    expect(matched.length).toBeGreaterThan(8);
    expect(matched.every((l) => l.data.throughput.total_requests_per_sec > 0)).toBe(true);
    for (const l of matched) expectSameFigures(byTime.get(Math.round(l.timestamp * 1000)), l.data, `data@${l.timestamp}`);

    // The CSV holds the same points, its figures those of the same data.
    const csv = await fetch(`${pulse.url}/v1/runs/${run.id}/export?format=csv&step=0.1`);
    expect(csv.headers.get('content-type')).toBe('text/csv; charset=utf-8');
    const csvText = await csv.text();
    const { columns, rows } = parseCsv(csvText);
    expect(columns).toEqual(expect.arrayContaining(['latency_p99_ms', 'ttft_p50_ms', 'itl_p99_ms', 'error_rate_pct', 'slo_attainment_pct:interactive', 'slo_attainment_pct:batch']));
    expect(rows.map((r) => r.timestamp)).toEqual(points.map((p) => p.timestamp));
    rows.forEach((row, i) => {
      for (const c of columns.slice(TIME_COLUMNS.length)) {
        const want = figureOf(points[i]!.data, c as Figure);
        if (want === undefined) expect(row.figures, c).not.toHaveProperty(c);
        else expect(row.figures[c], c).toBe(want);
      }
    });
    expect(rows.some((r) => r.figures.error_rate_pct! > 0 && r.figures.itl_p99_ms! > 0)).toBe(true);

    // The summary: the whole run as one view, the same from either gateway. 30 batches of 4 chats and an
    // embedding: counts exact (rates × the span summed); the run's whole seconds come from the 1-s tier, coarsened
    // ×8 (PULSE_HISTORY_COARSEN's default): min and max to 0.1 %, p99 within half a group of 8 buckets (±9 %).
    const summaries = await Promise.all([pulse.url, gateway.url].map(async (at) => (await (await fetch(`${at}/v1/runs/${run.id}/summary`)).json()) as { since: number; until: number; data: SnapshotData }));
    expect(summaries[1]).toEqual(summaries[0]);
    const { since, until, data } = summaries[0]!;
    // The run's span rounded in to whole ticks.
    expect(since).toBeGreaterThanOrEqual(run.started_at);
    expect(since - run.started_at).toBeLessThan(TICK_MS / 1000);
    expect(until).toBeLessThanOrEqual(stopped_at);
    expect(stopped_at - until).toBeLessThan(TICK_MS / 1000);
    // The span in whole milliseconds: epoch seconds as floats differ by ~1e-7 s, which a rate × span shows at the 6th place.
    const seconds = Math.round((until - since) * 1000) / 1000;
    expect(data.throughput.requests_per_sec['/v1/chat/completions']! * seconds).toBeCloseTo(120, 6);
    expect(data.throughput.requests_per_sec['/v1/embeddings']! * seconds).toBeCloseTo(30, 6);
    const chats = Array.from({ length: 30 }, (_, i) => [0, 1, 2, 3].map((k) => 200 + 37 * k + (i % 9) * 41)).flat().sort((a, b) => a - b);
    const chat = data.latency['/v1/chat/completions']!;
    expect(Math.abs(chat.min - chats[0]!) / chats[0]!).toBeLessThan(1e-3);
    expect(Math.abs(chat.max - chats[chats.length - 1]!) / chats[chats.length - 1]!).toBeLessThan(1e-3);
    expect(Math.abs(chat.p99 - chats[Math.ceil(0.99 * chats.length) - 1]!) / chat.p99).toBeLessThan(0.09);
    const failed = Array.from({ length: 30 }, (_, i) => [0, 1, 2, 3].filter((k) => (i + k) % 7 === 0).length).reduce((a, b) => a + b, 0);
    expect(data.error.errors_per_sec['/v1/chat/completions']! * seconds).toBeCloseTo(failed, 6);

    recorded = { id: run.id, jsonl: jsonlText };
    // Another gateway of the deployment exports the same files.
    expect(await (await fetch(`${gateway.url}/v1/runs/${run.id}/export?format=jsonl&step=0.1`)).text()).toBe(jsonlText);
    expect(await (await fetch(`${gateway.url}/v1/runs/${run.id}/export?format=csv&step=0.1`)).text()).toBe(csvText);

    // A filtered view: the figures of one model only.
    const filtered = await fetch(`${gateway.url}/v1/runs/${run.id}/export?format=jsonl&step=1&model=gpt-4&metric_type=throughput`);
    const filteredPoints = (await filtered.text()).trimEnd().split('\n').map((l) => JSON.parse(l) as { data: Partial<SnapshotData> });
    expect(filteredPoints.length).toBeGreaterThan(1);
    // Only gpt-4's endpoint, in every point whose window holds traffic (a point within the run's first
    // 200 ms, before the traffic, holds none).
    const endpoints = filteredPoints.map((p) => {
      expect(Object.keys(p.data)).toEqual(['throughput']);
      return Object.keys(p.data.throughput!.requests_per_sec);
    });
    expect(endpoints.filter((e) => e.length > 0).length).toBeGreaterThan(1);
    for (const e of endpoints.filter((e) => e.length > 0)) expect(e).toEqual(['/v1/chat/completions']);
  });

  it('keeps the run, its annotations and its export across a restart of every process', async () => {
    expect(recorded).toBeDefined();
    const { id, jsonl } = recorded!;
    const note = await fetch(`${pulse.url}/v1/annotations`, { method: 'POST', headers: write, body: JSON.stringify({ text: 'before the restart', run_id: id }) });
    expect(note.status).toBe(201);
    const run = await (await fetch(`${pulse.url}/v1/runs/${id}`)).json();
    await Promise.all([pulse.stop(), gateway.stop()]);
    [pulse, gateway] = await Promise.all([startService('standalone', env), startService('gateway', env)]);
    for (const at of [pulse.url, gateway.url]) {
      expect(await (await fetch(`${at}/v1/runs/${id}`)).json()).toEqual(run);
      const { annotations } = (await (await fetch(`${at}/v1/annotations?run_id=${id}`)).json()) as { annotations: { text: string }[] };
      expect(annotations.map((a) => a.text)).toEqual(['before the restart']);
      expect(await (await fetch(`${at}/v1/runs/${id}/export?format=jsonl&step=0.1`)).text()).toBe(jsonl);
    }
  });
});
