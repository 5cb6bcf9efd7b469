/**
 * Virtual FakeAI nodes on real timers. Each node has Poisson arrivals at its
 * share of the rate, emits `request.start` when a request arrives and
 * `request.end` when its planned latency has passed, and reports its own
 * in-flight counts as a `node.gauge` every gauge interval. Events go to
 * `emit` (a Reporter, in the simulator process).
 */
import type { ReporterEvent } from '@pulse/reporter';
import { exponentialGapMs, type Random } from './random.js';
import { planRequest, type PlannedRequest, type TrafficProfile } from './traffic.js';

export interface SimulatorOptions {
  nodes: number;
  /** Requests per second over all nodes. */
  ratePerSec: number;
  profile: TrafficProfile;
  gaugeIntervalMs: number;
  random: Random;
  emit: (event: ReporterEvent) => void;
  /** Node names are `<prefix>-1` … `<prefix>-N`. Default `fakeai-sim`. */
  nodePrefix?: string;
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

class VirtualNode {
  readonly inFlight = new Map<string, InFlight>();
  private arrivals: ReturnType<typeof setTimeout> | null = null;
  private gauges: ReturnType<typeof setInterval> | null = null;
  private nextArrivalAt = 0;
  private counter = 0;

  constructor(
    readonly name: string,
    private readonly ratePerSec: number,
    private readonly sim: { opts: SimulatorOptions; stats: Counts },
  ) {}

  start(): void {
    this.nextArrivalAt = performance.now() + exponentialGapMs(this.sim.opts.random, this.ratePerSec);
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
      this.nextArrivalAt += exponentialGapMs(this.sim.opts.random, this.ratePerSec);
    }
    this.arrivals = setTimeout(() => this.scheduleArrivals(), this.nextArrivalAt - now);
  }

  private arrive(): void {
    const { opts, stats } = this.sim;
    const plan = planRequest(opts.random, opts.profile);
    const requestId = `${this.name}-${++this.counter}`;
    const common = { node: this.name, request_id: requestId, endpoint: plan.endpoint, model: plan.model, stream: plan.stream };
    opts.emit({ type: 'request.start', ts: Date.now() / 1000, ...common });
    stats.started += 1;
    const timer = setTimeout(() => {
      this.inFlight.delete(requestId);
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

  constructor(opts: SimulatorOptions) {
    const prefix = opts.nodePrefix ?? 'fakeai-sim';
    const shared = { opts, stats: this.counts };
    this.nodes = Array.from({ length: opts.nodes }, (_, i) => new VirtualNode(`${prefix}-${i + 1}`, opts.ratePerSec / opts.nodes, shared));
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
