/**
 * Every Redis key and channel Pulse uses, built from one prefix. No other
 * module joins key names: a prefix per deployment (or per test) isolates it.
 */
export interface PulseKeys {
  /** Stream of event batches: one entry per accepted ingest request. */
  readonly events: string;
  /** Consumer group of the aggregators on `events`. */
  readonly group: string;
  /** Hash of since-creation totals, one field per (cell, counter). */
  readonly totals: string;
  /** Metadata of the metrics store: creation time. */
  readonly meta: string;
  /** Latest encoded snapshot (a string key). */
  readonly latestSnapshot: string;
  /** Pub/sub channel carrying every encoded snapshot. */
  readonly snapshotChannel: string;
  /** Leader lease of the active aggregator. */
  readonly leaderLease: string;
  /** Fencing epoch counter, incremented by every new leader. */
  readonly leaderEpoch: string;
  /** Stored reply of an ingest request with this Idempotency-Key. */
  idempotency(key: string): string;
}

export const DEFAULT_KEY_PREFIX = 'pulse';

export function pulseKeys(prefix: string = DEFAULT_KEY_PREFIX): PulseKeys {
  // The hash tag keeps every key in one Redis Cluster slot, so the Lua
  // scripts that touch several of them stay legal there.
  const p = `{${prefix}}`;
  return Object.freeze({
    events: `${p}:events`,
    group: 'aggregators',
    totals: `${p}:totals`,
    meta: `${p}:meta`,
    latestSnapshot: `${p}:snapshot:latest`,
    snapshotChannel: `${p}:snapshots`,
    leaderLease: `${p}:leader:lease`,
    leaderEpoch: `${p}:leader:epoch`,
    idempotency: (key: string) => `${p}:idem:${key}`,
  });
}
