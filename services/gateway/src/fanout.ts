/**
 * The hot path: one snapshot to every client due for it.
 *
 * 1. One pass over the clients: a due check (two integer compares) and a
 *    buffer check; due clients are grouped by view key, then by metric-type
 *    mask, then by the identity of their delta base object.
 * 2. Each distinct view (endpoint + model filter) is built once; each metric
 *    type of it is stringified once; each distinct frame (view, mask, base) is
 *    assembled once into one Buffer and written to every client of its group.
 *
 * Base objects are shared: every client of a group is given the same view's
 * base after the send, so clients that received the same frames keep sharing
 * one base and one group. Nothing is computed or stringified per client.
 */
import type { InternalSnapshot } from '@pulse/protocol';
import { buildView, type DeltaBase } from '@pulse/metrics';
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

/** Due clients of one view: mask → delta base → clients. */
interface ViewGroup {
  readonly first: ClientSession;
  readonly byMask: Map<number, Map<DeltaBase, ClientSession[]>>;
}

const TEXT = { binary: false } as const;

/**
 * Sends `snapshot` to every due client of `sessions`. `fullView` is the
 * unfiltered view of this snapshot, shared with `historical_data` and REST.
 */
export function fanout(
  snapshot: InternalSnapshot,
  fullView: RenderedView,
  sessions: Iterable<ClientSession>,
  nowMs: number,
  opts: FanoutOptions,
): FanoutResult {
  const result: FanoutResult = { sent: 0, skipped: 0, views: 0, frames: 0 };
  const groups = new Map<string, ViewGroup>();

  for (const session of sessions) {
    if (!session.isDue(snapshot.seq, nowMs)) continue;
    if (session.socket.bufferedAmount > opts.maxBufferedBytes) {
      // Coalescing: it stays due, so it gets the newest snapshot once it drains.
      result.skipped++;
      if (++session.slowTicks >= opts.slowTicks) opts.onSlow(session);
      continue;
    }
    session.slowTicks = 0;
    let group = groups.get(session.viewKey);
    if (!group) {
      group = { first: session, byMask: new Map() };
      groups.set(session.viewKey, group);
    }
    let byBase = group.byMask.get(session.typesMask);
    if (!byBase) {
      byBase = new Map();
      group.byMask.set(session.typesMask, byBase);
    }
    const clients = byBase.get(session.base);
    if (clients) clients.push(session);
    else byBase.set(session.base, [session]);
  }

  for (const [key, group] of groups) {
    const rendered = key === UNFILTERED_VIEW ? fullView : new RenderedView(buildView(snapshot, group.first.filter));
    const base = rendered.view.base;
    result.views++;
    for (const [mask, byBase] of group.byMask) {
      const data = rendered.dataJson(mask);
      for (const [prev, clients] of byBase) {
        const frame = updateFrame(snapshot.builtAt, data, deltasJson(mask, base, prev));
        result.frames++;
        for (const client of clients) {
          client.socket.send(frame, TEXT);
          client.markSent(snapshot.seq, base);
        }
        result.sent += clients.length;
      }
    }
  }
  return result;
}
