/**
 * Requests started and not yet ended, across the cluster (docs/PROTOCOL.md §4):
 * `queue_depth` counts them, `active_streams` counts the streaming ones.
 * A node's own `node.gauge` overrides what its start/end pairs imply; a node
 * silent for 30 s drops out of both.
 *
 * Times here are the event log's clock (entry ids), not producers' clocks, so
 * the silence rule does not depend on a producer's clock being right.
 */
import type { CellState } from './cell.js';

export const NODE_SILENCE_MS = 30_000;
/** A start whose end never comes is forgotten after this long. */
export const MAX_REQUEST_AGE_MS = 10 * 60_000;
/** Requests tracked at most: beyond it the oldest is forgotten, so a flood of starts cannot exhaust memory. */
export const MAX_IN_FLIGHT = 1_000_000;
/** An end seen before its start is remembered this long, so the start is not counted as in flight. */
export const EARLY_END_MS = 60_000;
/** Early ends remembered at most: beyond it a new one is not, and its late start counts as in flight until its age runs out. */
export const MAX_EARLY_ENDS = 1_000_000;
/** Nodes tracked at most: beyond it new names share one state, so a flood of node names cannot exhaust memory. */
export const MAX_NODES = 10_000;
/** The node state that nodes beyond MAX_NODES share. */
export const OTHER_NODE = '__other__';
const AGE_SWEEP_MS = 5_000;

/** Every bound of the tracker; the defaults are the constants above (tests shrink them). */
export interface InFlightLimits {
  maxRequests: number;
  maxEarlyEnds: number;
  maxNodes: number;
}

const DEFAULT_LIMITS: InFlightLimits = { maxRequests: MAX_IN_FLIGHT, maxEarlyEnds: MAX_EARLY_ENDS, maxNodes: MAX_NODES };

interface InFlight {
  cell: CellState;
  node: string;
  stream: boolean;
  startedAt: number;
}

interface NodeState {
  /** The key this state is tracked under: the node's name, or OTHER_NODE. */
  name: string;
  lastSeen: number;
  queueDepth: number;
  activeStreams: number;
  gauge: { queueDepth?: number; activeStreams?: number } | null;
}

export class InFlightTracker {
  private readonly requests = new Map<string, InFlight>();
  private readonly earlyEnds = new Map<string, number>();
  private readonly nodes = new Map<string, NodeState>();
  private lastAgeSweep = 0;
  /** Cells whose gauges changed since the owner last emptied this, but for a start's own cell (its owner marks that one). */
  readonly touched = new Set<CellState>();

  constructor(private readonly limits: InFlightLimits = DEFAULT_LIMITS) {}

  /** The state `name` counts in: its own, or the shared one once MAX_NODES are tracked. */
  private node(name: string, at: number): NodeState {
    let n = this.nodes.get(name);
    if (!n) {
      const key = this.nodes.size < this.limits.maxNodes ? name : OTHER_NODE;
      n = this.nodes.get(key);
      if (!n) {
        n = { name: key, lastSeen: at, queueDepth: 0, activeStreams: 0, gauge: null };
        this.nodes.set(key, n);
      }
    }
    if (at > n.lastSeen) n.lastSeen = at;
    return n;
  }

  /** Marks the node as alive without changing in-flight state. */
  seen(node: string, at: number): void {
    this.node(node, at);
  }

  /**
   * A request started on `node` (its state's name); `key` pairs it with its
   * end (requestKey: the producer's own node name and request id, so two
   * nodes folded into one label never pair each other's requests).
   */
  start(node: string, key: string, cell: CellState, stream: boolean, at: number): void {
    const n = this.node(node, at);
    if ((this.earlyEnds.size > 0 && this.earlyEnds.delete(key)) || this.requests.has(key)) return;
    this.requests.set(key, { cell, node: n.name, stream, startedAt: at });
    // The start's own cell: the window marks it changed (only a request forgotten later may be another's).
    this.change(n, cell, stream, 1, false);
    if (this.requests.size > this.limits.maxRequests) this.forgetOldest();
  }

  private forgetOldest(): void {
    const [key, req] = this.requests.entries().next().value!;
    this.forget(key, req);
  }

  /** Takes a request out of the state it was counted in (its node's may be gone already). */
  private forget(key: string, req: InFlight): void {
    this.requests.delete(key);
    const n = this.nodes.get(req.node);
    if (n) this.change(n, req.cell, req.stream, -1, true);
    else this.changeCell(req.cell, req.stream, -1, true);
  }

  /** Ends a request; returns whether its start said it was streaming (undefined if unknown). */
  end(node: string, key: string, at: number): boolean | undefined {
    this.node(node, at);
    const req = this.requests.get(key);
    if (!req) {
      if (this.earlyEnds.size < this.limits.maxEarlyEnds) this.earlyEnds.set(key, at);
      return undefined;
    }
    this.forget(key, req);
    return req.stream;
  }

  gauge(node: string, at: number, queueDepth: number | undefined, activeStreams: number | undefined): void {
    const n = this.node(node, at);
    n.gauge = { ...n.gauge, ...(queueDepth !== undefined && { queueDepth }), ...(activeStreams !== undefined && { activeStreams }) };
  }

  /**
   * Drops silent nodes, abandoned requests and stale early ends. Call once
   * per tick with the log's current time.
   */
  sweep(now: number): void {
    let dropped = false;
    for (const [name, n] of this.nodes) {
      if (now - n.lastSeen > NODE_SILENCE_MS) {
        this.nodes.delete(name);
        dropped = true;
      }
    }
    // Scanning every request is O(in flight): do it when a node went silent,
    // and for abandoned requests only every few seconds.
    const ageSweep = now - this.lastAgeSweep >= AGE_SWEEP_MS;
    if (dropped || ageSweep) {
      if (ageSweep) this.lastAgeSweep = now;
      for (const [key, req] of this.requests) {
        if (this.nodes.has(req.node) && now - req.startedAt <= MAX_REQUEST_AGE_MS) continue;
        this.forget(key, req);
      }
    }
    for (const [key, at] of this.earlyEnds) {
      // Insertion order is time order: stop at the first that is still fresh.
      if (now - at <= EARLY_END_MS) break;
      this.earlyEnds.delete(key);
    }
  }

  /**
   * What `node`'s own gauge adds to the sum of its cells: gauge minus what its
   * start/end pairs imply (0 without a gauge, or once it went silent).
   */
  adjustment(node: string): { queueDepth: number; activeStreams: number } {
    const n = this.nodes.get(node);
    const g = n?.gauge;
    if (!n || !g) return NO_ADJUSTMENT;
    return {
      queueDepth: g.queueDepth === undefined ? 0 : g.queueDepth - n.queueDepth,
      activeStreams: g.activeStreams === undefined ? 0 : g.activeStreams - n.activeStreams,
    };
  }

  /** Whether `node` was heard from within the silence limit (as of the last sweep). */
  tracks(node: string): boolean {
    return this.nodes.has(node);
  }

  get size(): number {
    return this.requests.size;
  }

  /** Nodes heard from within the silence limit (as of the last sweep). */
  get nodeCount(): number {
    return this.nodes.size;
  }

  /** Ends seen before their starts, still remembered. */
  get earlyEndCount(): number {
    return this.earlyEnds.size;
  }

  private change(n: NodeState, cell: CellState, stream: boolean, d: number, touch: boolean): void {
    n.queueDepth += d;
    if (stream) n.activeStreams += d;
    this.changeCell(cell, stream, d, touch);
  }

  private changeCell(cell: CellState, stream: boolean, d: number, touch: boolean): void {
    if (touch) this.touched.add(cell);
    cell.counts.queueDepth += d;
    if (stream) cell.counts.activeStreams += d;
  }
}

/** What pairs a start with its end: the producer's node name and request id. */
export function requestKey(node: string, requestId: string): string {
  return `${node}\u0000${requestId}`;
}

const NO_ADJUSTMENT = Object.freeze({ queueDepth: 0, activeStreams: 0 });
