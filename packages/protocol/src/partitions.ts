/**
 * Partitioned aggregation (PULSE_PARTITIONS, CONTRACT §10): the event stream
 * is split into N partitions by the event's node, so a request's start and
 * end (same node) land in the same partition and every cell
 * (node × endpoint × model) belongs to exactly one. The route is this one
 * function: every writer of the log (ingest, the proxy, `npm start`) and
 * every test uses it.
 */

/** Partitions at most (PULSE_PARTITIONS is 1 … MAX_PARTITIONS). */
export const MAX_PARTITIONS = 64;

/**
 * 32-bit FNV-1a of the node name's UTF-16 code units. Stable across
 * processes, versions and platforms (no seed, no Map order): a node always
 * routes to the same partition for a given N.
 */
export function fnv1a(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** The partition (0 … partitions − 1) of the events of `node`. */
export function partitionOf(node: string, partitions: number): number {
  return partitions <= 1 ? 0 : fnv1a(node) % partitions;
}

/** Throws RangeError unless `partitions` is an integer in 1 … MAX_PARTITIONS and `partition` one of them. */
export function checkPartition(partition: number, partitions: number): void {
  if (!Number.isInteger(partitions) || partitions < 1 || partitions > MAX_PARTITIONS) {
    throw new RangeError(`partitions must be an integer in 1…${MAX_PARTITIONS}, got ${partitions}`);
  }
  if (!Number.isInteger(partition) || partition < 0 || partition >= partitions) {
    throw new RangeError(`partition must be an integer in 0…${partitions - 1}, got ${partition}`);
  }
}
