/**
 * A gateway's work per tick at the fleet shape (64 nodes × 20 endpoints × 5
 * models, 2,000 requests/s, 0.5 s ticks), this checkout's build against
 * another's, side by side: `node bench/dist/gateway-builds.js
 * /path/to/other/checkout [rounds]` (the other checkout built, its
 * node_modules resolving its own @pulse packages). This checkout's
 * aggregator makes the messages once — a keyframe and 400 patches — so both
 * builds apply the same bytes. Each round runs each build in a fresh
 * process, alternately: it loads the keyframe, builds the fan-out scenario's
 * ten views once (which keeps every grouping they read, as a gateway serving
 * them does), applies 280 patches with the views after each, as a gateway
 * that has run for a few minutes, then times 120 more: decoding and applying
 * each, and building and serializing the ten views, with the caches evicted
 * before each patch. It prints each process's medians (and first quartiles), ms,
 * and over the 120 patches the collector's pauses and the process's CPU (its
 * collector's helper threads too, which a main-thread timing misses).
 */
import { constants, PerformanceObserver } from 'node:perf_hooks';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { fileURLToPath } from 'node:url';
import { join, resolve } from 'node:path';
import { encodePatch, encodeSnapshot, parseSlos, METRIC_TYPES, type MetricType } from '@pulse/protocol';
import { MetricsWindow, takePatch, type CellFilter } from '@pulse/metrics';
import { SHAPES, Traffic } from './fleet.js';
import { alternateBuilds } from './lib/builds.js';
import { FILTERS } from './scenarios/fanout.js';
import { percentile, round } from './timing.js';
import { ENDPOINTS, MODELS } from './workers/event-batch.js';

const TICK_MS = 500;
const WINDOW_MS = 60_000;
/**
 * Patches applied first, untimed: a gateway that has run over two minutes,
 * long past the 2 × REST_PATCHES within which the aggregate distributions
 * no view reads come to rest (aggregates.ts).
 */
const SETTLE_PATCHES = 280;
const PATCHES = SETTLE_PATCHES + 120;
const SLOS = 'interactive:ttft_ms<=300,itl_ms<=50;batch:latency_ms<=30000';
const SHAPE = SHAPES.find((s) => s.name === 'fleet')!;

/**
 * The fan-out scenario's ten filters (scenarios/fanout.ts FILTERS) as views
 * of the fleet: its feeder's i-th endpoint and model are the fleet's i-th.
 */
function fanoutViews(names: Traffic['names']): { filter: CellFilter; types: readonly MetricType[] }[] {
  // A wire filter's label as one name and as a list, the two read together as the gateway does.
  const labels = (f: Record<string, unknown>, one: string, many: string): string[] => [
    ...(typeof f[one] === 'string' ? [f[one]] : []),
    ...(Array.isArray(f[many]) ? (f[many] as string[]) : []),
  ];
  const renamed = (xs: string[], from: readonly string[], to: readonly string[]) => new Set(xs.map((x) => to[from.indexOf(x)]!));
  return FILTERS.map((f) => {
    const types = labels(f, 'metric_type', 'metric_types') as MetricType[];
    return {
      filter: {
        endpoints: renamed(labels(f, 'endpoint', 'endpoints'), ENDPOINTS, names.endpoints),
        models: renamed(labels(f, 'model', 'models'), MODELS, names.models),
        nodes: new Set<string>(),
      },
      types: types.length > 0 ? types : METRIC_TYPES,
    };
  });
}

/** This checkout's aggregator: a keyframe after two windows of traffic, then the patches after it. */
function makeMessages(dir: string): void {
  const traffic = new Traffic(SHAPE);
  let t = Math.floor(Date.now() / TICK_MS) * TICK_MS;
  const w = new MetricsWindow({ windowMs: WINDOW_MS, bucketMs: TICK_MS, createdAtMs: t - 10 * WINDOW_MS, maxEndpoints: 1000, maxModels: 1000, maxNodes: 256, slos: parseSlos(SLOS) });
  const tick = () => {
    t += TICK_MS;
    for (const e of traffic.tick(t)) w.apply(e, t, true);
    w.advance(t);
  };
  for (let i = 0; i < (2 * WINDOW_MS) / TICK_MS; i++) {
    tick();
    w.discardChanges();
  }
  tick();
  writeFileSync(join(dir, 'keyframe'), encodeSnapshot(w.snapshot(t, 1, t / TICK_MS, 0)));
  w.reportedAll();
  for (let i = 0; i < PATCHES; i++) {
    tick();
    writeFileSync(join(dir, `patch-${i}`), encodePatch(takePatch(w, t, 1, t / TICK_MS, t / TICK_MS - 1, 0)));
  }
  writeFileSync(join(dir, 'names.json'), JSON.stringify(traffic.names));
}

type Phases = Record<'total' | 'apply' | 'views', string> & { gc: string; cpu: string };

/** One process: the packages of the checkout at `root` applying the messages in `dir`. */
async function measure(root: string, dir: string): Promise<Phases> {
  const { SnapshotReplica, buildReplicaView, decodePatch, PatchDecoder } = {
    ...(await import(resolve(root, 'node_modules/@pulse/metrics/dist/index.js'))),
    ...(await import(resolve(root, 'node_modules/@pulse/protocol/dist/index.js'))),
  };
  // Decoded as that build's gateway decodes them: into one decoder's objects where the build has one.
  const decoder = PatchDecoder ? new PatchDecoder() : null;
  const decode = (b: Buffer) => (decoder ? decoder.decode(b) : decodePatch(b));
  const release = () => decoder?.release?.();
  const replica = SnapshotReplica.fromMessages([readFileSync(join(dir, 'keyframe'))]);
  const views = fanoutViews(JSON.parse(readFileSync(join(dir, 'names.json'), 'utf8')) as Traffic['names']);
  const serve = () => {
    for (const { filter, types } of views) {
      const view = buildReplicaView(replica, filter);
      for (const type of types) JSON.stringify(view.part(type));
    }
  };
  serve();
  const phases: Record<'total' | 'apply' | 'views', number[]> = { total: [], apply: [], views: [] };
  // Between two patches a gateway writes to thousands of sockets, and other processes run: its
  // caches are cold when the next patch comes. Applied back to back, warm, the patches measured ~30 % cheaper.
  const evict = new Uint8Array(64 << 20);
  // The collector's pauses over the timed patches (young-generation and full), which the phases include.
  const gc = { minor: 0, major: 0, ms: 0 };
  let timedFrom = Infinity;
  let cpuFrom = process.cpuUsage();
  // Entries come after the synchronous loop, each stamped with when its pause began.
  const pauses = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) {
      if (e.startTime < timedFrom) continue;
      const kind = (e as unknown as { detail?: { kind?: number } }).detail?.kind;
      if (kind === constants.NODE_PERFORMANCE_GC_MINOR) gc.minor++;
      else gc.major++;
      gc.ms += e.duration;
    }
  });
  pauses.observe({ entryTypes: ['gc'] });
  for (let i = 0; i < PATCHES; i++) {
    const patch = readFileSync(join(dir, `patch-${i}`));
    if (i === SETTLE_PATCHES) {
      timedFrom = performance.now();
      cpuFrom = process.cpuUsage();
    }
    for (let k = 0; k < evict.length; k += 64) evict[k]! += 1;
    const started = performance.now();
    if (replica.apply(decode(patch)) !== 'applied') throw new Error(`patch ${i} did not follow on`);
    release();
    const applied = performance.now();
    serve();
    const served = performance.now();
    if (i < SETTLE_PATCHES) continue;
    phases.apply.push(applied - started);
    phases.views.push(served - applied);
    phases.total.push(served - started);
  }
  // The median and the first quartile: this machine's neighbours stretch some patches, and the quartile moves least.
  const quantiles = (xs: number[]) => {
    xs.sort((a, b) => a - b);
    return `${round(percentile(xs, 0.5), 2)} (${round(percentile(xs, 0.25), 2)})`;
  };
  // The process's CPU over the timed patches, with the collector's threads that run beside the main one.
  const cpu = process.cpuUsage(cpuFrom);
  await new Promise((r) => setTimeout(r, 200)); // the observer's entries
  pauses.disconnect();
  const timed = PATCHES - SETTLE_PATCHES;
  return {
    ...(Object.fromEntries(Object.entries(phases).map(([k, xs]) => [k, quantiles(xs)])) as Omit<Phases, 'gc'>),
    gc: `${round(gc.ms / timed, 2)} ms/patch (${gc.minor} young, ${gc.major} full)`,
    cpu: `${round((cpu.user + cpu.system) / 1000 / timed, 2)} ms/patch`,
  };
}

const here = fileURLToPath(import.meta.url);
if (process.argv[2] === '--measure') {
  console.log(JSON.stringify(await measure(process.argv[3]!, process.argv[4]!)));
} else {
  const other = process.argv[2];
  if (!other) throw new Error('usage: node bench/dist/gateway-builds.js <other checkout> [rounds]');
  const dir = mkdtempSync(join(tmpdir(), 'pulse-gateway-builds-'));
  try {
    makeMessages(dir);
    alternateBuilds(here, other, Number(process.argv[3] ?? 3), [dir]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
