/**
 * Which nodes stand out from the rest of the fleet: the rule the dashboard's
 * node table and `pulse watch` mark outliers by. Pure.
 *
 * A node is an outlier on latency when its p99 is more than twice the median
 * p99 of the *other* nodes, and on errors when its error rate is more than
 * twice the others' median and above 1 %.
 *
 * - The median ignores one or two bad nodes however far off they are.
 * - Leaving the node itself out keeps the rule meaningful for two or three
 *   nodes, where its own value would drag the median towards it (with two
 *   nodes, a median that includes both could never be exceeded twofold).
 * - Each node weighs by its traffic (responses/s): a node that served one
 *   request, new or nearly idle, has a p99 and an error rate of one sample,
 *   and must not decide what normal is for nodes serving hundreds.
 */

export type OutlierReason = 'latency' | 'errors';

/** How many times the others' median a node's figure must exceed. */
export const OUTLIER_FACTOR = 2;

/** An error rate (%) at or below this is never an outlier: 0.5 % against a fleet at 0 % is noise, not a sick node. */
export const OUTLIER_MIN_ERROR_PCT = 1;

export interface OutlierFigures {
  /** Its weight in the others' medians. */
  responsesPerSec?: number;
  /** p99 latency, ms; undefined without ends in the window. */
  p99?: number;
  /** Share of its ends that were errors, %; undefined without ends in the window. */
  errorRatePct?: number;
}

/**
 * The weighted median: the value below and above which half the weight lies
 * (the mean of the two values around an exact half, so equal weights give
 * the ordinary median). Undefined without positive weight.
 */
export function weightedMedian(samples: readonly { value: number; weight: number }[]): number | undefined {
  const sorted = samples.filter((s) => s.weight > 0).sort((a, b) => a.value - b.value);
  const half = sorted.reduce((sum, s) => sum + s.weight, 0) / 2;
  let below = 0;
  for (const [i, s] of sorted.entries()) {
    below += s.weight;
    if (below > half) return s.value;
    if (below === half) return (s.value + sorted[i + 1]!.value) / 2;
  }
  return undefined;
}

/** The reasons each node is an outlier for, in the order of `nodes` (empty: it is not one). */
export function outlierReasons(nodes: readonly OutlierFigures[]): OutlierReason[][] {
  const exceeds = (i: number, pick: (n: OutlierFigures) => number | undefined): boolean => {
    const value = pick(nodes[i]!);
    if (value === undefined) return false;
    const others = nodes.flatMap((n, j) => {
      const v = pick(n);
      return j === i || v === undefined ? [] : [{ value: v, weight: n.responsesPerSec ?? 0 }];
    });
    const median = weightedMedian(others);
    return median !== undefined && value > OUTLIER_FACTOR * median;
  };
  return nodes.map((node, i) => {
    const reasons: OutlierReason[] = [];
    if (exceeds(i, (n) => n.p99)) reasons.push('latency');
    if ((node.errorRatePct ?? 0) > OUTLIER_MIN_ERROR_PCT && exceeds(i, (n) => n.errorRatePct)) reasons.push('errors');
    return reasons;
  });
}
