/**
 * Virtual FakeAI nodes on real timers. Each node has Poisson arrivals at its
 * share of the rate, emits `request.start` when a request arrives and
 * `request.end` when its planned latency has passed, and reports its own
 * in-flight counts as a `node.gauge` every gauge interval. Events go to
 * `emit` (a Reporter, in the simulator process).
 */
import { randomBytes } from 'node:crypto';
import type { ReporterEvent } from '@pulse/reporter';
import { exponentialGapMs, seededRandom, type Random } from './random.js';
import { planRequest, slowedDown, type PlannedRequest, type TrafficProfile } from './traffic.js';

export interface SimulatorOptions {
  nodes: number;
  /** Requests per second over all nodes. */
  ratePerSec: number;
  profile: TrafficProfile;
  gaugeIntervalMs: number;
  /**
   * Seeds one generator per node, so each node's requests are the same
   * sequence for the same seed whatever order the timers fire in.
   */
  random: Random;
  emit: (event: ReporterEvent) => void;
  /** Node names are `<prefix>-1` … `<prefix>-N`. Default `fakeai-sim`. */
  nodePrefix?: string;
  /** Node → factor (≥ 1) its latencies and TTFTs are multiplied by. */
  slowNodes?: ReadonlyMap<string, number>;
  /** Node → its own error rate, instead of the profile's. */
  failingNodes?: ReadonlyMap<string, number>;
  /**
   * In every request id, so that two runs with the same node names (and the
   * same seed) never reuse an id: an end of one run must not close a request
   * another run left in flight. Default: 48 random bits, not drawn from `random`.
   */
  runId?: string;
}

export interface SimulatorStats {
  started: number;
  ended: number;
  inFlight: number;
}

type Counts = Omit<SimulatorStats, 'inFlight'>;

interface InFlight {
  readonly plan: PlannedRequest;
  readonly timer: ReturnType<typeof setTimeout>;
}

/** What makes one node itself: its name, traffic, slowness and random stream. */
interface NodeTraits {
  readonly name: string;
  readonly profile: TrafficProfile;
  readonly slowdown: number;
  readonly random: Random;
}

const DEFAULT_NODE_PREFIX = 'fakeai-sim';

export function nodeNames(count: number, prefix = DEFAULT_NODE_PREFIX): string[] {
  return Array.from({ length: count }, (_, i) => `${prefix}-${i + 1}`);
}

class VirtualNode {
  readonly inFlight = new Map<string, InFlight>();
  private arrivals: ReturnType<typeof setTimeout> | null = null;
  private gauges: ReturnType<typeof setInterval> | null = null;
  private nextArrivalAt = 0;
  private counter = 0;

  constructor(
    private readonly traits: NodeTraits,
    private readonly ratePerSec: number,
    private readonly sim: { opts: SimulatorOptions; stats: Counts; runId: string },
  ) {}

  get name(): string {
    return this.traits.name;
  }

  start(): void {
    this.nextArrivalAt = performance.now() + exponentialGapMs(this.traits.random, this.ratePerSec);
    this.scheduleArrivals();
    this.gauges = setInterval(() => this.gauge(), this.sim.opts.gaugeIntervalMs);
  }

  stopArrivals(): void {
    if (this.arrivals) clearTimeout(this.arrivals);
    if (this.gauges) clearInterval(this.gauges);
    this.arrivals = this.gauges = null;
  }

  /** Ends what is still running without its `request.end`, and reports the node idle. */
  abandon(): void {
    for (const { timer } of this.inFlight.values()) clearTimeout(timer);
    this.inFlight.clear();
    this.gauge();
  }

  /**
   * Arrivals are due at exact times; a timer fires late or coarser than the
   * gaps at high rates, so each firing starts every request due by now.
   */
  private scheduleArrivals(): void {
    const now = performance.now();
    while (this.nextArrivalAt <= now) {
      this.arrive();
      this.nextArrivalAt += exponentialGapMs(this.traits.random, this.ratePerSec);
    }
    this.arrivals = setTimeout(() => this.scheduleArrivals(), this.nextArrivalAt - now);
  }

  private arrive(): void {
    const { opts, stats, runId } = this.sim;
    const planned = planRequest(this.traits.random, this.traits.profile);
    const plan = { ...planned, end: slowedDown(planned.end, this.traits.slowdown) };
    const requestId = `${this.name}-${runId}-${++this.counter}`;
    const common = { node: this.name, request_id: requestId, endpoint: plan.endpoint, model: plan.model, stream: plan.stream };
    opts.emit({ type: 'request.start', ts: Date.now() / 1000, ...common });
    stats.started += 1;
    const timer = setTimeout(() => {
      this.inFlight.delete(requestId);
      // The end repeats the start's `stream`: the same request, whichever of the two Pulse reads it from.
      opts.emit({ type: 'request.end', ts: Date.now() / 1000, ...common, ...plan.end });
      stats.ended += 1;
    }, plan.end.latency_ms);
    this.inFlight.set(requestId, { plan, timer });
  }

  private gauge(): void {
    let streams = 0;
    for (const { plan } of this.inFlight.values()) if (plan.stream) streams += 1;
    this.sim.opts.emit({ type: 'node.gauge', ts: Date.now() / 1000, node: this.name, active_streams: streams, queue_depth: this.inFlight.size });
  }
}

export class Simulator {
  private readonly nodes: VirtualNode[];
  private readonly counts: Counts = { started: 0, ended: 0 };

  /** The id this run puts in every request id. */
  readonly runId: string;

  constructor(opts: SimulatorOptions) {
    const names = nodeNames(opts.nodes, opts.nodePrefix);
    for (const [option, map] of [['slowNodes', opts.slowNodes], ['failingNodes', opts.failingNodes]] as const) {
      const unknown = [...(map?.keys() ?? [])].filter((n) => !names.includes(n));
      if (unknown.length > 0) throw new Error(`${option}: ${unknown.join(', ')} not among the simulated nodes`);
    }
    this.runId = opts.runId ?? randomBytes(6).toString('hex');
    const shared = { opts, stats: this.counts, runId: this.runId };
    this.nodes = names.map((name) => {
      const errorRate = opts.failingNodes?.get(name);
      const traits: NodeTraits = {
        name,
        profile: errorRate === undefined ? opts.profile : { ...opts.profile, errorRate },
        slowdown: opts.slowNodes?.get(name) ?? 1,
        random: seededRandom(Math.floor(opts.random() * 2 ** 32)),
      };
      return new VirtualNode(traits, opts.ratePerSec / opts.nodes, shared);
    });
  }

  start(): void {
    for (const node of this.nodes) node.start();
  }

  stats(): SimulatorStats {
    return { ...this.counts, inFlight: this.nodes.reduce((n, node) => n + node.inFlight.size, 0) };
  }

  /**
   * Stops new arrivals and lets running requests finish, for at most
   * `drainMs`; what is still running then is abandoned and each node reports
   * a zero gauge, so the dashboards do not show phantom load.
   */
  async stop(drainMs = 5000): Promise<void> {
    for (const node of this.nodes) node.stopArrivals();
    const deadline = performance.now() + drainMs;
    while (this.stats().inFlight > 0 && performance.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    for (const node of this.nodes) node.abandon();
  }
}
