/** Exact quantiles and seeded samples, for the property tests of the sketches and views. */

/** numpy.percentile's default: linear interpolation between closest ranks. */
export function exactQuantile(sorted: Float64Array | number[], p: number): number {
  const h = (sorted.length - 1) * p;
  const lo = Math.floor(h);
  const hi = Math.min(lo + 1, sorted.length - 1);
  return sorted[lo]! + (h - lo) * (sorted[hi]! - sorted[lo]!);
}

/** A seeded PRNG (the simulator's mulberry32), so failures reproduce. */
export { seededRandom as rng } from '@pulse/simulator';

export function normal(r: () => number): number {
  return Math.sqrt(-2 * Math.log(1 - r())) * Math.cos(2 * Math.PI * r());
}

/** Sample generators of latency-like distributions, in ms. */
export const DISTRIBUTIONS: Record<string, (r: () => number) => number> = {
  uniform: (r) => 1 + r() * 999,
  lognormal: (r) => Math.exp(5 + 0.8 * normal(r)),
  exponential: (r) => -Math.log(1 - r()) * 120,
  pareto: (r) => 10 / Math.pow(1 - r(), 1 / 1.5),
  bimodal: (r) => (r() < 0.7 ? 40 + 10 * normal(r) ** 2 : 900 + 200 * r()),
  withZeros: (r) => (r() < 0.05 ? 0 : 0.5 + r() * 20),
};
