/**
 * Scenario 2, fan-out: 1k, 5k and 10k WebSocket clients on one gateway,
 * interval 1 s, ten distinct filters; at the same time as many clients of
 * the same processes on the bare-ws floor, which sends the same bytes (the
 * frame sizes Pulse sends each filter group) every second. Side by side,
 * in one measured window per client count.
 *
 * The aggregator and gateway tick every 1 s here, so each snapshot goes to
 * every client at once, as the floor does; with the default 0.5 s tick,
 * clients at 1 s split into two halves served on alternate ticks, and the
 * spread would look twice as good as it is.
 */
import { REST_PATCHES } from '@pulse/metrics';
import { ClientFleet } from '../lib/client-fleet.js';
import { Pipeline } from '../lib/pipeline.js';
import { sleep } from '../lib/ports.js';
import { CpuMeter, rssBytes, type CpuWindow } from '../lib/proc-stats.js';
import { WorkerProcess } from '../lib/rpc.js';
import { round } from '../timing.js';
import { ENDPOINTS as E, MODELS as M } from '../workers/event-batch.js';
import { fanoutFigures, type FanoutFigures } from './fanout-stats.js';

const TICK_MS = 1000;
/** BENCH_FANOUT_CLIENTS=5000,10000 runs only those (for profiling one size). */
const CLIENT_COUNTS = process.env.BENCH_FANOUT_CLIENTS?.split(',').map(Number) ?? [1000, 5000, 10_000];
/** Subscriptions settle and the first updates flow before measuring. */
const WARMUP_MS = 4000;
/**
 * Before measuring, the gateway serves its clients this long: the aggregate
 * distributions no view reads come to rest within twice REST_PATCHES ticks
 * (aggregates.ts), as in a gateway that has been running.
 */
const SETTLE_MS = Math.max(WARMUP_MS, 2 * REST_PATCHES * TICK_MS);
/**
 * One gateway heartbeat period (PULSE_GATEWAY_HEARTBEAT_MS, 30 s by default):
 * the window holds exactly one round of pings, so their cost counts once.
 */
const MEASURE_MS = 30_000;
const FEED_PER_SEC = 2000;

/** Ten distinct filters: views by endpoint and model, and metric-type subsets. */
export const FILTERS: Record<string, unknown>[] = [
  { interval: 1 },
  { endpoint: E[0], interval: 1 },
  { endpoint: E[1], metric_type: 'latency', interval: 1 },
  { model: M[0], interval: 1 },
  { model: M[1], endpoint: E[2], interval: 1 },
  { metric_type: 'throughput', interval: 1 },
  { endpoints: [E[3], E[4]], interval: 1 },
  { model: M[2], metric_type: 'cache', interval: 1 },
  { metric_types: ['streaming', 'error'], interval: 1 },
  { endpoint: E[5], metric_type: 'queue', interval: 1 },
];

export interface FanoutRun {
  clients: number;
  connectMs: { pulse: number; bare: number };
  pulse: FanoutFigures;
  bare: FanoutFigures;
  /** Pulse over bare, measured side by side. */
  ratio: { cpu: number; spreadP99: number; messagesPerCore: number; rssPerClient: number };
  /** Every process over the one measured window. */
  cpu: CpuWindow;
}

export interface FanoutResult {
  tickMs: number;
  /** Nodes the feed came from: 8 (today's shape) or 64 (a fleet's, issue 13). */
  nodes: number;
  filters: number;
  feedPerSec: number;
  measureSeconds: number;
  runs: FanoutRun[];
  /** Cells (node × endpoint × model) in the aggregator's window after the last measured window, from its /status. */
  cells?: number;
}

export async function benchFanout(log: (line: string) => void): Promise<FanoutResult> {
  return fanout({ nodes: 8, feedPerSec: FEED_PER_SEC, clients: CLIENT_COUNTS }, log);
}

/**
 * The same at a fleet's shape (issue 13): 64 nodes × 20 endpoints × 5
 * models, 2,000 requests/s (4,000 events/s), 5,000 clients: what the node
 * dimension costs a gateway (applying each tick's patch to its replica and
 * its aggregates) beside the floor.
 */
export async function benchFanoutFleet(log: (line: string) => void): Promise<FanoutResult> {
  // Every cell: the feeder's default 8 bodies reach only ~390 of the 6,400 cells, a tenth of the fleet's snapshot.
  return fanout({ nodes: 64, feedPerSec: 4000, clients: [5000], everyCell: true }, log);
}

async function fanout(shape: { nodes: number; feedPerSec: number; clients: number[]; everyCell?: boolean }, log: (line: string) => void): Promise<FanoutResult> {
  const pipeline = await Pipeline.start({ tickMs: TICK_MS, feedPerSec: shape.feedPerSec, nodes: shape.nodes, everyCell: shape.everyCell });
  const runs: FanoutRun[] = [];
  let cells: number | undefined;
  try {
    for (const clients of shape.clients) runs.push(await side(pipeline, clients, log));
    cells = ((await (await fetch(`${pipeline.aggregator.url}/status`)).json()) as { cells: number }).cells;
  } finally {
    await pipeline.stop();
  }
  return { tickMs: TICK_MS, nodes: shape.nodes, filters: FILTERS.length, feedPerSec: shape.feedPerSec, measureSeconds: MEASURE_MS / 1000, runs, cells };
}

/**
 * One client count: the same client processes hold N sockets to the gateway
 * and N to the floor at once. Pulse's snapshots go out on the whole second,
 * the floor's frames half a second later, so each burst has the clients to
 * itself, and both are measured over the same window: whatever else loads
 * the machine meanwhile loads both alike.
 */
async function side(pipeline: Pipeline, clients: number, log: (line: string) => void): Promise<FanoutRun> {
  const fleet = await ClientFleet.start(2 * clients);
  const floor = await WorkerProcess.start('bare-ws', 'bare-ws-server');
  try {
    const gateway = await pipeline.startGateway();
    const { port } = await floor.call<{ port: number }>('listen');
    await sleep(2000);
    const rssBefore = { pulse: rssBytes(gateway.pid), bare: rssBytes(floor.pid) };
    const pulseConnect = await fleet.connect('pulse', `ws://127.0.0.1:${gateway.port}/metrics/stream`, clients, FILTERS);
    const bareConnect = await fleet.connect('bare', `ws://127.0.0.1:${port}/metrics/stream`, clients, FILTERS);
    log(`fanout ${clients}: ${pulseConnect.open} clients on the gateway in ${pulseConnect.ms} ms, ${bareConnect.open} on the floor in ${bareConnect.ms} ms`);

    // The floor sends what Pulse sends: learn Pulse's frame size per filter group first.
    await sleep(WARMUP_MS);
    await fleet.begin();
    await sleep(2500);
    const sizes = (await fleet.end()).pulse?.frameBytes ?? [];
    const frameBytes = FILTERS.map((_, g) => sizes[g] ?? sizes[0] ?? 8192);
    await floor.call('start', { tickMs: TICK_MS, offsetMs: TICK_MS / 2, frameBytes });
    await sleep(SETTLE_MS);

    const procs = () => [...pipeline.pids(), ...fleet.pids(), { name: 'bare-ws', pid: floor.pid }];
    const meter = new CpuMeter(procs);
    await fleet.begin();
    meter.begin();
    const startMs = Date.now();
    await sleep(MEASURE_MS);
    const cpu = meter.end();
    const endMs = Date.now();
    const stats = await fleet.end();
    const rssEnd = { pulse: rssBytes(gateway.pid), bare: rssBytes(floor.pid) };
    const window = { startMs, endMs, seconds: (endMs - startMs) / 1000 };
    const clientCpu = Object.fromEntries(Object.entries(cpu.cpuPct).filter(([name]) => name.startsWith('clients-')));
    const figures = (label: 'pulse' | 'bare', server: string): FanoutFigures => {
      const st = stats[label];
      if (!st) throw new Error(`no ${label} client reported anything`);
      return fanoutFigures(st, TICK_MS, window, clients, cpu.cpuPct[server] ?? NaN, { before: rssBefore[label], end: rssEnd[label] }, clientCpu);
    };
    const pulse = figures('pulse', 'gateway');
    const bare = figures('bare', 'bare-ws');
    await fleet.disconnect();
    await pipeline.stopGateway();

    const run: FanoutRun = {
      clients,
      connectMs: { pulse: pulseConnect.ms, bare: bareConnect.ms },
      pulse,
      bare,
      ratio: {
        cpu: round(pulse.serverCpuPct / bare.serverCpuPct, 2),
        spreadP99: round(pulse.spreadMs.p99 / bare.spreadMs.p99, 2),
        messagesPerCore: round(pulse.messagesPerSecPerCore / bare.messagesPerSecPerCore, 2),
        rssPerClient: round(pulse.rssPerClientKiB / bare.rssPerClientKiB, 2),
      },
      cpu,
    };
    log(
      `fanout ${clients}: CPU ${pulse.serverCpuPct} % vs bare ${bare.serverCpuPct} % (×${run.ratio.cpu}); spread p99 ${pulse.spreadMs.p99} vs ${bare.spreadMs.p99} ms; ` +
        `msgs/s ${pulse.messagesPerSec} vs ${bare.messagesPerSec}; interval p99 ${pulse.intervalMs.p99} ms; complete ${pulse.complete}/${pulse.snapshots}; ` +
        `RSS/client ${pulse.rssPerClientKiB} vs ${bare.rssPerClientKiB} KiB; clients CPU ${JSON.stringify(clientCpu)}`,
    );
    return run;
  } finally {
    await fleet.stop();
    await floor.stop();
  }
}
