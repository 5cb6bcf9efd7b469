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
 * leave before the last clients are even looked at. Frames are whole
 * WebSocket frames (ws-frame.ts), written as they are.
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

/**
 * One view of this snapshot and its frames so far: mask → delta base → frame.
 * Once every client of the view was sent its frame (`sent` reaches its
 * client count), the view and its frames are let go at once: a tick of
 * thousands of distinct views otherwise held them all to its end, and the
 * young-generation collections that copied them were most of the tick
 * (docs/PERFORMANCE.md, issue 19). Only the cost stays, for the budget.
 */
interface ViewFrames {
  rendered: RenderedView | null;
  byMask: Map<number, Map<DeltaBase, Buffer>> | null;
  /** Time spent building the view and its frames, ms. */
  ms: number;
  /** Clients sent this view's frames in this pass. */
  sent: number;
}

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
  // Without a registry no view is known to be done before the pass ends.
  const clientsOf = (key: string) => (key === UNFILTERED_VIEW || !opts.views ? Infinity : opts.views.clientsOf(key));

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
        view = { rendered: null, byMask: null, ms: 0, sent: 0 };
        result.views++;
      }
      views.set(key, view);
    }
    if (view === null) {
      result.deferred++;
      continue;
    }
    if (view.rendered === null || view.byMask === null) {
      // Built on first use; again only if a client of a view let go comes after all (its count was stale).
      const started = performance.now();
      // The unfiltered view's fragments are this snapshot's: a filtered view reuses the JSON of what it shares.
      if (key !== UNFILTERED_VIEW) fullView.share();
      view.rendered = key === UNFILTERED_VIEW ? fullView : new RenderedView(viewOf(session.filter), fullView.fragments);
      view.byMask = new Map();
      view.ms += performance.now() - started;
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
    if (++view.sent >= clientsOf(key)) {
      view.rendered = null;
      view.byMask = null;
    }
    session.socket.sendFrame(frame);
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
