/**
 * A view's metric types as JSON, reusing the text of what the views of one
 * snapshot share (issue 19). @pulse/metrics' View already shares the `Stats`
 * of whole aggregates between the views of a snapshot (its StatsMemo: an
 * endpoint's latency reads the same in every view that takes the endpoint
 * whole), so their JSON is written once per snapshot too, in a `FragmentMemo`
 * keyed by the object, and a view's `latency` map is its entries' fragments
 * joined. Every other type goes through JSON.stringify: its objects are the
 * view's own, and V8's serializer is faster than any assembly of them here
 * (measured in docs/PERFORMANCE.md, issue 19).
 *
 * The text is byte for byte what JSON.stringify gives of the same part (same
 * keys in the same order, numbers as JSON writes them, null for a
 * non-finite number): fragments.property.test.ts checks it on random
 * snapshots and filters.
 */
import type { MetricType, SnapshotData, Stats } from '@pulse/protocol';

/** JSON of objects shared by the views of one snapshot, by identity. Make a new one per snapshot (with its StatsMemo). */
export type FragmentMemo = WeakMap<object, string>;

/**
 * `type`'s figures as JSON. `record` (the snapshot's unfiltered view, built
 * first): the JSON of its latency `Stats` goes into `memo` — they are the
 * whole endpoints' (StatsMemo), the very objects a view taking an endpoint
 * whole holds. Other views only read `memo`: recording every view's own
 * Stats cost more in WeakMap inserts than the hits saved (docs/PERFORMANCE.md).
 */
export function partJson<T extends MetricType>(type: T, part: SnapshotData[T], memo: FragmentMemo | null, record = false): string {
  if (memo === null || type !== 'latency') return JSON.stringify(part);
  const map = part as Record<string, Stats>;
  if (record) return statsMapJson(map, memo, true);
  // A view takes its endpoints whole or none of them (its filter splits them all alike): the first says which.
  for (const key in map) return memo.has(map[key]!) ? statsMapJson(map, memo, false) : JSON.stringify(part);
  return '{}';
}

/** `{"<endpoint>":<stats>,…}` in the object's own key order (JSON.stringify's: integer-like keys first, then insertion order). */
function statsMapJson(map: Record<string, Stats>, memo: FragmentMemo, record: boolean): string {
  let out = '';
  for (const key in map) {
    const stats = map[key]!;
    let json = memo.get(stats);
    if (json === undefined) {
      json = JSON.stringify(stats);
      if (record) memo.set(stats, json);
    }
    out += `${out === '' ? '{' : ','}${keyJson(key)}:${json}`;
  }
  return out === '' ? '{}' : `${out}}`;
}

/** Quoted names (endpoints), kept while there are not too many: producers choose them, and a gateway sees a bounded set. */
const keys = new Map<string, string>();
const MAX_KEYS = 10_000;

function keyJson(key: string): string {
  let json = keys.get(key);
  if (json === undefined) {
    json = JSON.stringify(key);
    if (keys.size >= MAX_KEYS) keys.clear();
    keys.set(key, json);
  }
  return json;
}
