/**
 * Random draws for the traffic model, from a seedable generator so a run can
 * be repeated (PULSE_SIM_SEED): uniform, exponential gaps (Poisson arrivals),
 * log-normal durations and sizes (long right tail, like real latencies),
 * weighted choice.
 */

export type Random = () => number;

/** mulberry32: tiny, fast, good enough for load shapes (not for cryptography). */
export function seededRandom(seed: number): Random {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Gap to the next arrival of a Poisson process with `ratePerSec`, ms. */
export function exponentialGapMs(random: Random, ratePerSec: number): number {
  return (-Math.log(1 - random()) / ratePerSec) * 1000;
}

/** Standard normal draw (Box–Muller). */
function normal(random: Random): number {
  const u = 1 - random();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * random());
}

/** Log-normal with the given median and sigma (spread of the log): median × e^(σ·N(0,1)). */
export function logNormal(random: Random, median: number, sigma: number): number {
  return median * Math.exp(sigma * normal(random));
}

export interface Weighted<T> {
  readonly value: T;
  readonly weight: number;
}

export function pickWeighted<T>(random: Random, items: readonly Weighted<T>[]): T {
  const total = items.reduce((sum, i) => sum + i.weight, 0);
  let r = random() * total;
  for (const item of items) {
    r -= item.weight;
    if (r < 0) return item.value;
  }
  return items[items.length - 1]!.value;
}
