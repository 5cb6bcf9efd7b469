/**
 * Gapless reconnect (docs/PROTOCOL.md §5.11): a `subscribe` with `since` (the
 * `timestamp` of the last `metrics_update` the client received) is answered,
 * after `subscribed`, by one `history` message holding the client's view at
 * every snapshot time after `since`, before its updates resume.
 *
 * The points come from the durable history (@pulse/history) up to the
 * newest record written, which lags the live snapshots by the recorder's
 * grace (PULSE_HISTORY_GRACE_MS) and a flush; the snapshots that arrive
 * meanwhile are kept for the client here (the tail: its view of each, as its
 * update would have shown) instead of being sent. Once the store reached the
 * snapshot held when the client subscribed (or BACKFILL_WAIT_MS passed), the
 * stored points and the tail after them go out as one message and the client's
 * updates resume with the next snapshot, their deltas taken from the last
 * point sent: nothing missed, nothing twice.
 */
import { METRIC_TYPES, type InternalSnapshot, type MetricType, type ViewData } from '@pulse/protocol';
import type { DeltaBase, View } from '@pulse/metrics';
import { MAX_POINTS, type HistoryAnswer, type HistoryQuery, type HistoryReader } from '@pulse/history';
import type { Logger } from '@pulse/runtime';
import { UNFILTERED_VIEW, type ClientSession } from './client-session.js';
import type { GatewayClock } from './clock.js';
import type { SnapshotState } from './snapshot-state.js';
import { textFrame } from './ws-frame.js';

/** Points a `history` message holds at most: the stored part's step is coarsened to fit (see §5.11). */
export const BACKFILL_MAX_POINTS = MAX_POINTS;
/** Longest a client's updates are held while the store catches up with the snapshot it subscribed at, ms. */
export const BACKFILL_WAIT_MS = 5000;
/** History queries run at once for backfills; identical ones (same view, types, since) share one. */
const CONCURRENT_QUERIES = 4;

export interface BackfillOptions {
  /** The durable history; without it every `history` answer is empty, with an `error`. */
  history: HistoryReader | undefined;
  state: Pick<SnapshotState, 'snapshot' | 'view' | 'fullView'>;
  tickMs: number;
  clock: GatewayClock;
  logger: Logger;
  waitMs?: number;
}

interface Point {
  timestamp: number;
  data: ViewData;
  /** The live view's figures, for tail points; stored points' are read from their data. */
  base?: DeltaBase;
}

interface Pending {
  readonly session: ClientSession;
  readonly since: number;
  /** ms: the snapshot held at subscribe; null without one (then the first tail point tells). */
  readonly heldMs: number | null;
  readonly tail: Point[];
  cancelled: boolean;
}

const ms = (seconds: number) => Math.round(seconds * 1000);

export class Backfills {
  private readonly pending = new Map<ClientSession, Pending>();
  private readonly log: Logger;
  private readonly waitMs: number;
  private running = 0;
  private readonly queue: (() => void)[] = [];
  private readonly inflight = new Map<string, Promise<HistoryAnswer>>();

  constructor(private readonly opts: BackfillOptions) {
    this.log = opts.logger.child({ component: 'backfill' });
    this.waitMs = opts.waitMs ?? BACKFILL_WAIT_MS;
  }

  /** Clients whose `history` answer is being prepared. */
  get size(): number {
    return this.pending.size;
  }

  /** After `session` accepted a subscribe with `since` and was sent `subscribed`: holds its updates and prepares its answer. */
  start(session: ClientSession, since: number): void {
    this.cancel(session);
    const held = this.opts.state.snapshot;
    const p: Pending = { session, since, heldMs: held ? ms(held.builtAt) : null, tail: [], cancelled: false };
    session.hold();
    this.pending.set(session, p);
    void this.run(p).catch((err: unknown) => {
      // run() answers its own failures; this is a bug's last line.
      this.log.error({ err, client: session.address }, 'backfill failed');
      this.finish(p, [], this.opts.tickMs / 1000, 'history: internal error');
    });
  }

  /** The client subscribed again, unsubscribed or left: its pending answer is dropped (its new filters hold no `since`). */
  cancel(session: ClientSession): void {
    const p = this.pending.get(session);
    if (!p) return;
    p.cancelled = true;
    this.pending.delete(session);
  }

  /** After each snapshot's fan-out: each held client's view of it joins its tail. */
  onSnapshot(snapshot: InternalSnapshot): void {
    if (this.pending.size === 0) return;
    const views = new Map<string, View>();
    for (const p of this.pending.values()) {
      const key = p.session.viewKey;
      let view = views.get(key);
      if (!view) {
        view = key === UNFILTERED_VIEW ? this.opts.state.fullView().view : this.opts.state.view(p.session.filter);
        views.set(key, view);
      }
      const data: Record<string, unknown> = {};
      for (const type of typesOf(p.session)) data[type] = view.part(type);
      if (p.tail.length >= BACKFILL_MAX_POINTS) p.tail.shift();
      p.tail.push({ timestamp: snapshot.builtAt, data: data as ViewData, base: view.base });
    }
  }

  private async run(p: Pending): Promise<void> {
    const { history, clock, tickMs } = this.opts;
    if (!history) {
      this.log.info({ client: p.session.address }, 'a client asked for history (since), but history is off on this gateway');
      return this.finish(p, [], tickMs / 1000, 'history is off on this gateway (PULSE_HISTORY_TIERS=off or no history store)');
    }
    const types = typesOf(p.session);
    const filter = p.session.filter;
    const deadline = clock.nowMs() + this.waitMs;
    const stored: Point[] = [];
    let stepMs: number | null = null;
    let cursorMs = ms(p.since);
    let gap: string | undefined;
    for (;;) {
      // Everything up to `targetMs` must come from the store; the tail holds what came after.
      const targetMs = p.heldMs ?? (p.tail.length > 0 ? ms(p.tail[0]!.timestamp) - 1 : null);
      if (targetMs !== null && targetMs <= cursorMs) break;
      if (targetMs !== null) {
        let answer: HistoryAnswer;
        try {
          answer = await this.query(p.session.viewKey, types, { since: cursorMs / 1000, until: clock.epochSeconds(), ...(stepMs !== null && { step: stepMs / 1000 }), filter, types });
        } catch (err) {
          if (p.cancelled) return;
          this.log.warn({ err, client: p.session.address, since: p.since }, 'history for a reconnecting client failed; it gets an empty answer');
          return this.finish(p, [], (stepMs ?? tickMs) / 1000, `history unavailable: ${String((err as Error).message ?? err)}`);
        }
        if (p.cancelled) return;
        stepMs ??= ms(answer.step);
        for (const point of answer.points) {
          if (ms(point.timestamp) <= cursorMs) continue;
          stored.push(point);
          cursorMs = ms(point.timestamp);
        }
        // Done once no point of the step's grid lies after the newest stored one, up to the target.
        if ((Math.floor(cursorMs / stepMs) + 1) * stepMs > targetMs) break;
      }
      if (clock.nowMs() >= deadline) {
        gap = targetMs === null
          ? `history: no snapshot within ${this.waitMs} ms`
          : `history: the store holds nothing after ${cursorMs / 1000} yet; points to ${targetMs / 1000} are missing`;
        this.log.warn({ client: p.session.address, since: p.since, newest: cursorMs / 1000, target: targetMs === null ? null : targetMs / 1000 }, 'backfill: the history store did not reach the snapshot held at subscribe in time');
        break;
      }
      await new Promise((resolve) => setTimeout(resolve, tickMs));
      if (p.cancelled) return;
    }
    const step = stepMs ?? tickMs;
    // The tail after the newest stored point, on the step's grid when the step is coarser than the tick.
    const after = Math.max(cursorMs, ms(p.since));
    const tail = p.tail.filter((t) => ms(t.timestamp) > after && (step === tickMs || ms(t.timestamp) % step === 0));
    let points = [...stored, ...tail];
    // Only when the newest ticks push a full stored answer over the cap: the oldest go.
    if (points.length > BACKFILL_MAX_POINTS) points = points.slice(points.length - BACKFILL_MAX_POINTS);
    this.finish(p, points, step / 1000, gap);
  }

  /** One history query at a time per view, types and range; at most CONCURRENT_QUERIES at once. */
  private async query(viewKey: string, types: readonly MetricType[], q: HistoryQuery): Promise<HistoryAnswer> {
    const key = `${viewKey}\u0000${types.join(',')}\u0000${q.since}\u0000${q.step ?? ''}`;
    const shared = this.inflight.get(key);
    if (shared) return shared;
    const answer = (async () => {
      if (this.running >= CONCURRENT_QUERIES) await new Promise<void>((resolve) => this.queue.push(resolve));
      else this.running++;
      try {
        return await this.opts.history!.query(q);
      } finally {
        const next = this.queue.shift();
        if (next) next();
        else this.running--;
      }
    })();
    this.inflight.set(key, answer);
    try {
      return await answer;
    } finally {
      this.inflight.delete(key);
    }
  }

  private finish(p: Pending, points: readonly Point[], step: number, error?: string): void {
    if (p.cancelled) return;
    p.cancelled = true;
    this.pending.delete(p.session);
    const { session } = p;
    const body = points.map((pt) => `{"timestamp":${pt.timestamp},"data":${JSON.stringify(pt.data)}}`).join(',');
    const frame =
      `{"type":"history","timestamp":${this.opts.clock.epochSeconds()},"since":${p.since},"step":${step},"points":[${body}]` +
      (error === undefined ? '}' : `,"error":${JSON.stringify(error)}}`);
    const last = points[points.length - 1];
    try {
      session.socket.sendFrame(textFrame(frame));
    } finally {
      session.resume(last ? (last.base ?? baseOf(last.data, session.base)) : undefined);
    }
  }
}

/** The client's metric types, in the order of docs/PROTOCOL.md §4.8. */
function typesOf(session: ClientSession): readonly MetricType[] {
  const wanted = session.filter.metricTypes;
  return wanted === null ? METRIC_TYPES : METRIC_TYPES.filter((t) => wanted.has(t));
}

/** The delta figures of a stored point; those its types do not carry stay as they were. */
function baseOf(data: ViewData, prev: DeltaBase): DeltaBase {
  return {
    totalRequestsPerSec: data.throughput?.total_requests_per_sec ?? prev.totalRequestsPerSec,
    totalTokensPerSec: data.throughput?.total_tokens_per_sec ?? prev.totalTokensPerSec,
    activeStreams: data.queue?.active_streams ?? data.streaming?.active_streams ?? prev.activeStreams,
  };
}
