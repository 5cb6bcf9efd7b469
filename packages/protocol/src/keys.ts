/**
 * Every Redis key and channel Pulse uses, built from one prefix. No other
 * module joins key names: a prefix per deployment (or per test) isolates it.
 */
import { CELL_TOTALS, OTHER_LABEL, type CellTotal } from './cell-fields.js';
import { cumulativeSlot } from './cumulative.js';

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
  /** The patches published since that snapshot, in order (a list). */
  readonly snapshotPatches: string;
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
    snapshotPatches: `${p}:snapshot:patches`,
    snapshotChannel: `${p}:snapshots`,
    leaderLease: `${p}:leader:lease`,
    leaderEpoch: `${p}:leader:epoch`,
    idempotency: (key: string) => `${p}:idem:${key}`,
  });
}

/**
 * A field of the `totals` hash: one since-creation total of one cell, as the
 * JSON text `[node, endpoint, model, name]` (labels may hold any character,
 * so no separator would do), where `name` is a total of CELL_TOTALS or a slot
 * of CUMULATIVE_SLOTS. A field from before cells had a node,
 * `[endpoint, model, total]`, reads as the node `__other__`.
 */
export function totalsField(node: string, endpoint: string, model: string, name: CellTotal | string): string {
  return JSON.stringify([node, endpoint, model, name]);
}

/** What a `totals` field counts: a seed total, or a cumulative slot (cumulative.ts). */
export type TotalsTarget = { total: CellTotal; slot?: undefined } | { slot: number; total?: undefined };

/** The cell and total (or cumulative slot) a `totals` field names; null for anything else. */
export function parseTotalsField(field: string): ({ node: string; endpoint: string; model: string } & TotalsTarget) | null {
  let value: unknown;
  try {
    value = JSON.parse(field);
  } catch {
    return null;
  }
  if (!Array.isArray(value) || (value.length !== 3 && value.length !== 4)) return null;
  const [node, endpoint, model, name] = (value.length === 3 ? [OTHER_LABEL, ...value] : value) as unknown[];
  if (typeof node !== 'string' || typeof endpoint !== 'string' || typeof model !== 'string' || typeof name !== 'string') return null;
  if ((CELL_TOTALS as readonly string[]).includes(name)) return { node, endpoint, model, total: name as CellTotal };
  const slot = cumulativeSlot(name);
  return slot === undefined ? null : { node, endpoint, model, slot };
}
