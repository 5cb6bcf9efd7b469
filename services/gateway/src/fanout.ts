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
import { deltasJson, RenderedView, updateFrame } from './frames.js';

export interface FanoutOptions {
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
}

/** One view of this snapshot and its frames so far: mask → delta base → frame. */
interface ViewFrames {
  readonly rendered: RenderedView;
  readonly byMask: Map<number, Map<DeltaBase, Buffer>>;
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
  const result: FanoutResult = { sent: 0, skipped: 0, views: 0, frames: 0 };
  const views = new Map<string, ViewFrames>();

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
    if (!view) {
      view = { rendered: key === UNFILTERED_VIEW ? fullView : new RenderedView(viewOf(session.filter)), byMask: new Map() };
      views.set(key, view);
      result.views++;
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
      frame = updateFrame(snapshot.builtAt, view.rendered.dataJson(mask), deltasJson(mask, base, session.base));
      byBase.set(session.base, frame);
      result.frames++;
    }
    session.socket.send(frame, TEXT);
    session.markSent(snapshot.seq, base);
    result.sent++;
  }
  return result;
}
