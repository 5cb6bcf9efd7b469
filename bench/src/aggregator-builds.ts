/**
 * The aggregator's tick at the fleet shape (64 nodes × 20 endpoints × 5
 * models, 2,000 requests/s), this checkout's build against another's, side
 * by side: `node bench/dist/aggregator-builds.js /path/to/other/checkout [rounds]`
 * (the other checkout built, its node_modules resolving its own @pulse
 * packages). Each round runs each build in a fresh process, alternately, so
 * both meet the same machine; each process fills a window for two windows
 * of traffic, takes a keyframe (as a leader starts with; before it, no
 * cumulative slot has a reported value to move from), then times 120 patch
 * ticks by phase: applying the events, advancing the window, taking the
 * patch and encoding it. It prints each process's medians, ms.
 */
import { fileURLToPath } from 'node:url';
import { resolve } from 'node:path';
import { alternateBuilds } from './lib/builds.js';
import { SHAPES, Traffic } from './fleet.js';
import { percentile, round } from './timing.js';

const TICK_MS = 500;
const WINDOW_MS = 60_000;
const FILL_TICKS = (2 * WINDOW_MS) / TICK_MS;
const MEASURED_TICKS = 120;
const SLOS = 'interactive:ttft_ms<=300,itl_ms<=50;batch:latency_ms<=30000';

type Phases = Record<'total' | 'apply' | 'advance' | 'take' | 'encode', number>;

/** One process: this bench's tick loop over the packages of the checkout at `root`. */
async function measure(root: string): Promise<Phases> {
  const from = (path: string) => import(resolve(root, path));
  const { encodePatch, encodeSnapshot, parseSlos } = await from('node_modules/@pulse/protocol/dist/index.js');
  const { MetricsWindow, takePatch } = await from('node_modules/@pulse/metrics/dist/index.js');
  // This checkout's traffic for both builds: the same events, whichever window applies them.
  const traffic = new Traffic(SHAPES.find((s) => s.name === 'fleet')!);
  let t = Math.floor(Date.now() / TICK_MS) * TICK_MS;
  const w = new MetricsWindow({ windowMs: WINDOW_MS, bucketMs: TICK_MS, createdAtMs: t - 10 * WINDOW_MS, maxEndpoints: 1000, maxModels: 1000, maxNodes: 256, slos: parseSlos(SLOS) });
  const phases: Record<keyof Phases, number[]> = { total: [], apply: [], advance: [], take: [], encode: [] };
  const tick = (kind: 'fill' | 'keyframe' | 'patch') => {
    t += TICK_MS;
    const batch = traffic.tick(t);
    const started = performance.now();
    for (const e of batch) w.apply(e, t, true);
    const applied = performance.now();
    w.advance(t);
    const advanced = performance.now();
    if (kind === 'fill') return w.discardChanges();
    if (kind === 'keyframe') {
      encodeSnapshot(w.snapshot(t, 1, t / TICK_MS, 0));
      return w.reportedAll();
    }
    const patch = takePatch(w, t, 1, t / TICK_MS, t / TICK_MS - 1, 0);
    const taken = performance.now();
    encodePatch(patch);
    const encoded = performance.now();
    phases.apply.push(applied - started);
    phases.advance.push(advanced - applied);
    phases.take.push(taken - advanced);
    phases.encode.push(encoded - taken);
    phases.total.push(encoded - started);
  };
  for (let i = 0; i < FILL_TICKS; i++) tick('fill');
  tick('keyframe');
  for (let i = 0; i < MEASURED_TICKS; i++) tick('patch');
  const median = (xs: number[]) => round(percentile([...xs].sort((a, b) => a - b), 0.5), 1);
  return Object.fromEntries(Object.entries(phases).map(([k, xs]) => [k, median(xs)])) as Phases;
}

const here = fileURLToPath(import.meta.url);
if (process.argv[2] === '--measure') {
  console.log(JSON.stringify(await measure(process.argv[3]!)));
} else {
  const other = process.argv[2];
  if (!other) throw new Error('usage: node bench/dist/aggregator-builds.js <other checkout> [rounds]');
  alternateBuilds(here, other, Number(process.argv[3] ?? 3));
}
