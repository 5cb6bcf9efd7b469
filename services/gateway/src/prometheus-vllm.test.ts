/**
 * The vLLM-compatible view (PULSE_PROMETHEUS_COMPAT=vllm): the mapping from
 * Pulse's cumulative figures to vLLM's names, values and labels; histograms
 * a Prometheus and promtool accept; and a real gateway on port 0 switching it
 * on, plus the built gateway process refusing a bad value at start.
 */
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { COUNTER_SLOT, encodeSnapshot, HISTOGRAM_SLOTS, zeroCumulative, type CellData, type CumulativeHistogram } from '@pulse/protocol';
import { ConfigError, MemorySnapshotBus } from '@pulse/runtime';
import { cell, snapshot, startGateway, type RunningGateway } from '@pulse/test-support/gateway';
import { parseGatewayConfig } from './config.js';
import { prometheusText } from './prometheus-export.js';
import { prometheusRenderers, vllmText } from './prometheus-vllm.js';

interface Counted {
  node: string;
  endpoint: string;
  model: string;
  requests?: number;
  responses?: number;
  errors?: number;
  promptTokens?: number;
  completionTokens?: number;
  /** Per histogram: bucket index → count, and the sum (µs for times, tokens else). */
  histograms?: Partial<Record<CumulativeHistogram, { buckets: Record<number, number>; sum: number }>>;
  figures?: Partial<CellData>;
}

/** A cell whose cumulative slots hold exactly what `c` says. */
function counted(c: Counted): CellData {
  const cumulative = zeroCumulative();
  cumulative[COUNTER_SLOT.requests] = c.requests ?? 0;
  cumulative[COUNTER_SLOT.responses] = c.responses ?? 0;
  cumulative[COUNTER_SLOT.errors] = c.errors ?? 0;
  cumulative[COUNTER_SLOT.promptTokens] = c.promptTokens ?? 0;
  cumulative[COUNTER_SLOT.completionTokens] = c.completionTokens ?? 0;
  for (const [name, h] of Object.entries(c.histograms ?? {}) as [CumulativeHistogram, { buckets: Record<number, number>; sum: number }][]) {
    for (const [bucket, n] of Object.entries(h.buckets)) cumulative[HISTOGRAM_SLOTS[name].first + Number(bucket)] = n;
    cumulative[HISTOGRAM_SLOTS[name].sum] = h.sum;
  }
  return { ...cell(c.endpoint, c.model, c.figures), node: c.node, cumulative };
}

/** gpt-4 on two endpoints and two nodes; llama on one; a model whose name needs escaping. */
const CELLS: CellData[] = [
  counted({
    node: 'n1',
    endpoint: '/v1/chat/completions',
    model: 'gpt-4',
    requests: 10,
    responses: 9,
    errors: 2,
    promptTokens: 900,
    completionTokens: 450,
    histograms: {
      latency: { buckets: { 0: 1, 5: 6, 14: 2 }, sum: 4_500_000 },
      ttft: { buckets: { 2: 3, 7: 2 }, sum: 150_000 },
      itl: { buckets: { 1: 4, 12: 1 }, sum: 200_000 },
      inputTokens: { buckets: { 4: 9 }, sum: 900 },
      outputTokens: { buckets: { 3: 5, 4: 4 }, sum: 450 },
    },
    figures: { queueDepth: 1, totalLookups: 6, totalHits: 4 },
  }),
  counted({
    node: 'n2',
    endpoint: '/v1/chat/completions',
    model: 'gpt-4',
    requests: 5,
    responses: 5,
    promptTokens: 100,
    completionTokens: 50,
    histograms: { latency: { buckets: { 5: 5 }, sum: 1_000_000 }, ttft: { buckets: { 2: 5 }, sum: 40_000 }, itl: { buckets: { 1: 5 }, sum: 90_000 } },
    figures: { queueDepth: 2, totalLookups: 4, totalHits: 1 },
  }),
  counted({ node: 'n1', endpoint: '/v1/embeddings', model: 'gpt-4', requests: 3, responses: 3, errors: 1, promptTokens: 30, histograms: { latency: { buckets: { 1: 3 }, sum: 60_000 } } }),
  counted({ node: 'n1', endpoint: '/v1/completions', model: 'llama', requests: 1, responses: 1, histograms: { latency: { buckets: { 3: 1 }, sum: 70_000 } } }),
  counted({ node: 'n1', endpoint: '/v1/completions', model: 'we"ird\\model', requests: 1, responses: 1 }),
];

const text = vllmText({ cells: CELLS, slos: [] });

/** The value of the sample line that starts with `series` (name and labels as written). */
const sample = (exposition: string, series: string) => exposition.split('\n').find((l) => l.startsWith(`${series} `))?.split(' ')[1];
const samplesOf = (exposition: string, name: string) => exposition.split('\n').filter((l) => l.startsWith(`${name}{`) || l.startsWith(`${name} `));
const GPT4 = 'model_name="gpt-4"';

describe('the vLLM view: names, labels, values', () => {
  it('labels every series by model_name alone, one series per model (its endpoints and nodes summed)', () => {
    const samples = text.split('\n').filter((l) => l && !l.startsWith('#'));
    expect(samples.length).toBeGreaterThan(0);
    for (const line of samples) expect(line, line).toMatch(/^vllm:[a-z0-9_]+\{model_name="(?:[^"\\]|\\.)*"(?:,finished_reason="(stop|error)")?(?:,le="[^"]+")?\} \d+(\.\d+)?$/);
    expect(samplesOf(text, 'vllm:prompt_tokens_total')).toEqual([
      'vllm:prompt_tokens_total{model_name="gpt-4"} 1030',
      'vllm:prompt_tokens_total{model_name="llama"} 0',
      'vllm:prompt_tokens_total{model_name="we\\"ird\\\\model"} 0',
    ]);
  });

  it('maps the counters and the in-flight gauge', () => {
    expect(sample(text, `vllm:generation_tokens_total{${GPT4}}`)).toBe('500');
    expect(sample(text, `vllm:num_requests_running{${GPT4}}`)).toBe('3');
    expect(sample(text, `vllm:prefix_cache_queries_total{${GPT4}}`)).toBe('10');
    expect(sample(text, `vllm:prefix_cache_hits_total{${GPT4}}`)).toBe('5');
  });

  it('splits ended requests by finished_reason: error ends, and "stop" for the rest', () => {
    expect(sample(text, `vllm:request_success_total{${GPT4},finished_reason="stop"}`)).toBe('14');
    expect(sample(text, `vllm:request_success_total{${GPT4},finished_reason="error"}`)).toBe('3');
    expect(samplesOf(text, 'vllm:request_success_total').map((l) => l.match(/finished_reason="(\w+)"/)![1])).toEqual(['stop', 'error', 'stop', 'error', 'stop', 'error']);
  });

  it('serves no family without a source, rather than a made-up zero', () => {
    const families = [...text.matchAll(/^# TYPE (\S+) /gm)].map((m) => m[1]);
    for (const absent of ['vllm:num_requests_waiting', 'vllm:kv_cache_usage_perc', 'vllm:num_preemptions_total', 'vllm:request_queue_time_seconds', 'vllm:request_prefill_time_seconds', 'vllm:request_decode_time_seconds']) {
      expect(families).not.toContain(absent);
    }
  });

  it('declares every family with no snapshot yet', () => {
    const empty = vllmText(null);
    expect(empty.match(/^# TYPE vllm:/gm)).toHaveLength(13);
    expect(empty.split('\n').filter((l) => l && !l.startsWith('#'))).toEqual([]);
  });
});

describe('the vLLM view: histograms', () => {
  const HISTOGRAMS: [string, CumulativeHistogram][] = [
    ['vllm:e2e_request_latency_seconds', 'latency'],
    ['vllm:time_to_first_token_seconds', 'ttft'],
    ['vllm:inter_token_latency_seconds', 'itl'],
    ['vllm:request_time_per_output_token_seconds', 'itl'],
    ['vllm:time_per_output_token_seconds', 'itl'],
    ['vllm:request_prompt_tokens', 'inputTokens'],
    ['vllm:request_generation_tokens', 'outputTokens'],
  ];

  it.each(HISTOGRAMS)('%s: cumulative buckets at the GenAI bounds of %s, +Inf equal to _count', (name, of) => {
    for (const model of ['gpt-4', 'llama', 'we\\"ird\\\\model']) {
      const labels = `model_name="${model}"`;
      const buckets = samplesOf(text, `${name}_bucket`).filter((l) => l.includes(labels));
      expect(buckets.map((l) => l.match(/le="([^"]+)"/)![1])).toEqual([...HISTOGRAM_SLOTS[of].bounds.map(String), '+Inf']);
      const counts = buckets.map((l) => Number(l.split(' ')[1]));
      for (let i = 1; i < counts.length; i++) expect(counts[i]).toBeGreaterThanOrEqual(counts[i - 1]!);
      expect(sample(text, `${name}_count{${labels}}`)).toBe(String(counts.at(-1)));
    }
  });

  it('counts each model exactly: the sum of its cells, sums in seconds for times', () => {
    const l = GPT4;
    // latency: bucket 0 has 1, bucket 1 has 3 (embeddings), bucket 5 has 6 + 5, bucket 14 (overflow) has 2.
    expect(sample(text, `vllm:e2e_request_latency_seconds_bucket{${l},le="0.01"}`)).toBe('1');
    expect(sample(text, `vllm:e2e_request_latency_seconds_bucket{${l},le="0.02"}`)).toBe('4');
    expect(sample(text, `vllm:e2e_request_latency_seconds_bucket{${l},le="0.32"}`)).toBe('15');
    expect(sample(text, `vllm:e2e_request_latency_seconds_bucket{${l},le="81.92"}`)).toBe('15');
    expect(sample(text, `vllm:e2e_request_latency_seconds_bucket{${l},le="+Inf"}`)).toBe('17');
    expect(sample(text, `vllm:e2e_request_latency_seconds_sum{${l}}`)).toBe('5.56');
    expect(sample(text, `vllm:time_to_first_token_seconds_count{${l}}`)).toBe('10');
    expect(sample(text, `vllm:time_to_first_token_seconds_sum{${l}}`)).toBe('0.19');
    expect(sample(text, `vllm:request_prompt_tokens_sum{${l}}`)).toBe('900');
    expect(sample(text, `vllm:request_generation_tokens_bucket{${l},le="64"}`)).toBe('5');
    expect(sample(text, `vllm:request_generation_tokens_bucket{${l},le="256"}`)).toBe('9');
  });

  it('serves the three inter-token names from one histogram, sample for sample', () => {
    const itl = samplesOf(text, 'vllm:inter_token_latency_seconds_bucket').concat(samplesOf(text, 'vllm:inter_token_latency_seconds_sum'), samplesOf(text, 'vllm:inter_token_latency_seconds_count'));
    expect(itl.length).toBeGreaterThan(0);
    for (const other of ['vllm:request_time_per_output_token_seconds', 'vllm:time_per_output_token_seconds']) {
      const same = samplesOf(text, `${other}_bucket`).concat(samplesOf(text, `${other}_sum`), samplesOf(text, `${other}_count`));
      expect(same.map((line) => line.replace(other, 'vllm:inter_token_latency_seconds'))).toEqual(itl);
    }
  });

  it('agrees with the pulse_* families summed over endpoints', () => {
    const pulse = prometheusText({ cells: CELLS, slos: [] });
    const sumOver = (exposition: string, series: string, where: string) =>
      exposition
        .split('\n')
        .filter((line) => line.startsWith(`${series}{`) && line.includes(where))
        .reduce((total, line) => total + Number(line.split(' ')[1]), 0);
    expect(sumOver(pulse, 'pulse_request_duration_seconds_bucket', 'model="gpt-4",le="0.02"')).toBe(Number(sample(text, `vllm:e2e_request_latency_seconds_bucket{${GPT4},le="0.02"}`)));
    expect(sumOver(pulse, 'pulse_completion_tokens_total', 'model="gpt-4"')).toBe(Number(sample(text, `vllm:generation_tokens_total{${GPT4}}`)));
    expect(sumOver(pulse, 'pulse_requests_in_flight', 'model="gpt-4"')).toBe(Number(sample(text, `vllm:num_requests_running{${GPT4}}`)));
  });
});

describe('PULSE_PROMETHEUS_COMPAT', () => {
  const snap = { cells: CELLS, slos: [] };

  it('unset: the pulse_* families alone, and no vLLM route; vllm: those, then the vLLM ones, and the vLLM ones alone on their route', () => {
    const off = prometheusRenderers(undefined);
    expect(off.prometheus(snap).toString()).toBe(prometheusText(snap));
    expect(off.vllm).toBeNull();
    const on = prometheusRenderers('vllm');
    expect(on.prometheus(snap).toString()).toBe(prometheusText(snap) + vllmText(snap));
    expect(on.vllm?.(snap).toString()).toBe(vllmText(snap));
  });

  it('is validated with the rest of the config: "vllm" or unset, anything else names the variable', () => {
    expect(parseGatewayConfig({}).PULSE_PROMETHEUS_COMPAT).toBeUndefined();
    expect(parseGatewayConfig({ PULSE_PROMETHEUS_COMPAT: '' }).PULSE_PROMETHEUS_COMPAT).toBeUndefined();
    expect(parseGatewayConfig({ PULSE_PROMETHEUS_COMPAT: 'vllm' }).PULSE_PROMETHEUS_COMPAT).toBe('vllm');
    for (const bad of ['VLLM', 'sglang', 'vllm,pulse']) {
      expect(() => parseGatewayConfig({ PULSE_PROMETHEUS_COMPAT: bad })).toThrow(ConfigError);
      expect(() => parseGatewayConfig({ PULSE_PROMETHEUS_COMPAT: bad })).toThrow(/PULSE_PROMETHEUS_COMPAT: must be "vllm", or unset/);
    }
  });

  const promtool = spawnSync('promtool', ['--version']).error ? 'promtool is not installed' : null;
  it.skipIf(promtool !== null)(`the whole exposition passes \`promtool check metrics\`, but for the colon in vLLM's names${promtool ? ` — skipped: ${promtool}` : ''}`, () => {
    const run = spawnSync('promtool', ['check', 'metrics'], { input: prometheusRenderers('vllm').prometheus(snap).toString(), encoding: 'utf8' });
    // Exit 1 is a parse error; 3 is lint findings only. The one lint vLLM's own
    // exposition draws as well — colons are meant for recording rules — is
    // the price of its names; every other rule (HELP, _total, units) holds.
    expect(run.status).toBe(3);
    const findings = (run.stderr + run.stdout).trim().split('\n');
    const families = [...vllmText(null).matchAll(/^# TYPE (\S+) /gm)].map((m) => m[1]!);
    expect(findings.sort()).toEqual(families.map((name) => `${name} metric names should not contain ':'`).sort());
  });
});

describe('through a real gateway', () => {
  const open: RunningGateway[] = [];
  afterEach(async () => {
    await Promise.all(open.splice(0).map((gw) => gw.close()));
  });

  const scrape = async (env: Record<string, string>) => {
    const bus = new MemorySnapshotBus();
    const gw = await startGateway(bus, env);
    open.push(gw);
    await bus.publish(encodeSnapshot(snapshot(5, CELLS)));
    await vi.waitFor(() => expect(gw.gateway.ready()).toBe(true));
    const res = await fetch(`${gw.http}/metrics/prometheus`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    return res.text();
  };

  it('serves the vLLM families beside the pulse_* ones with PULSE_PROMETHEUS_COMPAT=vllm, and none without', async () => {
    const on = await scrape({ PULSE_PROMETHEUS_COMPAT: 'vllm' });
    expect(sample(on, `vllm:generation_tokens_total{${GPT4}}`)).toBe('500');
    expect(sample(on, 'pulse_requests_total{endpoint="/v1/chat/completions",model="gpt-4"}')).toBe('15');
    const off = await scrape({});
    expect(off).not.toMatch(/^# TYPE vllm:/m);
    expect(sample(off, 'pulse_requests_total{endpoint="/v1/chat/completions",model="gpt-4"}')).toBe('15');
  });

  it('serves the vLLM families alone at GET /vllm/metrics with PULSE_PROMETHEUS_COMPAT=vllm, the same text as after the pulse_* ones', async () => {
    const bus = new MemorySnapshotBus();
    const gw = await startGateway(bus, { PULSE_PROMETHEUS_COMPAT: 'vllm' });
    open.push(gw);
    await bus.publish(encodeSnapshot(snapshot(5, CELLS)));
    await vi.waitFor(() => expect(gw.gateway.ready()).toBe(true));
    const res = await fetch(`${gw.http}/vllm/metrics`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    const text = await res.text();
    expect(text).toBe(vllmText({ cells: CELLS, slos: [] }));
    expect(text).not.toMatch(/^# TYPE pulse_/m);
    const both = await (await fetch(`${gw.http}/metrics/prometheus`)).text();
    expect(both.endsWith(text)).toBe(true);
    expect((await fetch(`${gw.http}/vllm/metrics`, { method: 'HEAD' })).status).toBe(200);
    expect((await fetch(`${gw.http}/vllm/metrics`, { method: 'POST' })).status).toBe(405);
  });

  it('answers GET /vllm/metrics with a 404 that names the variable while the view is off', async () => {
    const bus = new MemorySnapshotBus();
    const gw = await startGateway(bus);
    open.push(gw);
    const res = await fetch(`${gw.http}/vllm/metrics`);
    expect(res.status).toBe(404);
    expect(await res.json()).toEqual({ code: 'not_found', error: 'the vLLM view is off: /vllm/metrics is served with PULSE_PROMETHEUS_COMPAT=vllm' });
  });

  it('guards GET /vllm/metrics like /metrics/prometheus: read token (header or ?token=), origin, CORS preflight', async () => {
    const bus = new MemorySnapshotBus();
    const gw = await startGateway(bus, { PULSE_PROMETHEUS_COMPAT: 'vllm', PULSE_READ_TOKENS: 'vllm-read-token-1', PULSE_ALLOWED_ORIGINS: 'http://dash.example' });
    open.push(gw);
    await bus.publish(encodeSnapshot(snapshot(5, CELLS)));
    await vi.waitFor(() => expect(gw.gateway.ready()).toBe(true));
    const url = `${gw.http}/vllm/metrics`;
    const refused = await fetch(url);
    expect(refused.status).toBe(401);
    expect(refused.headers.get('www-authenticate')).toMatch(/^Bearer/);
    expect((await fetch(url, { headers: { authorization: 'Bearer wrong' } })).status).toBe(401);
    expect((await fetch(url, { headers: { authorization: 'Bearer vllm-read-token-1' } })).status).toBe(200);
    expect((await fetch(`${url}?token=vllm-read-token-1`)).status).toBe(200);
    expect((await fetch(url, { headers: { authorization: 'Bearer vllm-read-token-1', origin: 'http://evil.example' } })).status).toBe(403);
    const preflight = await fetch(url, { method: 'OPTIONS', headers: { origin: 'http://dash.example' } });
    expect(preflight.status).toBe(204);
    expect(preflight.headers.get('access-control-allow-origin')).toBe('http://dash.example');
    // Off, it is still guarded: the 404 is for those who may read.
    const off = await startGateway(new MemorySnapshotBus(), { PULSE_READ_TOKENS: 'vllm-read-token-1' });
    open.push(off);
    expect((await fetch(`${off.http}/vllm/metrics`)).status).toBe(401);
    expect((await fetch(`${off.http}/vllm/metrics`, { headers: { authorization: 'Bearer vllm-read-token-1' } })).status).toBe(404);
  });

  const MAIN = fileURLToPath(new URL('../dist/main.js', import.meta.url));
  const unbuilt = existsSync(MAIN) ? null : `${MAIN} is missing: build first (npx tsc -b)`;
  it.skipIf(unbuilt !== null)(`the gateway process exits 2 at start on a bad value, naming the variable${unbuilt ? ` — skipped: ${unbuilt}` : ''}`, async () => {
    // No Redis is needed: the config is parsed before anything connects.
    const child = spawn(process.execPath, [MAIN], { env: { PATH: process.env.PATH ?? '', PORT: '0', PULSE_PROMETHEUS_COMPAT: 'sglang' }, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const [code] = (await once(child, 'exit')) as [number | null];
    expect(code).toBe(2);
    expect(stderr.trim().split('\n')).toEqual(['pulse gateway: invalid configuration: PULSE_PROMETHEUS_COMPAT: must be "vllm", or unset (got "sglang")']);
  });
});
