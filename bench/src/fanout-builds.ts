/**
 * Gateway CPU in the fan-out scenario at the fleet's shape (scenarios/fanout.ts
 * `benchFanoutFleet`), this checkout's gateway against another's, side by
 * side: `node bench/dist/fanout-builds.js /path/to/other/checkout [windows]`
 * (the other checkout built, its node_modules resolving its own packages).
 *
 * One pipeline of this checkout (Redis, ingest, aggregator, the feeder at
 * 64 nodes) feeds both gateways the same snapshots, and the same client
 * processes hold 5,000 sockets to each, with the scenario's ten filters. Each
 * gateway's CPU is read over 30 s windows. Where the fan-out scenario's ratio
 * to the bare-`ws` floor moves by ±15 % from run to run on this machine, the
 * two gateways here meet the same load at the same moments.
 *
 * It runs twice, each build started (and connected to) first once, and
 * reports the geometric mean of the two orders' median ratios: with one
 * build on both sides, a script doing the same found the first one using
 * 3–9 % more. Even so, three runs of this with one build on both sides
 * gave ×1.063, ×0.973 and ×0.918: one run does not tell apart builds within
 * ~8 % of each other; it takes several (docs/PERFORMANCE.md §2b).
 */
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ClientFleet } from './lib/client-fleet.js';
import { checkoutOf } from './lib/builds.js';
import { GATEWAY_LIMITS, Pipeline } from './lib/pipeline.js';
import { sleep } from './lib/ports.js';
import { CpuMeter } from './lib/proc-stats.js';
import { ServiceProcess } from './lib/services.js';
import { FILTERS } from './scenarios/fanout.js';
import { percentile, round } from './timing.js';

const CLIENTS = 5000;
/** As the fan-out scenario: every snapshot goes to every client at once. */
const TICK_MS = 1000;
/** After connecting: the first updates flow and the aggregates no view reads come to rest. */
const SETTLE_MS = 25_000;
const WINDOW_MS = 30_000;

interface Build {
  name: 'this' | 'other';
  root: string;
}

/** Both gateways, `first` started and connected first; this build's CPU over the other's, per window. */
async function measure(pipeline: Pipeline, fleet: ClientFleet, first: Build, second: Build, windows: number): Promise<number[]> {
  const env = { ...pipeline.env, ...GATEWAY_LIMITS };
  const gateways: Record<string, ServiceProcess> = {};
  try {
    for (const b of [first, second]) gateways[b.name] = await ServiceProcess.start('gateway', env, undefined, { root: b.root });
    for (const b of [first, second]) {
      const c = await fleet.connect(b.name, `ws://127.0.0.1:${gateways[b.name]!.port}/metrics/stream`, CLIENTS, FILTERS);
      if (c.open !== CLIENTS) throw new Error(`${b.name}: ${c.open} of ${CLIENTS} clients connected`);
    }
    await sleep(SETTLE_MS);
    const ratios: number[] = [];
    for (let w = 0; w < windows; w++) {
      const meter = new CpuMeter(() => Object.entries(gateways).map(([name, g]) => ({ name, pid: g.pid })));
      await fleet.begin();
      meter.begin();
      await sleep(WINDOW_MS);
      const { cpuPct } = meter.end();
      const stats = await fleet.end();
      const ratio = cpuPct.this! / cpuPct.other!;
      ratios.push(ratio);
      const got = (name: string) => stats[name]?.messages ?? 0;
      console.log(
        `${first.name} first, window ${w + 1}: this ${cpuPct.this} %, other ${cpuPct.other} % of a core (×${round(ratio, 3)}); ` +
          `messages this ${got('this')}, other ${got('other')}`,
      );
    }
    return ratios;
  } finally {
    await fleet.disconnect();
    await Promise.all(Object.values(gateways).map((g) => g.stop()));
  }
}

const median = (xs: number[]) => percentile([...xs].sort((a, b) => a - b), 0.5);

const other = process.argv[2];
if (!other) throw new Error('usage: node bench/dist/fanout-builds.js <other checkout> [windows]');
const windows = Number(process.argv[3] ?? 3);
const self: Build = { name: 'this', root: checkoutOf(fileURLToPath(import.meta.url)) };
const theirs: Build = { name: 'other', root: resolve(other) };
const pipeline = await Pipeline.start({ tickMs: TICK_MS, feedPerSec: 4000, nodes: 64, everyCell: true });
const fleet = await ClientFleet.start(2 * CLIENTS);
try {
  const thisFirst = median(await measure(pipeline, fleet, self, theirs, windows));
  const otherFirst = median(await measure(pipeline, fleet, theirs, self, windows));
  console.log(
    `this / other, median: ${round(thisFirst, 3)} with this first, ${round(otherFirst, 3)} with the other first; ` +
      `both orders (geometric mean): ×${round(Math.sqrt(thisFirst * otherFirst), 3)}`,
  );
} finally {
  await fleet.stop();
  await pipeline.stop();
}
