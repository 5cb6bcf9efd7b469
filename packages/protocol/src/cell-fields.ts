/**
 * The figures one (endpoint, model) cell carries, defined once. Everything
 * that handles a cell's numbers — the snapshot's types and codec, the
 * window's running state and expiry, a view's sums — follows from these
 * lists, so a new counter is one edit here (and the code that counts it).
 *
 * The per-field code is compiled from the lists (`compile*` below) rather
 * than looped over: a loop over field names makes every property access
 * keyed and megamorphic, which measured 30–60× slower than spelled-out
 * fields when decoding and summing 1,000 cells; the compiled functions
 * measure the same as hand-written ones.
 */

/** The label a cardinality guard folds what is beyond it into (nodes, endpoints, models, error types). */
export const OTHER_LABEL = '__other__';

/** Additive over the window: what a bucket adds and its expiry takes away (docs/PROTOCOL.md §4). */
export const WINDOW_COUNTERS = [
  'requests',
  'responses',
  'completionTokens',
  'errors',
  'lookups',
  'hits',
  'cachedTokens',
  'lookupPromptTokens',
  /** Sum of `prefix_length` over the hits. */
  'prefixSum',
] as const;

/** Requests and streams in flight, derived from start/end pairs. */
export const CELL_GAUGES = ['queueDepth', 'activeStreams'] as const;

/** Since the metrics store was created: persisted with each acknowledgement, never expired. */
export const CELL_TOTALS = ['completedStreams', 'failedStreams', 'totalLookups', 'totalHits'] as const;

/** Every number of a cell, in snapshot wire order. */
export const CELL_NUMBERS = [...WINDOW_COUNTERS, ...CELL_GAUGES, ...CELL_TOTALS] as const;

/** Window distributions: exact count/sum/min/max and a log-bucket histogram each. */
export const CELL_DISTRIBUTIONS = ['latency', 'ttft', 'tokensPerSecond', 'itl'] as const;

export type WindowCounter = (typeof WINDOW_COUNTERS)[number];
export type CellGauge = (typeof CELL_GAUGES)[number];
export type CellTotal = (typeof CELL_TOTALS)[number];
export type CellNumber = (typeof CELL_NUMBERS)[number];
export type CellDistribution = (typeof CELL_DISTRIBUTIONS)[number];

export type Counts<K extends string> = Record<K, number>;

/** `acc[k] += from[k]` for every k of `keys`. */
export type Adder<K extends string> = (acc: Counts<K>, from: Readonly<Counts<K>>) => void;

/** A fresh object with every field of `keys` at 0, all of one shape. */
export function compileZero<K extends string>(keys: readonly K[]): () => Counts<K> {
  return new Function(`return { ${keys.map((k) => `${field(k)}: 0`).join(', ')} };`) as () => Counts<K>;
}

/** `{ k: make(k), … }` over `keys`, as one object literal (one shape for every object built). */
export function compileFill<K extends string>(keys: readonly K[]): <V>(make: (key: K) => V) => Record<K, V> {
  return new Function('make', `return { ${keys.map((k) => `${field(k)}: make('${k}')`).join(', ')} };`) as <V>(make: (key: K) => V) => Record<K, V>;
}

/** `acc[k] += from[k]` over `keys`. */
export function compileAdd<K extends string>(keys: readonly K[]): Adder<K> {
  return new Function('acc', 'from', keys.map((k) => `acc.${field(k)} += from.${field(k)};`).join('\n')) as Adder<K>;
}

/** `acc[k] -= from[k]` over `keys`. */
export function compileSubtract<K extends string>(keys: readonly K[]): Adder<K> {
  return new Function('acc', 'from', keys.map((k) => `acc.${field(k)} -= from.${field(k)};`).join('\n')) as Adder<K>;
}

/** `acc[k] = from[k]` over `keys`. */
export function compileAssign<K extends string>(keys: readonly K[]): Adder<K> {
  return new Function('acc', 'from', keys.map((k) => `acc.${field(k)} = from.${field(k)};`).join('\n')) as Adder<K>;
}

/**
 * The fields of `keys` where `now` differs from `was`, with `now`'s values,
 * the others undefined; null when none differs. One object shape whatever
 * changed: a shape per set of changes made every read of them megamorphic.
 */
export function compileChanges<K extends string>(keys: readonly K[]): (now: Readonly<Counts<K>>, was: Readonly<Counts<K>>) => Partial<Counts<K>> | null {
  const names = keys.map(field);
  return new Function(
    'now',
    'was',
    `${names.map((k, i) => `const v${i} = now.${k} !== was.${k} ? now.${k} : undefined;`).join('\n')}
    if (${names.map((_, i) => `v${i} === undefined`).join(' && ')}) return null;
    return { ${names.map((k, i) => `${k}: v${i}`).join(', ')} };`,
  ) as (now: Readonly<Counts<K>>, was: Readonly<Counts<K>>) => Partial<Counts<K>> | null;
}

/** Field names go into generated source: only plain identifiers, checked once at load. */
export function field(name: string): string {
  if (!/^[A-Za-z_$][A-Za-z0-9_$]*$/.test(name)) throw new Error(`not an identifier: ${name}`);
  return name;
}
