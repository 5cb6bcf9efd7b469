/**
 * The snapshot bus: how the active aggregator hands the window to every
 * gateway. It carries two kinds of message (@pulse/protocol): a keyframe, a
 * whole snapshot, and patches, each what changed since the message before.
 * The bus keeps the latest keyframe and the patches after it, so a feed that
 * starts, reconnects or finds a gap can rebuild the current state from them.
 * A keyframe is either broadcast (`publish`: a new leader's first message)
 * or only stored beside a broadcast patch (`refresh`: the periodic ones).
 * Two implementations share this contract (one suite tests both):
 * `snapshot-bus.redis.ts` (a keyframe key, a patch list, pub/sub) and
 * `snapshot-bus.memory.ts` (in-process, for `npm start` without Redis and for
 * tests).
 *
 * Buffers are opaque here but for their first byte, which says their kind.
 * Decoding and ordering (epoch, seq, which patch follows which) are the
 * caller's business: a feed may hand over a message twice or an older one (a
 * catch-up racing a live message, a paused old leader), and the caller drops
 * what does not follow on from what it holds.
 */

import type { Fence } from './event-source.js';

/** How long the latest state outlives its publisher, so a dead cluster stops serving stale data. */
export const SNAPSHOT_TTL_SECONDS = 300;

/**
 * Patches stored after a keyframe at most: keyframes come every few seconds,
 * this is a backstop. A patch beyond it is refused rather than the oldest
 * dropped, which would leave a gap no feed could catch up across.
 */
export const MAX_STORED_PATCHES = 1000;

/**
 * A patch was refused: no keyframe is stored to apply it to (Redis restarted
 * empty), or MAX_STORED_PATCHES follow it already. Send a keyframe.
 */
export class MissingKeyframeError extends Error {
  override readonly name = 'MissingKeyframeError';
  constructor() {
    super('no keyframe is stored for this patch to follow, or the patches after it are at their cap: publish a whole snapshot');
  }
}

/** Aggregator side. */
export interface SnapshotPublisher {
  /**
   * Stores `encoded` — a keyframe replaces what is stored, a patch is
   * appended after it — and broadcasts it, atomically: a feed that reads the
   * stored messages right after subscribing cannot miss one published in
   * between. Delivery is at most once to the feeds connected at that moment;
   * the stored messages are what a feed catches up from.
   *
   * With a `fence`, only while that fence still holds the leader lease:
   * otherwise nothing is stored or sent and it resolves false, so a former
   * leader waking from a pause cannot put a stale message anywhere. Rejects
   * when the store does not take it, and with MissingKeyframeError for a
   * patch when no keyframe is stored.
   */
  publish(encoded: Buffer, fence?: Fence): Promise<boolean>;
  /**
   * A periodic keyframe without its cost to every feed: stores `keyframe`
   * (the whole snapshot at `patch`'s seq) in place of what is stored, and
   * broadcasts `patch`, atomically. A feed that follows on applies the patch
   * it would have applied anyway; one that starts or finds a gap reads the
   * keyframe. Broadcast, a fleet's keyframe (~2 MB) cost every gateway a
   * quarter of a second of decoding and rebuilding every 10 s, and was a
   * third of the bytes published. Fenced and refused like `publish`, except
   * that no stored keyframe is needed.
   */
  refresh(patch: Buffer, keyframe: Buffer, fence?: Fence): Promise<boolean>;
  /** Stops publishing. Idempotent. Does not close a connection it was given. */
  close(): Promise<void>;
}

/** Gateway side. */
export interface SnapshotFeed {
  /** The latest keyframe and the patches after it, in order; empty when none was published within the TTL. */
  latest(): Promise<Buffer[]>;
  /**
   * Subscribes and delivers every message broadcast from then on to
   * `onMessage`, then the stored ones, so nothing published around the
   * subscription is missed; resolves once that is done. After a lost
   * connection it resubscribes and delivers the stored ones again, so a
   * gateway catches up. `onStatus` reports when the feed is live (true, after
   * each catch-up) and when it lost its connection (false). Call once.
   */
  start(onMessage: (encoded: Buffer) => void, onStatus?: (connected: boolean) => void): Promise<void>;
  /** Delivers the stored messages again (the caller found a gap). */
  catchUp(): Promise<void>;
  /** Stops delivery and releases connections. Idempotent. */
  close(): Promise<void>;
}
