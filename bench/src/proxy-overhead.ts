/**
 * Scenario `proxy`: what the proxy (services/proxy) adds in front of an
 * OpenAI-compatible upstream. The fake upstream (services/fake-openai) and
 * the proxy writing its events to a local Redis run as `node` processes,
 * started as deployed; this process is the client and
 * sends the same requests straight to the upstream ("direct"), through two
 * reference hops and through the proxy, in turn, so drift and noise of the
 * machine hit all four alike: a bare TCP relay (bench/src/workers/
 * tcp-relay.ts, what any extra process on the path costs here) and a bare
 * Node HTTP proxy (http-relay.ts, what Node's HTTP stack costs, with
 * nothing observed). The proxy's figures above those are its own.
 *
 * - latency: non-streaming chat completions one at a time, request to last
 *   byte; the added p50 / p99 is proxied minus direct.
 * - TTFT: streaming chat completions one at a time, request to the first
 *   chunk carrying content.
 * - throughput, saturated: a closed loop of `concurrency` clients against an
 *   upstream that answers at once, so every process competes for CPU and the
 *   proxy's own cost shows; the proxy's CPU per request is measured too.
 * - throughput, latency-bound: the same against an upstream that takes
 *   50 ms per response, as a model server does (the budget's case).
 *
 * Budget (issue 8): ≤ 1 ms added p99, ≥ 90 % of direct throughput.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import http from 'node:http';
import { loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { killOnExit, stopChild } from './lib/children.js';
import { cpuMs } from './lib/proc-stats.js';
import { freePort, waitUntil } from './lib/ports.js';
import { BenchRedis } from './lib/redis-server.js';
import { diagnosticArgs } from './lib/services.js';
import { percentile, round } from './timing.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const WARMUP = 500;
const LATENCY_SAMPLES = 5000;
const TTFT_SAMPLES = 3000;
const CONCURRENCY = 32;
const THROUGHPUT_MS = 5000;
const SLOW_UPSTREAM_MS = 50;
const LATENCY_BOUND_CONCURRENCY = 64;
const BUDGET = { addedP99Ms: 1, throughputRatio: 0.9 };

const CHAT = JSON.stringify({ model: 'gpt-4', messages: [{ role: 'user', content: 'Say something short.' }], max_tokens: 16 });
const STREAM = JSON.stringify({ model: 'gpt-4', messages: [{ role: 'user', content: 'Say something short.' }], max_tokens: 16, stream: true });
/** The first chunk with generated text: `"content":"` followed by something. */
const CONTENT = /"content":"[^"]/;

export interface Percentiles {
  p50: number;
  p99: number;
}

export interface Comparison {
  /** Requests each way. */
  samples: number;
  directMs: Percentiles;
  proxiedMs: Percentiles;
  /** Proxied minus direct, per percentile. */
  addedMs: Percentiles;
  /** Through a bare TCP relay, minus direct, in the same loop: what any extra process on the path costs here. */
  relayAddedMs: Percentiles;
  /** Through a bare Node HTTP proxy (Node's server, undici, nothing observed), minus direct, in the same loop. */
  nodeProxyAddedMs: Percentiles;
}

export interface ThroughputComparison {
  concurrency: number;
  upstreamLatencyMs: number;
  directPerSec: number;
  proxiedPerSec: number;
  /** proxied / direct. */
  ratio: number;
}

export interface ProxyOverheadResult {
  latency: Comparison;
  ttft: Comparison;
  /** CPU per request under the saturated load: the proxy's, and the bare Node HTTP proxy's. */
  saturated: ThroughputComparison & { proxyCpuUsPerRequest: number; nodeProxyCpuUsPerRequest: number };
  latencyBound: ThroughputComparison;
  /** The proxy's event counters at the end: every observed event should be appended. */
  events: { appended: number; dropped: number };
  /** 1-minute load average at start and end: on a shared machine, the noise the figures carry. */
  loadAvg1m: { start: number; end: number };
  budget: typeof BUDGET & { addedP99Pass: boolean; throughputPass: boolean };
}

export async function benchProxyOverhead(log: (line: string) => void = console.log): Promise<ProxyOverheadResult | { skipped: string }> {
  if (!hasRedisServer()) return { skipped: 'no redis-server on PATH (apt-get install redis-server)' };
  const loadAtStart = round(loadavg()[0]!, 2);
  const redis = await BenchRedis.start();
  const stack: { stop(): Promise<void> }[] = [redis];
  try {
    const fast = await startUpstream({});
    stack.push(fast);
    const proxy = await startProxy(redis.url, fast.url);
    stack.push(proxy);
    const relay = await startReference('tcp-relay', fast.port);
    stack.push(relay);
    const nodeProxy = await startReference('http-relay', fast.port);
    stack.push(nodeProxy);
    const ports = { direct: fast.port, relay: relay.port, nodeProxy: nodeProxy.port, proxied: proxy.proxyPort };

    log(`proxy: latency, ${LATENCY_SAMPLES} non-streaming requests each way (direct, TCP relay, bare Node proxy, Pulse proxy), one at a time`);
    const latency = await compareOneAtATime(ports, CHAT, LATENCY_SAMPLES, false);
    log(`proxy: TTFT, ${TTFT_SAMPLES} streaming requests each way`);
    const ttft = await compareOneAtATime(ports, STREAM, TTFT_SAMPLES, true);
    log(`proxy: saturated throughput, ${CONCURRENCY} clients, ${THROUGHPUT_MS / 1000} s per run`);
    const cpuBefore = cpuMs(proxy.pid);
    const saturated = await compareThroughput(fast.port, proxy.proxyPort, CONCURRENCY, 0);
    const proxyCpuUsPerRequest = round(((cpuMs(proxy.pid) - cpuBefore) * 1000) / saturated.proxiedRequests, 1);
    const nodeProxyCpuUsPerRequest = await cpuPerRequest(nodeProxy, CONCURRENCY);

    const slow = await startUpstream({ FAKE_OPENAI_LATENCY_MS: String(SLOW_UPSTREAM_MS) });
    stack.push(slow);
    const slowProxy = await startProxy(redis.url, slow.url);
    stack.push(slowProxy);
    log(`proxy: latency-bound throughput (${SLOW_UPSTREAM_MS} ms upstream), ${LATENCY_BOUND_CONCURRENCY} clients`);
    const latencyBound = await compareThroughput(slow.port, slowProxy.proxyPort, LATENCY_BOUND_CONCURRENCY, SLOW_UPSTREAM_MS);

    const events = await Promise.all([proxy, slowProxy].map((p) => p.events()));
    const result: ProxyOverheadResult = {
      latency,
      ttft,
      saturated: { ...withoutCounts(saturated), proxyCpuUsPerRequest, nodeProxyCpuUsPerRequest },
      latencyBound: withoutCounts(latencyBound),
      events: { appended: events.reduce((n, e) => n + e.appended, 0), dropped: events.reduce((n, e) => n + e.dropped, 0) },
      loadAvg1m: { start: loadAtStart, end: round(loadavg()[0]!, 2) },
      budget: {
        ...BUDGET,
        addedP99Pass: latency.addedMs.p99 <= BUDGET.addedP99Ms,
        throughputPass: latencyBound.ratio >= BUDGET.throughputRatio,
      },
    };
    log(`proxy: ${JSON.stringify(result)}`);
    return result;
  } finally {
    for (const p of stack.reverse()) await p.stop();
  }
}

/** The Markdown section of docs/PERFORMANCE.md for this scenario. */
export function renderProxyOverhead(r: ProxyOverheadResult | { skipped: string }): string {
  if ('skipped' in r) return `## Ingest proxy overhead\n\nSkipped: ${r.skipped}.\n`;
  const ms = (p: Percentiles) => `${p.p50} / ${p.p99}`;
  const pct = (x: number) => `${round(x * 100, 1)} %`;
  return [
    '## Ingest proxy overhead',
    '',
    'The fake OpenAI upstream and the proxy (services/proxy, events to a local Redis) as processes; one client',
    'sends the same requests direct, through two reference hops and through the proxy, in turn, one at a time.',
    'Added = through the hop − direct, per percentile. References, as processes in the same place: a bare TCP relay',
    '(copies bytes: what any extra process on the path costs on this machine) and a bare Node HTTP proxy (Node\'s',
    'server and undici, as the proxy uses them, observing nothing: what Node\'s HTTP stack costs).',
    '',
    '| | direct p50 / p99 ms | proxied p50 / p99 ms | added by the proxy | added by a bare TCP relay | added by a bare Node HTTP proxy |',
    '|---|---|---|---|---|---|',
    `| non-streaming latency (${r.latency.samples} each) | ${ms(r.latency.directMs)} | ${ms(r.latency.proxiedMs)} | ${ms(r.latency.addedMs)} | ${ms(r.latency.relayAddedMs)} | ${ms(r.latency.nodeProxyAddedMs)} |`,
    `| streaming TTFT (${r.ttft.samples} each) | ${ms(r.ttft.directMs)} | ${ms(r.ttft.proxiedMs)} | ${ms(r.ttft.addedMs)} | ${ms(r.ttft.relayAddedMs)} | ${ms(r.ttft.nodeProxyAddedMs)} |`,
    '',
    '| throughput | clients | direct req/s | proxied req/s | proxied / direct |',
    '|---|---|---|---|---|',
    `| saturated (upstream answers at once) | ${r.saturated.concurrency} | ${r.saturated.directPerSec} | ${r.saturated.proxiedPerSec} | ${pct(r.saturated.ratio)} |`,
    `| latency-bound (upstream ${r.latencyBound.upstreamLatencyMs} ms) | ${r.latencyBound.concurrency} | ${r.latencyBound.directPerSec} | ${r.latencyBound.proxiedPerSec} | ${pct(r.latencyBound.ratio)} |`,
    '',
    `Under the saturated load the proxy spends ${r.saturated.proxyCpuUsPerRequest} µs of CPU per request (forwarding, observing, events); ` +
      `the bare Node HTTP proxy ${r.saturated.nodeProxyCpuUsPerRequest} µs.`,
    `Events appended: ${r.events.appended}, dropped: ${r.events.dropped}. ` +
      `Load average (1 min) ${r.loadAvg1m.start} at the start, ${r.loadAvg1m.end} at the end.`,
    `Budget: added p99 ≤ ${r.budget.addedP99Ms} ms — ${r.budget.addedP99Pass ? 'met' : 'missed'}; ` +
      `≥ ${pct(r.budget.throughputRatio)} of direct throughput (latency-bound) — ${r.budget.throughputPass ? 'met' : 'missed'}.`,
    '',
  ].join('\n');
}

interface Upstream {
  port: number;
  url: string;
  stop(): Promise<void>;
}

/** The fake upstream as its start script runs it, answering at once unless `env` says otherwise. */
async function startUpstream(env: Record<string, string>): Promise<Upstream> {
  const port = await freePort();
  const child: ChildProcess = spawn(process.execPath, ['services/fake-openai/dist/main.js'], {
    cwd: ROOT,
    env: {
      PATH: process.env.PATH ?? '',
      HOST: '127.0.0.1',
      PORT: String(port),
      LOG_LEVEL: 'warn',
      FAKE_OPENAI_LATENCY_MS: '0',
      FAKE_OPENAI_TTFT_MS: '0',
      FAKE_OPENAI_TOKENS_PER_SEC: '0',
      FAKE_OPENAI_ERROR_RATE: '0',
      ...env,
    },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  killOnExit(child);
  const url = `http://127.0.0.1:${port}`;
  await waitUntil('fake-openai', async () => (await fetch(`${url}/readyz`)).status === 200);
  return {
    port,
    url,
    stop: () => stopChild(child),
  };
}

/** A reference hop in front of the upstream: bench/src/workers/tcp-relay.ts or http-relay.ts. */
async function startReference(worker: 'tcp-relay' | 'http-relay', upstreamPort: number): Promise<{ port: number; pid: number; stop(): Promise<void> }> {
  const port = await freePort();
  const child = spawn(process.execPath, [fileURLToPath(new URL(`./workers/${worker}.js`, import.meta.url)), String(port), String(upstreamPort)], {
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  killOnExit(child);
  await waitUntil(worker, async () => (await fetch(`http://127.0.0.1:${port}/readyz`)).status === 200);
  return {
    port,
    pid: child.pid!,
    stop: () => stopChild(child),
  };
}

/** CPU µs per request of a reference hop under the saturated load, over two runs like the proxy's. */
async function cpuPerRequest(hop: { port: number; pid: number }, concurrency: number): Promise<number> {
  const before = cpuMs(hop.pid);
  let requests = 0;
  for (let run = 0; run < 2; run++) requests += (await closedLoop(hop.port, concurrency)).requests;
  return round(((cpuMs(hop.pid) - before) * 1000) / requests, 1);
}

interface BenchProxy {
  pid: number;
  proxyPort: number;
  events(): Promise<{ appended: number; dropped: number }>;
  stop(): Promise<void>;
}

/**
 * The proxy as its start script runs it, events to `redisUrl`. Its own
 * endpoints are on the admin port: the proxy port forwards every path.
 */
async function startProxy(redisUrl: string, upstream: string): Promise<BenchProxy> {
  const proxyPort = await freePort();
  const admin = `http://127.0.0.1:${await freePort()}`;
  const child = spawn(process.execPath, [...diagnosticArgs('proxy'), 'services/proxy/dist/main.js'], {
    cwd: ROOT,
    env: {
      PATH: process.env.PATH ?? '',
      HOST: '127.0.0.1',
      LOG_LEVEL: 'warn',
      REDIS_URL: redisUrl,
      PORT: String(proxyPort),
      PULSE_PROXY_ADMIN_PORT: new URL(admin).port,
      PULSE_PROXY_UPSTREAMS: upstream,
      PULSE_NODE_ID: 'bench-proxy',
    },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  killOnExit(child);
  await waitUntil('proxy', async () => child.exitCode !== null || (await fetch(`${admin}/readyz`)).status === 200);
  if (child.exitCode !== null) throw new Error(`the proxy exited with ${child.exitCode} (its stderr is above)`);
  return {
    pid: child.pid!,
    proxyPort,
    events: async () => ((await (await fetch(`${admin}/status`)).json()) as { events: { appended: number; dropped: number } }).events,
    stop: () => stopChild(child),
  };
}

/** `samples` requests each way, in turn — direct, relay, bare Node proxy, Pulse proxy — one at a time after a warm-up. */
async function compareOneAtATime(
  ports: { direct: number; relay: number; nodeProxy: number; proxied: number },
  body: string,
  samples: number,
  toFirstContent: boolean,
): Promise<Comparison> {
  const ways = (['direct', 'relay', 'nodeProxy', 'proxied'] as const).map((way) => ({
    way,
    port: ports[way],
    agent: new http.Agent({ keepAlive: true, maxSockets: 1 }),
    ms: [] as number[],
  }));
  try {
    for (let i = 0; i < WARMUP + samples; i++) {
      for (const w of ways) {
        const ms = await timedRequest(w.agent, w.port, body, toFirstContent);
        if (i >= WARMUP) w.ms.push(ms);
      }
    }
  } finally {
    for (const w of ways) w.agent.destroy();
  }
  const [directMs, relayMs, nodeProxyMs, proxiedMs] = ways.map((w) => percentiles(w.ms)) as [Percentiles, Percentiles, Percentiles, Percentiles];
  const minus = (a: Percentiles, b: Percentiles) => ({ p50: round(a.p50 - b.p50), p99: round(a.p99 - b.p99) });
  return {
    samples,
    directMs,
    proxiedMs,
    addedMs: minus(proxiedMs, directMs),
    relayAddedMs: minus(relayMs, directMs),
    nodeProxyAddedMs: minus(nodeProxyMs, directMs),
  };
}

/** Direct, proxied, direct, proxied: each figure is the mean of its two runs. */
async function compareThroughput(directPort: number, proxyPort: number, concurrency: number, upstreamLatencyMs: number) {
  const runs = { direct: [] as number[], proxied: [] as number[] };
  let proxiedRequests = 0;
  for (let run = 0; run < 2; run++) {
    runs.direct.push((await closedLoop(directPort, concurrency)).perSec);
    const p = await closedLoop(proxyPort, concurrency);
    runs.proxied.push(p.perSec);
    proxiedRequests += p.requests;
  }
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  const directPerSec = mean(runs.direct);
  const proxiedPerSec = mean(runs.proxied);
  return {
    concurrency,
    upstreamLatencyMs,
    directPerSec: Math.round(directPerSec),
    proxiedPerSec: Math.round(proxiedPerSec),
    ratio: round(proxiedPerSec / directPerSec, 3),
    proxiedRequests,
  };
}

function withoutCounts<T extends { proxiedRequests: number }>(t: T): Omit<T, 'proxiedRequests'> {
  const { proxiedRequests: _, ...rest } = t;
  return rest;
}

async function closedLoop(port: number, concurrency: number): Promise<{ requests: number; perSec: number }> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency });
  let requests = 0;
  const started = performance.now();
  const until = started + THROUGHPUT_MS;
  try {
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        while (performance.now() < until) {
          await timedRequest(agent, port, CHAT, false);
          requests++;
        }
      }),
    );
  } finally {
    agent.destroy();
  }
  return { requests, perSec: requests / ((performance.now() - started) / 1000) };
}

/** ms from sending to the last byte, or to the first content chunk; rejects on a non-200. */
function timedRequest(agent: http.Agent, port: number, body: string, toFirstContent: boolean): Promise<number> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    let firstContent = NaN;
    const req = http.request(
      { host: '127.0.0.1', port, path: '/v1/chat/completions', method: 'POST', agent, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } },
      (res) => {
        if (res.statusCode !== 200) reject(new Error(`status ${res.statusCode}`));
        let seen = '';
        res.on('data', (chunk: Buffer) => {
          if (!toFirstContent || !Number.isNaN(firstContent)) return;
          seen += chunk.toString('latin1');
          if (CONTENT.test(seen)) firstContent = performance.now() - t0;
        });
        res.on('end', () => resolve(toFirstContent ? firstContent : performance.now() - t0));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

function percentiles(samples: number[]): Percentiles {
  const sorted = [...samples].sort((a, b) => a - b);
  return { p50: round(percentile(sorted, 0.5)), p99: round(percentile(sorted, 0.99)) };
}

function hasRedisServer(): boolean {
  try {
    execFileSync('redis-server', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}
