/**
 * AIPerf's server-metrics collection reading Pulse's vLLM view, from the
 * outside: `npm start` with PULSE_PROMETHEUS_COMPAT=vllm and known traffic,
 * the URL a user would give `aiperf profile --server-metrics`, turned into
 * the URL AIPerf scrapes by AIPerf's own rule (reproduced below, with where
 * it comes from), scraped with the headers AIPerf's HTTP client sends, and
 * parsed the way AIPerf parses it: with prometheus_client's
 * text_string_to_metric_families when Python has it (Debian's
 * python3-prometheus-client, which .ci/run installs), and always with the
 * same grammar written here.
 *
 * Why the vLLM view has a route of its own, `/vllm/metrics`: AIPerf appends
 * `/metrics` to any server-metrics URL whose path does not already end in
 * it, so `/metrics/prometheus` becomes `/metrics/prometheus/metrics`, a 404
 * (the last test shows it).
 */
import { spawnSync } from 'node:child_process';
import { request } from 'node:http';
import { gunzipSync, inflateSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { standalonePerFile, type ServiceProcess } from '@pulse/test-support/processes';

// ------------------------------------------------ AIPerf's URL rules, exactly

/** Python's urllib.parse.urlsplit, for the `scheme://netloc/path?query#fragment` URLs AIPerf handles. */
function urlsplit(url: string): { scheme: string; netloc: string; path: string; query: string; fragment: string } {
  const m = /^([A-Za-z][A-Za-z0-9+.-]*):\/\/([^/?#]*)([^?#]*)(?:\?([^#]*))?(?:#(.*))?$/.exec(url);
  if (!m) throw new Error(`not a URL with a scheme and a host: ${url}`);
  return { scheme: m[1]!, netloc: m[2]!, path: m[3]!, query: m[4] ?? '', fragment: m[5] ?? '' };
}

/** Python's urllib.parse.urlunsplit: an empty query or fragment is left out with its separator. */
function urlunsplit(p: ReturnType<typeof urlsplit>): string {
  const path = p.path && !p.path.startsWith('/') ? `/${p.path}` : p.path;
  return `${p.scheme}://${p.netloc}${path}${p.query ? `?${p.query}` : ''}${p.fragment ? `#${p.fragment}` : ''}`;
}

/** Python's str.rstrip("/"). */
const rstripSlashes = (s: string) => s.replace(/\/+$/, '');

/**
 * ai-dynamo/aiperf main (read at commits 98cf998b, 13a46320, 085ac21d, 37f58542):
 *
 * - src/aiperf/config/flags/_converter_telemetry.py, `build_server_metrics`:
 *   each `--server-metrics` item that starts with "http" or contains ":"
 *   becomes `normalize_metrics_endpoint_url(_url(item))`, where `_url`
 *   prefixes "http://" to an item that does not start with "http";
 * - src/aiperf/server_metrics/manager.py, `ServerMetricsManager.__init__`
 *   (and endpoint_resolver.py's `_dedup_normalized` in later versions):
 *   every configured URL through `normalize_metrics_endpoint_url(url)` again;
 * - src/aiperf/common/metric_utils.py, `normalize_metrics_endpoint_url`,
 *   lines 46-53 (commit 98cf998b): prefix "http://" unless the URL starts
 *   with "http://" or "https://"; `urlsplit`; strip the path's trailing
 *   slashes; append "/metrics" unless `preserve_explicit_path and path`, or
 *   the path already ends in "/metrics"; `urlunsplit` (the query is kept).
 *   No caller passes `preserve_explicit_path`, so it is False.
 */
function aiperfMainRule(item: string): string {
  const url = item.startsWith('http') ? item : `http://${item}`;
  return normalizeMain(normalizeMain(url));
}

function normalizeMain(url: string, preserveExplicitPath = false): string {
  if (!url.trim()) throw new Error('URL cannot be empty or whitespace-only');
  const withScheme = url.startsWith('http://') || url.startsWith('https://') ? url : `http://${url}`;
  const parts = urlsplit(withScheme);
  let path = rstripSlashes(parts.path);
  if (!(preserveExplicitPath && path) && !path.endsWith('/metrics')) path = `${path}/metrics`;
  return urlunsplit({ ...parts, path });
}

/**
 * The released AIPerf 0.4.0 (PyPI wheel aiperf-0.4.0-py3-none-any.whl),
 * aiperf/common/metric_utils.py, `normalize_metrics_endpoint_url`, lines
 * 34-37: strip the whole URL's trailing slashes, and append "/metrics" to
 * the whole URL (a query string included) unless it ends in "/metrics".
 */
function aiperf040Rule(url: string): string {
  if (!url.trim()) throw new Error('URL cannot be empty or whitespace-only');
  const stripped = rstripSlashes(url);
  return stripped.endsWith('/metrics') ? stripped : `${stripped}/metrics`;
}

// ------------------------------------------------ scraping and parsing as AIPerf does

interface Scrape {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
}

/** GET with the headers aiohttp's ClientSession sends by default (AIPerf's collector is an aiohttp client), decompressed as aiohttp does. */
function scrapeLikeAiohttp(url: string, headers: Record<string, string> = {}): Promise<Scrape> {
  return new Promise((resolve, reject) => {
    request(url, { headers: { Accept: '*/*', 'Accept-Encoding': 'gzip, deflate', ...headers } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const raw = Buffer.concat(chunks);
        const encoding = res.headers['content-encoding'];
        const body = encoding === 'gzip' ? gunzipSync(raw) : encoding === 'deflate' ? inflateSync(raw) : raw;
        resolve({ status: res.statusCode!, headers: res.headers, text: body.toString() });
      });
    })
      .on('error', reject)
      .end();
  });
}

type Families = Map<string, { type: string; samples: [name: string, labels: Record<string, string>, value: number][] }>;

/**
 * The text format's grammar as prometheus_client's classic parser applies
 * it: a counter family is named without `_total`; every sample must belong
 * to the family declared above it (its name, or its name with a suffix
 * its type allows); label values unescaped.
 */
function parseExposition(text: string): Families {
  const families: Families = new Map();
  let current: { name: string; type: string } | null = null;
  const suffixes: Record<string, string[]> = { counter: ['_total', '_created'], gauge: [''], histogram: ['_bucket', '_sum', '_count', '_created'] };
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('# HELP ')) continue;
    const type = /^# TYPE (\S+) (\S+)$/.exec(line);
    if (type) {
      const [, declared, kind] = type as unknown as [string, string, string];
      const name = kind === 'counter' && declared.endsWith('_total') ? declared.slice(0, -'_total'.length) : declared;
      current = { name, type: kind };
      families.set(name, { type: kind, samples: [] });
      continue;
    }
    const sample = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!sample || !current) throw new Error(`not a sample line of a declared family: ${line}`);
    const [, name, labelText, value] = sample as unknown as [string, string, string | undefined, string];
    if (!(suffixes[current.type] ?? ['']).some((s) => name === current!.name + s)) throw new Error(`${name} outside its family ${current.name}`);
    const labels: Record<string, string> = {};
    for (const m of (labelText ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[m[1]!] = m[2]!.replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));
    const number = value === '+Inf' ? Infinity : value === '-Inf' ? -Infinity : Number(value);
    if (Number.isNaN(number) && value !== 'NaN') throw new Error(`not a number: ${line}`);
    families.get(current.name)!.samples.push([name, labels, number]);
  }
  return families;
}

const PARSE_WITH_PROMETHEUS_CLIENT = `
import json, sys
from prometheus_client.parser import text_string_to_metric_families
print(json.dumps([{"name": f.name, "type": f.type, "samples": [[s.name, s.labels, s.value] for s in f.samples]} for f in text_string_to_metric_families(sys.stdin.read())]))
`;

/** A Python that has prometheus_client (pyenv's python3 may not; Debian's /usr/bin/python3 with python3-prometheus-client does), or why none. */
const python = ['python3', '/usr/bin/python3'].find((p) => spawnSync(p, ['-c', 'import prometheus_client']).status === 0);

function parseWithPrometheusClient(text: string): Families {
  const run = spawnSync(python!, ['-c', PARSE_WITH_PROMETHEUS_CLIENT], { input: text, encoding: 'utf8', timeout: 30_000 });
  if (run.status !== 0) throw new Error(`prometheus_client could not parse the scrape:\n${run.stderr}`);
  const out = JSON.parse(run.stdout) as { name: string; type: string; samples: [string, Record<string, string>, number][] }[];
  return new Map(out.map((f) => [f.name, { type: f.type, samples: f.samples }]));
}

const value = (families: Families, family: string, sample: string, labels: Record<string, string>): number | undefined =>
  families.get(family)?.samples.find(([name, l]) => name === sample && Object.entries(labels).every(([k, v]) => l[k] === v) && Object.keys(l).length === Object.keys(labels).length)?.[2];

// ------------------------------------------------ the traffic

const now = () => Date.now() / 1000;

/** 10 gpt-4 chat streams (latency 100…1000 ms, 40 completion tokens each), 3 llama completions (one an error). */
async function postTraffic(pulse: ServiceProcess, headers: Record<string, string> = {}): Promise<void> {
  const events: object[] = [];
  for (let i = 0; i < 10; i++) {
    const common = { node: 'fakeai-1', request_id: `aiperf-g${i}`, endpoint: '/v1/chat/completions', model: 'gpt-4', stream: true };
    const latency = 100 * (i + 1);
    events.push({ type: 'request.start', ts: now() - latency / 1000, ...common });
    events.push({ type: 'request.end', ts: now(), ...common, status: 200, latency_ms: latency, ttft_ms: 30, prompt_tokens: 100, completion_tokens: 40 });
  }
  for (let i = 0; i < 3; i++) {
    const common = { node: 'fakeai-2', request_id: `aiperf-l${i}`, endpoint: '/v1/completions', model: 'llama', stream: false };
    events.push({ type: 'request.start', ts: now() - 0.2, ...common });
    events.push({ type: 'request.end', ts: now(), ...common, status: i === 0 ? 500 : 200, latency_ms: 200, prompt_tokens: 10, completion_tokens: 5 });
  }
  const res = await fetch(`${pulse.url}/v1/events`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(events) });
  expect(res.status).toBe(202);
}

/** The checks AIPerf's parsed record would pass: the vLLM families, labelled by model, with the traffic's counts. */
function expectTheTraffic(families: Families): void {
  expect(families.get('vllm:generation_tokens')?.type).toBe('counter');
  expect(value(families, 'vllm:generation_tokens', 'vllm:generation_tokens_total', { model_name: 'gpt-4' })).toBe(400);
  expect(value(families, 'vllm:prompt_tokens', 'vllm:prompt_tokens_total', { model_name: 'llama' })).toBe(30);
  expect(value(families, 'vllm:request_success', 'vllm:request_success_total', { model_name: 'llama', finished_reason: 'error' })).toBe(1);
  expect(value(families, 'vllm:request_success', 'vllm:request_success_total', { model_name: 'llama', finished_reason: 'stop' })).toBe(2);
  const latency = families.get('vllm:e2e_request_latency_seconds');
  expect(latency?.type).toBe('histogram');
  expect(value(families, 'vllm:e2e_request_latency_seconds', 'vllm:e2e_request_latency_seconds_count', { model_name: 'gpt-4' })).toBe(10);
  expect(value(families, 'vllm:e2e_request_latency_seconds', 'vllm:e2e_request_latency_seconds_sum', { model_name: 'gpt-4' })).toBeCloseTo(5.5, 6);
  // 100…1000 ms against the GenAI bounds: ≤ 0.16 s one, ≤ 0.32 s three, ≤ 0.64 s six, ≤ 1.28 s all ten.
  expect(value(families, 'vllm:e2e_request_latency_seconds', 'vllm:e2e_request_latency_seconds_bucket', { model_name: 'gpt-4', le: '0.64' })).toBe(6);
  expect(value(families, 'vllm:e2e_request_latency_seconds', 'vllm:e2e_request_latency_seconds_bucket', { model_name: 'gpt-4', le: '+Inf' })).toBe(10);
  expect(value(families, 'vllm:time_to_first_token_seconds', 'vllm:time_to_first_token_seconds_count', { model_name: 'gpt-4' })).toBe(10);
  // The view alone: no pulse_* family, nothing labelled but by model.
  expect([...families.keys()].every((name) => name.startsWith('vllm:'))).toBe(true);
  for (const [, f] of families) for (const [, labels] of f.samples) expect(Object.keys(labels).filter((k) => k !== 'le' && k !== 'finished_reason')).toEqual(['model_name']);
}

// ------------------------------------------------ the tests

describe('AIPerf --server-metrics against npm start with PULSE_PROMETHEUS_COMPAT=vllm', () => {
  let pulse: ServiceProcess;
  let scraped = '';
  standalonePerFile({ PULSE_PROMETHEUS_COMPAT: 'vllm' }, (p) => (pulse = p));

  it('AIPerf\'s rules keep a URL ending in /vllm/metrics, and complete one ending in /vllm', () => {
    const host = 'gateway.example:8000';
    for (const given of [`http://${host}/vllm/metrics`, `http://${host}/vllm`, `http://${host}/vllm/`]) {
      expect(aiperfMainRule(given)).toBe(`http://${host}/vllm/metrics`);
      expect(aiperf040Rule(given)).toBe(`http://${host}/vllm/metrics`);
    }
    expect(aiperfMainRule(`${host}/vllm/metrics/`)).toBe(`http://${host}/vllm/metrics`);
    // The route the vLLM view had before is out of reach: AIPerf scrapes a path that does not exist.
    expect(aiperfMainRule(`http://${host}/metrics/prometheus`)).toBe(`http://${host}/metrics/prometheus/metrics`);
    expect(aiperf040Rule(`http://${host}/metrics/prometheus`)).toBe(`http://${host}/metrics/prometheus/metrics`);
    // The newer normaliser keeps the query string; 0.4.0 appends after it.
    expect(aiperfMainRule(`http://${host}/vllm/metrics?token=t`)).toBe(`http://${host}/vllm/metrics?token=t`);
    expect(aiperf040Rule(`http://${host}/vllm/metrics?token=t`)).toBe(`http://${host}/vllm/metrics?token=t/metrics`);
  });

  it('the URL AIPerf builds from <gateway>/vllm scrapes the vLLM view, gzipped, and parses with the traffic\'s figures', async () => {
    await postTraffic(pulse);
    for (const rule of [aiperfMainRule, aiperf040Rule]) {
      const url = rule(`${pulse.url}/vllm`);
      expect(new URL(url).pathname).toBe('/vllm/metrics');
      let scrape: Scrape | undefined;
      await expect
        .poll(
          async () => {
            scrape = await scrapeLikeAiohttp(url);
            return value(parseExposition(scrape.text), 'vllm:e2e_request_latency_seconds', 'vllm:e2e_request_latency_seconds_count', { model_name: 'gpt-4' });
          },
          { timeout: 10_000 },
        )
        .toBe(10);
      expect(scrape!.status).toBe(200);
      expect(scrape!.headers['content-type']).toMatch(/^text\/plain; version=0\.0\.4/);
      expect(scrape!.headers['content-encoding']).toBe('gzip');
      expectTheTraffic(parseExposition(scrape!.text));
      scraped = scrape!.text;
    }
  });

  it.skipIf(python === undefined)(
    `prometheus_client's parser, AIPerf's, reads the same figures from the scrape${python ? '' : ' — skipped: no python3 with prometheus_client (Debian: python3-prometheus-client)'}`,
    () => {
      expect(scraped).not.toBe('');
      expectTheTraffic(parseWithPrometheusClient(scraped));
    },
  );

  it('the URL AIPerf builds from <gateway>/metrics/prometheus is a 404, which AIPerf reads as an endpoint to switch off', async () => {
    const url = aiperfMainRule(`${pulse.url}/metrics/prometheus`);
    expect((await scrapeLikeAiohttp(url)).status).toBe(404);
  });
});

describe('AIPerf --server-metrics with read tokens on', () => {
  let pulse: ServiceProcess;
  const TOKEN = 'aiperf-read-token';
  standalonePerFile({ PULSE_PROMETHEUS_COMPAT: 'vllm', PULSE_READ_TOKENS: TOKEN, PULSE_WRITE_TOKENS: 'aiperf-write-token' }, (p) => (pulse = p));

  it('wants the token like /metrics/prometheus: a Bearer header, or ?token= in a URL the newer rule leaves whole', async () => {
    await postTraffic(pulse, { authorization: 'Bearer aiperf-write-token' });
    const url = aiperfMainRule(`${pulse.url}/vllm`);
    expect((await scrapeLikeAiohttp(url)).status).toBe(401);
    await expect.poll(async () => (await scrapeLikeAiohttp(url, { Authorization: `Bearer ${TOKEN}` })).text, { timeout: 10_000 }).toMatch(/^vllm:generation_tokens_total\{model_name="gpt-4"\} 400$/m);
    const withQuery = aiperfMainRule(`${pulse.url}/vllm/metrics?token=${TOKEN}`);
    expect(withQuery).toBe(`${pulse.url}/vllm/metrics?token=${TOKEN}`);
    expect((await scrapeLikeAiohttp(withQuery)).status).toBe(200);
    // AIPerf 0.4.0 writes /metrics after the query: the token arrives as "<token>/metrics".
    expect((await scrapeLikeAiohttp(aiperf040Rule(`${pulse.url}/vllm/metrics?token=${TOKEN}`))).status).toBe(401);
  });
});
