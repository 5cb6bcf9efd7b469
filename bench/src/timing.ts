/** Small timing helpers shared by the benchmarks. */

/** A latency distribution as the reports print it, ms. */
export interface Quantiles {
  p50: number;
  p90: number;
  p99: number;
  max: number;
}

/** Runs `fn` `warmup` times, then `runs` times; returns the per-run durations in ms, sorted. */
export function measure(fn: () => void, runs: number, warmup = Math.max(3, runs / 10)): number[] {
  for (let i = 0; i < warmup; i++) fn();
  const out: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    fn();
    out.push(performance.now() - t0);
  }
  return out.sort((a, b) => a - b);
}

export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const h = (sorted.length - 1) * p;
  const lo = Math.floor(h);
  const hi = Math.min(lo + 1, sorted.length - 1);
  return sorted[lo]! + (h - lo) * (sorted[hi]! - sorted[lo]!);
}

export function round(n: number, digits = 3): number {
  const f = 10 ** digits;
  return Math.round(n * f) / f;
}
