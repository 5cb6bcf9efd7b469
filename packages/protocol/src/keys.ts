/**
 * Every Redis key and channel Pulse uses, built from one prefix. No other
 * module joins key names: a prefix per deployment (or per test) isolates it.
 */
import { CELL_TOTALS, OTHER_LABEL, type CellTotal } from './cell-fields.js';
import { cumulativeSlot, type CumulativeHistogram } from './cumulative.js';
import { parseExponentialFieldName, type ExponentialPart } from './exponential.js';
import { checkPartition } from './partitions.js';

export { checkPartition, fnv1a, MAX_PARTITIONS, partitionOf } from './partitions.js';

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
  /** The partition of the event stream these keys are (0 … partitions − 1), and how many there are (PULSE_PARTITIONS). */
  readonly partition: number;
  readonly partitions: number;
  /** The event stream of every partition, in order: the store's creation time is the oldest entry of any. */
  readonly allEvents: readonly string[];
}

export const DEFAULT_KEY_PREFIX = 'pulse';

/**
 * The keys of one partition of a deployment (PULSE_PARTITIONS = `partitions`).
 * Partition 0 — the only one by default — has the names Pulse always had,
 * under the hash tag `{prefix}`: one slot for every key a Lua script touches
 * together. Partition i > 0 has the same names under a tag of its own,
 * `{prefix:p<i>}`, so a Redis Cluster spreads partitions over its shards.
 * `meta` (creation time, partition count) is the deployment's, in `{prefix}`,
 * whatever the partition; so are the alert state and BullMQ's jobs, fenced by
 * partition 0's lease (one slot with it).
 */
export function pulseKeys(prefix: string = DEFAULT_KEY_PREFIX, partition = 0, partitions = 1): PulseKeys {
  checkPartition(partition, partitions);
  // The hash tag keeps every key of a partition in one Redis Cluster slot, so
  // the Lua scripts that touch several of them stay legal there.
  const tag = (i: number) => (i === 0 ? `{${prefix}}` : `{${prefix}:p${i}}`);
  const p = tag(partition);
  return Object.freeze({
    events: `${p}:events`,
    group: 'aggregators',
    totals: `${p}:totals`,
    meta: `${tag(0)}:meta`,
    latestSnapshot: `${p}:snapshot:latest`,
    snapshotPatches: `${p}:snapshot:patches`,
    snapshotChannel: `${p}:snapshots`,
    leaderLease: `${p}:leader:lease`,
    leaderEpoch: `${p}:leader:epoch`,
    idempotency: (key: string) => `${p}:idem:${key}`,
    partition,
    partitions,
    allEvents: Object.freeze(Array.from({ length: partitions }, (_, i) => `${tag(i)}:events`)),
  });
}

/** The keys of every partition of a deployment, in partition order. */
export function partitionKeys(prefix: string = DEFAULT_KEY_PREFIX, partitions = 1): PulseKeys[] {
  return Array.from({ length: partitions }, (_, i) => pulseKeys(prefix, i, partitions));
}

/**
 * A field of the `totals` hash: one since-creation total of one cell, as the
 * JSON text `[node, endpoint, model, name]` (labels may hold any character,
 * so no separator would do), where `name` is a total of CELL_TOTALS, a slot
 * of CUMULATIVE_SLOTS or an exponential histogram's part (exponential.ts). A field from before cells had a node,
 * `[endpoint, model, total]`, reads as the node `__other__`.
 */
export function totalsField(node: string, endpoint: string, model: string, name: CellTotal | string): string {
  return JSON.stringify([node, endpoint, model, name]);
}

/** What a `totals` field counts: a seed total, a cumulative slot (cumulative.ts), or a bucket, zero count or sum of an exponential histogram (exponential.ts). */
export type TotalsTarget =
  | { total: CellTotal; slot?: undefined; exponential?: undefined }
  | { slot: number; total?: undefined; exponential?: undefined }
  | { exponential: { histogram: CumulativeHistogram; part: ExponentialPart }; total?: undefined; slot?: undefined };

/** The cell and total (cumulative slot, exponential part) a `totals` field names; null for anything else. */
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
  if (slot !== undefined) return { node, endpoint, model, slot };
  const exponential = parseExponentialFieldName(name);
  return exponential ? { node, endpoint, model, exponential } : null;
}

/** The keys of the runs and annotations of a deployment (docs/PROTOCOL.md "Runs"). */
export interface RunsKeys {
  /** Hash: run id → the run's JSON, without `stopped_at`. */
  readonly runs: string;
  /** Hash: run id → `stopped_at` (seconds), once stopped. */
  readonly runsStopped: string;
  /** Sorted set of run ids by start order: the newest last, the oldest trimmed first. */
  readonly runsOrder: string;
  /** Counter of the runs ever started: a run's id and its place in `runsOrder`. */
  readonly runsSeq: string;
  /** Hash: annotation id → the annotation's JSON. */
  readonly annotations: string;
  /** Sorted set of annotation ids by timestamp (ms). */
  readonly annotationsByTime: string;
  /** Counter of the annotations ever added. */
  readonly annotationsSeq: string;
}

/**
 * Runs are the deployment's, not a partition's: under partition 0's hash tag
 * `{prefix}`, like `meta` and the alert state, so one Lua script may touch
 * them all on a Redis Cluster.
 */
export function runsKeys(prefix: string = DEFAULT_KEY_PREFIX): RunsKeys {
  const p = `{${prefix}}`;
  return Object.freeze({
    runs: `${p}:runs`,
    runsStopped: `${p}:runs:stopped`,
    runsOrder: `${p}:runs:order`,
    runsSeq: `${p}:runs:seq`,
    annotations: `${p}:annotations`,
    annotationsByTime: `${p}:annotations:by_time`,
    annotationsSeq: `${p}:annotations:seq`,
  });
}
