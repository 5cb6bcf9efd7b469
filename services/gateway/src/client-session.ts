/**
 * One WebSocket client's state, as pure logic: its filter, when its next
 * `metrics_update` is due, and the figures its next deltas are taken from.
 * It does no I/O; the socket is held only so fan-out can reach it.
 *
 * Schedule (docs/PROTOCOL.md §5.5): after connect, subscribe or unsubscribe, the first
 * update comes from the first snapshot that arrives at least one interval
 * later (by the clock) and falls on the client's phase; after that one update
 * every interval/tick snapshots, counted by snapshot `seq`, so a snapshot
 * arriving a few ms early or late never makes a client skip one.
 *
 * The phase: every client of a view with the same interval of N ticks gets
 * its updates from the snapshots whose seq ≡ hash(view) mod N, so the view is
 * built once per interval for all of them, not once per tick for whichever
 * clients happened to connect on it (at the default 1 s and 0.5 s ticks, half
 * the view builds). Distinct views hash to phases spread over the ticks.
 * Intervals over PHASED_MS keep the clock's phase: waiting for theirs
 * could delay a first update by most of an hour (or of 10 s, the slowest
 * the dashboard offers).
 */
import { applySubscribe, defaultFilter, fnv1a, type Filter, type Parsed, type SubscribeLimits } from '@pulse/protocol';
import type { DeltaBase } from '@pulse/metrics';
import { typesMask } from './metric-types.js';
import type { ViewRegistry } from './view-registry.js';

/** What fan-out needs of a client's socket (ws-server.ts's FrameSocket). */
export interface ClientSocket {
  /** Bytes written and not yet taken by the kernel. */
  readonly bufferedAmount: number;
  /** Writes a whole WebSocket frame (ws-frame.ts), shared with the other clients it goes to. */
  sendFrame(frame: Buffer): void;
}

/** The view key of a client without endpoint or model filter. */
export const UNFILTERED_VIEW = '';

/** Intervals of up to this many ms are phased: a first update waits at most a tick short of this more. */
export const PHASED_MS = 2000;

export class ClientSession {
  private current: Filter;
  /** Same string for every client whose endpoint, model and node filters are equal. */
  private key: string;
  private mask: number;
  /** Clock time (ms) of the last connect/subscribe/unsubscribe. */
  private resetAt: number;
  /** Seq at which the next update is due; null while waiting out the first interval after a reset. */
  private nextSeq: number | null = null;
  /** The interval in ticks, and the seq residue mod it this client's updates fall on (null: unphased). */
  private ticks = 1;
  private phase: number | null = null;
  private lastSeq = -1;
  /** Consecutive due snapshots skipped because the socket was over its buffer ceiling. */
  slowTicks = 0;
  /** True while a `history` answer is being prepared (backfill.ts): no update is due until it went out. */
  private held = false;

  /**
   * @param base the figures of the `historical_data` this client was sent:
   *   its first update's deltas are taken from them.
   */
  constructor(
    readonly socket: ClientSocket,
    /** `ip:port` of the peer, for logs. */
    readonly address: string,
    private readonly tickMs: number,
    nowMs: number,
    private lastBase: DeltaBase,
    /** The gateway's distinct views, which this client counts in (and whose ceiling its subscribes obey). */
    private readonly views: ViewRegistry | null = null,
  ) {
    this.current = defaultFilter(tickMs);
    this.key = UNFILTERED_VIEW;
    this.mask = typesMask(null);
    this.resetAt = nowMs;
    this.setPhase();
  }

  get filter(): Filter {
    return this.current;
  }

  get viewKey(): string {
    return this.key;
  }

  get typesMask(): number {
    return this.mask;
  }

  /** The figures of the last data message this client was sent. */
  get base(): DeltaBase {
    return this.lastBase;
  }

  /** Whether the snapshot `seq`, arriving at clock time `nowMs`, is one this client should get. */
  isDue(seq: number, nowMs: number): boolean {
    if (this.held) return false;
    if (this.nextSeq === null) {
      const waited = nowMs - this.resetAt;
      if (waited < this.current.intervalMs) return false;
      // At most one interval more if seqs never land on the phase (snapshots missed).
      return this.phase === null || (seq - this.phase) % this.ticks === 0 || waited >= 2 * this.current.intervalMs;
    }
    // A seq behind the last one sent means a new leader whose clock is behind:
    // follow it rather than wait for its seq to catch up.
    return seq >= this.nextSeq || seq < this.lastSeq;
  }

  /** Records that the update of snapshot `seq`, with figures `base`, was sent. */
  markSent(seq: number, base: DeltaBase): void {
    this.lastSeq = seq;
    this.nextSeq = this.onPhase(seq + this.ticks);
    this.lastBase = base;
  }

  /** Holds updates back while the client's `history` answer is prepared (docs/PROTOCOL.md §5.11). */
  hold(): void {
    this.held = true;
  }

  get holding(): boolean {
    return this.held;
  }

  /**
   * The `history` answer went out: updates resume on the schedule the
   * subscribe restarted, their deltas taken from `base` (the figures of its
   * last point) when given.
   */
  resume(base?: DeltaBase): void {
    this.held = false;
    if (base) this.lastBase = base;
  }

  /** Applies a subscribe; on success restarts the schedule. An invalid one changes nothing. */
  subscribe(filters: Record<string, unknown>, nowMs: number, limits?: SubscribeLimits): Parsed<Filter> {
    const result = applySubscribe(this.current, filters, this.tickMs, limits);
    if (!result.ok) return result;
    const key = viewKeyOf(result.value);
    if (this.views && !this.views.admits(this.key, key)) {
      const error = `filters: this gateway serves at most ${this.views.max} distinct views (PULSE_GATEWAY_MAX_VIEWS); your filters are unchanged — subscribe to a view already served, or try another gateway`;
      return { ok: false, error, limit: 'distinct_views' };
    }
    this.setFilter(result.value, nowMs);
    return result;
  }

  /** Resets every filter, the interval included, and restarts the schedule. */
  unsubscribe(nowMs: number): void {
    this.setFilter(defaultFilter(this.tickMs), nowMs);
  }

  /** The client left: its view loses a client. */
  close(): void {
    this.setFilter(defaultFilter(this.tickMs), 0);
  }

  private setFilter(filter: Filter, nowMs: number): void {
    this.held = false;
    const key = viewKeyOf(filter);
    this.views?.move(this.key, key);
    this.current = filter;
    this.key = key;
    this.mask = typesMask(filter.metricTypes);
    this.resetAt = nowMs;
    this.nextSeq = null;
    this.setPhase();
  }

  private setPhase(): void {
    this.ticks = this.current.intervalMs / this.tickMs;
    this.phase = this.ticks > 1 && this.current.intervalMs <= PHASED_MS ? fnv1a(this.key) % this.ticks : null;
  }

  /**
   * The first seq from `seq` on that falls on the phase: an update sent off
   * it (a late first one, a skip while the socket was full, a new leader's
   * seqs) puts the next back on it, never sooner than one interval.
   */
  private onPhase(seq: number): number {
    if (this.phase === null) return seq;
    return seq + ((((this.phase - seq) % this.ticks) + this.ticks) % this.ticks);
  }
}

/** A canonical key of the endpoint and model filters: equal filters, equal keys. */
export function viewKeyOf(filter: Pick<Filter, 'endpoints' | 'models' | 'nodes'>): string {
  if (filter.endpoints.size === 0 && filter.models.size === 0 && filter.nodes.size === 0) return UNFILTERED_VIEW;
  return JSON.stringify([[...filter.endpoints].sort(), [...filter.models].sort(), [...filter.nodes].sort()]);
}
