/**
 * The hot path: one snapshot to every client due for it, in one pass over
 * the clients: a due check (two integer compares), a buffer check, then the
 * client's frame is looked up — by view key, metric-type mask and the
 * identity of its delta base object — and written at once.
 *
 * Each distinct view (endpoint + model filter) is built once, when its first
 * client comes; each metric type of it is stringified once; each distinct
 * frame (view, mask, base) is assembled once into one Buffer shared by every
 * client it goes to. One pass rather than grouping first and sending after:
 * each client's socket objects are touched once while in cache (with
 * thousands of clients, the second pass missed it), and the first frames
 * leave before the last clients are even looked at.
 *
 * Base objects are shared: every client is given its view's base after the
 * send, so clients that received the same frames keep sharing one base and
 * one frame. Nothing is computed or stringified per client.
 */
import type { InternalSnapshot } from '@pulse/protocol';
import { buildView, type CellFilter, type DeltaBase, type View } from '@pulse/metrics';
import { UNFILTERED_VIEW, type ClientSession } from './client-session.js';
import { deltasJson, RenderedView, staleJson, updateFrame } from './frames.js';
import type { ViewBudget, ViewCost } from './view-budget.js';
import type { ViewRegistry } from './view-registry.js';

export interface FanoutOptions {
  /** The per-tick budget of view builds: a view it slowed down is skipped on the snapshots it is not built for. */
  budget?: ViewBudget;
  /** How many clients each view has (the budget slows the views that cost most per client first). */
  views?: ViewRegistry;
  /** A client with more unsent bytes than this skips the snapshot (it gets a newer one later). */
  maxBufferedBytes: number;
  /** Consecutive skipped snapshots after which a client is handed to `onSlow`. */
  slowTicks: number;
  /** Called once a client stayed over the ceiling for `slowTicks` snapshots; it should be closed. */
  onSlow(session: ClientSession): void;
}

export interface FanoutResult {
  /** Clients sent an update. */
  sent: number;
  /** Due clients skipped because their socket was over the buffer ceiling. */
  skipped: number;
  /** Distinct views built, and distinct frames serialized. */
  views: number;
  frames: number;
  /** Due clients of views the budget did not build for this snapshot (they get the next one that is). */
  deferred: number;
}

/** One view of this snapshot and its frames so far: mask → delta base → frame. */
interface ViewFrames {
  readonly rendered: RenderedView;
  readonly byMask: Map<number, Map<DeltaBase, Buffer>>;
  /** Time spent building the view and its frames, ms. */
  ms: number;
}

const TEXT = { binary: false } as const;

/**
 * Sends `snapshot` to every due client of `sessions`. `fullView` is the
 * unfiltered view of this snapshot, shared with `historical_data` and REST;
 * `viewOf` builds any other (a gateway's from its replica's aggregates).
 */
export function fanout(
  snapshot: InternalSnapshot,
  fullView: RenderedView,
  sessions: Iterable<ClientSession>,
  nowMs: number,
  opts: FanoutOptions,
  viewOf: (filter: CellFilter) => View = (filter) => buildView(snapshot, filter),
): FanoutResult {
  const result: FanoutResult = { sent: 0, skipped: 0, views: 0, frames: 0, deferred: 0 };
  /** null: a view the budget skips this snapshot. */
  const views = new Map<string, ViewFrames | null>();
  const { budget } = opts;
  const stale = staleJson((snapshot as { stalePartitions?: readonly number[] }).stalePartitions);

  for (const session of sessions) {
    if (!session.isDue(snapshot.seq, nowMs)) continue;
    if (session.socket.bufferedAmount > opts.maxBufferedBytes) {
      // Coalescing: it stays due, so it gets the newest snapshot once it drains.
      result.skipped++;
      if (++session.slowTicks >= opts.slowTicks) opts.onSlow(session);
      continue;
    }
    session.slowTicks = 0;
    const key = session.viewKey;
    let view = views.get(key);
    if (view === undefined) {
      if (budget && key !== UNFILTERED_VIEW && !budget.builds(key, snapshot.seq)) {
        view = null;
      } else {
        const started = performance.now();
        view = { rendered: key === UNFILTERED_VIEW ? fullView : new RenderedView(viewOf(session.filter)), byMask: new Map(), ms: 0 };
        view.ms = performance.now() - started;
        result.views++;
      }
      views.set(key, view);
    }
    if (view === null) {
      result.deferred++;
      continue;
    }
    const mask = session.typesMask;
    let byBase = view.byMask.get(mask);
    if (!byBase) {
      byBase = new Map();
      view.byMask.set(mask, byBase);
    }
    const base = view.rendered.view.base;
    let frame = byBase.get(session.base);
    if (!frame) {
      const started = performance.now();
      frame = updateFrame(snapshot.builtAt, view.rendered.dataJson(mask), deltasJson(mask, base, session.base), stale);
      view.ms += performance.now() - started;
      byBase.set(session.base, frame);
      result.frames++;
    }
    session.socket.send(frame, TEXT);
    session.markSent(snapshot.seq, base);
    result.sent++;
  }
  if (budget) {
    const costs: ViewCost[] = [];
    for (const [key, view] of views) if (view) costs.push({ key, ms: view.ms, clients: opts.views?.clientsOf(key) ?? 1 });
    budget.settle(snapshot.seq, costs);
  }
  return result;
}
