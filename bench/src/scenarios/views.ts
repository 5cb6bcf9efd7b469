/**
 * Distinct views (issue 19): the same number of clients on one gateway, all
 * sharing one view, then each with a view of its own (random subsets of
 * endpoints, models or nodes, and of metric types), interval 0.5 s at the
 * default 0.5 s tick, side by side on one pipeline. The shared case is the
 * floor: what sending costs. The distinct case adds a view build per client
 * per snapshot, and past PULSE_GATEWAY_VIEW_BUDGET_MS the budget slows the
 * costliest views (their clients get fewer updates; `slowed` says how many).
 */
import { ClientFleet } from '../lib/client-fleet.js';
import { Pipeline } from '../lib/pipeline.js';
import { sleep } from '../lib/ports.js';
import { CpuMeter, rssBytes, type CpuWindow } from '../lib/proc-stats.js';
import { round } from '../timing.js';
import { ENDPOINTS, MODELS } from '../workers/event-batch.js';
import { seededRandom } from '@pulse/simulator';
import { fanoutFigures, type FanoutFigures } from './fanout-stats.js';

const TICK_MS = 500;
/** BENCH_VIEWS_CLIENTS=5000 runs only that size. */
const CLIENT_COUNTS = process.env.BENCH_VIEWS_CLIENTS?.split(',').map(Number) ?? [1000, 5000];
const WARMUP_MS = 5000;
const MEASURE_MS = 20_000;
const FEED_PER_SEC = 2000;
const NODES = 8;
const TYPES = ['throughput', 'latency', 'cache', 'queue', 'streaming', 'error', 'slo', 'nodes'];

export interface ViewsRun {
  clients: number;
  kind: 'shared' | 'distinct';
  figures: FanoutFigures;
  /** Distinct views the gateway held, and how many of them its budget slowed, at the end. */
  views: number;
  slowed: number;
  cpu: CpuWindow;
}

export interface ViewsResult {
  tickMs: number;
  cells: string;
  feedPerSec: number;
  measureSeconds: number;
  runs: ViewsRun[];
}

/** `n` filters with pairwise distinct views: a random subset of endpoints, models or nodes each, and of metric types. */
export function distinctFilters(n: number, seed = 19): Record<string, unknown>[] {
  const r = seededRandom(seed);
  const nodes = Array.from({ length: NODES }, (_, i) => `fakeai-${i}`);
  const subset = (xs: readonly string[]) => {
    const out = xs.filter(() => r() < 0.5);
    return out.length > 0 ? out : [xs[Math.floor(r() * xs.length)]!];
  };
  const seen = new Set<string>();
  const out: Record<string, unknown>[] = [];
  while (out.length < n) {
    const kind = r();
    const f: Record<string, unknown> = { interval: TICK_MS / 1000, metric_types: subset(TYPES) };
    if (kind < 0.6) f.endpoints = subset(ENDPOINTS);
    else if (kind < 0.8) {
      f.endpoints = subset(ENDPOINTS);
      f.models = subset(MODELS);
    } else {
      f.endpoints = subset(ENDPOINTS);
      f.nodes = subset(nodes);
    }
    const key = JSON.stringify([f.endpoints, f.models ?? [], f.nodes ?? []]);
    if (seen.has(key)) continue;
    seen.add(key);
    out.push(f);
  }
  return out;
}

export async function benchViews(log: (line: string) => void): Promise<ViewsResult> {
  const pipeline = await Pipeline.start({ tickMs: TICK_MS, feedPerSec: FEED_PER_SEC, nodes: NODES });
  const runs: ViewsRun[] = [];
  try {
    for (const clients of CLIENT_COUNTS) {
      for (const kind of ['shared', 'distinct'] as const) runs.push(await side(pipeline, clients, kind, log));
    }
  } finally {
    await pipeline.stop();
  }
  return { tickMs: TICK_MS, cells: `${NODES} nodes × ${ENDPOINTS.length} endpoints × ${MODELS.length} models`, feedPerSec: FEED_PER_SEC, measureSeconds: MEASURE_MS / 1000, runs };
}

async function side(pipeline: Pipeline, clients: number, kind: 'shared' | 'distinct', log: (line: string) => void): Promise<ViewsRun> {
  const fleet = await ClientFleet.start(clients);
  try {
    const gateway = await pipeline.startGateway();
    await sleep(1000);
    const rssBefore = rssBytes(gateway.pid);
    const filters = kind === 'shared' ? [{ interval: TICK_MS / 1000 }] : distinctFilters(clients);
    const connected = await fleet.connect(kind, `ws://127.0.0.1:${gateway.port}/metrics/stream`, clients, filters);
    log(`views ${clients} ${kind}: ${connected.open} clients in ${connected.ms} ms`);
    await sleep(WARMUP_MS);
    const meter = new CpuMeter(() => [...pipeline.pids(), ...fleet.pids()]);
    await fleet.begin();
    meter.begin();
    const startMs = Date.now();
    await sleep(MEASURE_MS);
    const cpu = meter.end();
    const endMs = Date.now();
    const stats = (await fleet.end())[kind];
    if (!stats) throw new Error(`no ${kind} client reported anything`);
    const gauges = await (await fetch(`http://127.0.0.1:${gateway.port}/metrics`)).text();
    const gauge = (name: string) => Number(new RegExp(`^${name} (\\d+)$`, 'm').exec(gauges)?.[1] ?? NaN);
    const clientCpu = Object.fromEntries(Object.entries(cpu.cpuPct).filter(([name]) => name.startsWith('clients-')));
    const figures = fanoutFigures(stats, TICK_MS, { startMs, endMs, seconds: (endMs - startMs) / 1000 }, clients, cpu.cpuPct.gateway ?? NaN, { before: rssBefore, end: rssBytes(gateway.pid) }, clientCpu);
    const run: ViewsRun = { clients, kind, figures, views: gauge('pulse_gateway_views'), slowed: gauge('pulse_gateway_views_slowed'), cpu };
    log(
      `views ${clients} ${kind}: gateway CPU ${figures.serverCpuPct} %, interval p50/p99 ${figures.intervalMs.p50}/${figures.intervalMs.p99} ms, ` +
        `complete ${figures.complete}/${figures.snapshots}, missing ${figures.missing}, views ${run.views} (${run.slowed} slowed), msgs/s ${round(figures.messagesPerSec)}`,
    );
    await fleet.disconnect();
    await pipeline.stopGateway();
    return run;
  } finally {
    await fleet.stop();
  }
}
