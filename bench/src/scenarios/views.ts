/**
 * Distinct views (issue 19): the same number of clients on one gateway, all
 * sharing one view, then each with a view of its own (random subsets of
 * endpoints, models or nodes, and of metric types), interval 0.5 s at the
 * default 0.5 s tick, side by side on one pipeline — at 1,000, 5,000 and
 * 10,000 clients, at today's shape (the feed's 20 endpoints × 5 models from 8
 * nodes) and at the fleet's (the same from 64 nodes: 6,400 cells, fleet.ts).
 * The shared case is the floor: what sending costs. The distinct case adds a
 * view build per client per snapshot, and past PULSE_GATEWAY_VIEW_BUDGET_MS
 * the budget slows the costliest views (their clients get fewer updates;
 * `slowed` says how many). The ceiling (PULSE_GATEWAY_MAX_VIEWS) is lifted
 * above the largest size so every client does get a view of its own.
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
const CLIENT_COUNTS = process.env.BENCH_VIEWS_CLIENTS?.split(',').map(Number) ?? [1000, 5000, 10_000];
/** BENCH_VIEWS_SHAPES=fleet runs only that shape. */
const SHAPE_NAMES = process.env.BENCH_VIEWS_SHAPES?.split(',') ?? ['today', 'fleet'];
const WARMUP_MS = 5000;
/** Each size's window: 12 s, so twelve runs (two shapes, three sizes, shared and distinct) stay within ~6 minutes. */
const MEASURE_MS = Number(process.env.BENCH_VIEWS_MEASURE_MS ?? 12_000);
const FEED_PER_SEC = 2000;
/** Above the largest size: every distinct client gets its view (the default ceiling would refuse half of 10,000). */
const MAX_VIEWS = 20_000;
const TYPES = ['throughput', 'latency', 'cache', 'queue', 'streaming', 'error', 'slo', 'nodes'];

/** A feed shape: the feed's endpoints and models from this many nodes. */
export interface ViewsShape {
  name: string;
  nodes: number;
}

export const VIEW_SHAPES: ViewsShape[] = [
  { name: 'today', nodes: 8 },
  { name: 'fleet', nodes: 64 },
];

export interface ViewsRun {
  shape: string;
  cells: string;
  clients: number;
  /** Clients whose socket opened (on a loaded machine some of the largest sizes time out). */
  connected: number;
  kind: 'shared' | 'distinct';
  figures: FanoutFigures;
  /** Distinct views the gateway held, and how many of them its budget slowed, at the end. */
  views: number;
  slowed: number;
  cpu: CpuWindow;
}

export interface ViewsResult {
  tickMs: number;
  feedPerSec: number;
  measureSeconds: number;
  runs: ViewsRun[];
}

/** `n` filters with pairwise distinct views: a random subset of endpoints, models or nodes each, and of metric types. */
export function distinctFilters(n: number, seed = 19, nodeCount = 8): Record<string, unknown>[] {
  const r = seededRandom(seed);
  const nodes = Array.from({ length: nodeCount }, (_, i) => `fakeai-${i}`);
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
  const runs: ViewsRun[] = [];
  for (const shape of VIEW_SHAPES.filter((s) => SHAPE_NAMES.includes(s.name))) {
    const pipeline = await Pipeline.start({ tickMs: TICK_MS, feedPerSec: FEED_PER_SEC, nodes: shape.nodes, gatewayEnv: { PULSE_GATEWAY_MAX_VIEWS: String(MAX_VIEWS) } });
    try {
      for (const clients of CLIENT_COUNTS) {
        for (const kind of ['shared', 'distinct'] as const) runs.push(await side(pipeline, shape, clients, kind, log));
      }
    } finally {
      await pipeline.stop();
    }
  }
  return { tickMs: TICK_MS, feedPerSec: FEED_PER_SEC, measureSeconds: MEASURE_MS / 1000, runs };
}

async function side(pipeline: Pipeline, shape: ViewsShape, clients: number, kind: 'shared' | 'distinct', log: (line: string) => void): Promise<ViewsRun> {
  const fleet = await ClientFleet.start(clients);
  try {
    const gateway = await pipeline.startGateway();
    await sleep(1000);
    const rssBefore = rssBytes(gateway.pid);
    const filters = kind === 'shared' ? [{ interval: TICK_MS / 1000 }] : distinctFilters(clients, 19, shape.nodes);
    const connected = await fleet.connect(kind, `ws://127.0.0.1:${gateway.port}/metrics/stream`, clients, filters);
    log(`views ${shape.name} ${clients} ${kind}: ${connected.open} clients in ${connected.ms} ms`);
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
    const figures = fanoutFigures(stats, TICK_MS, { startMs, endMs, seconds: (endMs - startMs) / 1000 }, connected.open, cpu.cpuPct.gateway ?? NaN, { before: rssBefore, end: rssBytes(gateway.pid) }, clientCpu);
    const cells = `${shape.nodes} nodes × ${ENDPOINTS.length} endpoints × ${MODELS.length} models`;
    const run: ViewsRun = { shape: shape.name, cells, clients, connected: connected.open, kind, figures, views: gauge('pulse_gateway_views'), slowed: gauge('pulse_gateway_views_slowed'), cpu };
    log(
      `views ${shape.name} ${clients} ${kind}: gateway CPU ${figures.serverCpuPct} %, interval p50/p99 ${figures.intervalMs.p50}/${figures.intervalMs.p99} ms, ` +
        `complete ${figures.complete}/${figures.snapshots}, missing ${figures.missing}, views ${run.views} (${run.slowed} slowed), msgs/s ${round(figures.messagesPerSec)}`,
    );
    await fleet.disconnect();
    await pipeline.stopGateway();
    return run;
  } finally {
    await fleet.stop();
  }
}
