/**
 * The snapshot bus: how the active aggregator hands each encoded snapshot to
 * every gateway. Two implementations share this contract (one suite tests
 * both): `snapshot-bus.redis.ts` (a latest-snapshot key plus pub/sub) and
 * `snapshot-bus.memory.ts` (in-process, for `npm start` without Redis and for
 * tests).
 *
 * Buffers are opaque here: encoding, decoding and ordering (epoch, seq) are
 * the caller's business, so a feed may hand over a snapshot twice or an older
 * one (a catch-up racing a live message, a paused old leader) and the caller
 * drops what is not newer than what it holds.
 */

import type { Fence } from './event-source.js';

/** How long the latest snapshot outlives its publisher, so a dead cluster stops serving stale data. */
export const SNAPSHOT_TTL_SECONDS = 300;

/** Aggregator side. */
export interface SnapshotPublisher {
  /**
   * Stores `encoded` as the latest snapshot (expiring after the TTL) and
   * broadcasts it, atomically: a feed that fetches the latest right after
   * subscribing cannot miss a snapshot published in between. Delivery is
   * at most once to the feeds connected at that moment; the latest key is
   * what a feed catches up from.
   *
   * With a `fence`, only while that fence still holds the leader lease:
   * otherwise nothing is stored or sent and it resolves false, so a former
   * leader waking from a pause cannot put a stale snapshot anywhere.
   * Rejects when the store does not take it.
   */
  publish(encoded: Buffer, fence?: Fence): Promise<boolean>;
  /** Stops publishing. Idempotent. Does not close a connection it was given. */
  close(): Promise<void>;
}

/** Gateway side. */
export interface SnapshotFeed {
  /** The latest stored snapshot, or null when none was published within the TTL. */
  latest(): Promise<Buffer | null>;
  /**
   * Subscribes and delivers every snapshot broadcast from then on to
   * `onSnapshot`, then the latest stored one, so nothing published around the
   * subscription is missed; resolves once that is done. After a lost
   * connection it resubscribes and delivers the latest again, so a gateway
   * catches up. `onStatus` reports when the feed is live (true, after each
   * catch-up) and when it lost its connection (false). Call once.
   */
  start(onSnapshot: (encoded: Buffer) => void, onStatus?: (connected: boolean) => void): Promise<void>;
  /** Stops delivery and releases connections. Idempotent. */
  close(): Promise<void>;
}
