/**
 * Leader election of the aggregators: a lease with a fencing epoch. Whoever
 * holds the lease is the one active aggregator; every new holder gets a higher
 * epoch, which its snapshots and commits carry, so a paused former leader
 * that wakes up cannot overwrite anything. Implementations:
 * `leader-lease.redis.ts` (SET NX PX, renewed every tick) and
 * `leader-lease.memory.ts` (the single process is always the leader).
 */
import type { Fence } from './event-source.js';

export interface LeaderLease {
  /** Takes the lease if free, or renews it if held. Returns the fence while held, else null. */
  acquireOrRenew(): Promise<Fence | null>;
  /** Gives the lease up at once (on shutdown), so a standby need not wait for expiry. */
  release(): Promise<void>;
}
