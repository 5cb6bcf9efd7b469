import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { LogHistogram, RELATIVE_ACCURACY, indexOf, valueOf } from './log-histogram.js';
import { DISTRIBUTIONS, exactQuantile, rng } from '@pulse/test-support/quantiles';

const QUANTILES = [0.5, 0.9, 0.99];
const N = 100_000;

function relError(estimate: number, exact: number): number {
  return exact === 0 ? Math.abs(estimate) : Math.abs(estimate - exact) / Math.abs(exact);
}

describe('LogHistogram', () => {
  it('reads every bucket back within the relative accuracy', () => {
    const r = rng(1);
    for (let i = 0; i < 10_000; i++) {
      const v = Math.exp(-9 + r() * 29); // 1e-4 … 4e8
      expect(relError(valueOf(indexOf(v)), v)).toBeLessThanOrEqual(RELATIVE_ACCURACY);
    }
  });

  it.each(Object.keys(DISTRIBUTIONS))('%s: p50/p90/p99 of 10^5 samples within 1 %% of numpy', (name) => {
    const r = rng(42);
    const gen = DISTRIBUTIONS[name]!;
    const values = new Float64Array(N);
    const h = new LogHistogram();
    for (let i = 0; i < N; i++) {
      values[i] = gen(r);
      h.add(values[i]!);
    }
    values.sort();
    for (const q of QUANTILES) {
      const exact = exactQuantile(values, q);
      expect(relError(h.quantile(q, values[0]!, values[N - 1]!), exact)).toBeLessThanOrEqual(0.01);
    }
  });

  it('merged cells give the percentiles of their union, for random subsets', () => {
    // 24 cells, each from its own distribution and scale; views merge random subsets.
    const r = rng(7);
    const names = Object.keys(DISTRIBUTIONS);
    const cells = Array.from({ length: 24 }, (_, i) => {
      const gen = DISTRIBUTIONS[names[i % names.length]!]!;
      const scale = 0.5 + r() * 4;
      const values = Array.from({ length: 1000 + Math.floor(r() * 8000) }, () => gen(r) * scale);
      const h = new LogHistogram();
      for (const v of values) h.add(v);
      return { values, data: { ...h.data(), counts: Array.from(h.data().counts) } };
    });
    let worst = 0;
    fc.assert(
      fc.property(fc.subarray(cells, { minLength: 1 }), (subset) => {
        const merged = new LogHistogram();
        const union: number[] = [];
        for (const c of subset) {
          merged.merge(c.data);
          for (const v of c.values) union.push(v);
        }
        const sorted = Float64Array.from(union).sort();
        for (const q of QUANTILES) {
          const err = relError(merged.quantile(q, sorted[0]!, sorted[sorted.length - 1]!), exactQuantile(sorted, q));
          worst = Math.max(worst, err);
          expect(err).toBeLessThanOrEqual(0.01);
        }
      }),
      { numRuns: 60, seed: 11 },
    );
    console.log(`merged-subset worst relative error: ${(worst * 100).toFixed(3)} %`);
  });

  it('removing samples restores the histogram exactly', () => {
    const h = new LogHistogram();
    for (const v of [1, 2, 3, 1000]) h.add(v);
    h.addIndex(indexOf(1000), -1);
    expect(h.total).toBe(3);
    expect(h.quantile(1, 1, 3)).toBeLessThanOrEqual(3);
    expect(h.data().counts.length).toBeLessThan(100);
  });

  it('is exact for a single sample and for zeros', () => {
    const h = new LogHistogram();
    h.add(123.456);
    expect(h.quantile(0.5, 123.456, 123.456)).toBe(123.456);
    const z = new LogHistogram();
    z.add(0);
    z.add(0);
    expect(z.quantile(0.99, 0, 0)).toBe(0);
  });
});

describe('quantiles', () => {
  it('equals quantile for each p, whatever the counts, zeros and ranks that coincide', () => {
    const ps = [0.5, 0.9, 0.95, 0.99, 0.999];
    let seed = 11;
    const next = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    for (let trial = 0; trial < 300; trial++) {
      const h = new LogHistogram();
      const n = 1 + Math.floor(next() * (trial % 3 === 0 ? 5 : 2000));
      const values: number[] = [];
      for (let i = 0; i < n; i++) values.push(next() < 0.05 ? 0 : Math.exp(8 * next()));
      for (const v of values) h.add(v);
      const min = Math.min(...values);
      const max = Math.max(...values);
      expect(h.quantiles(ps, min, max)).toEqual(ps.map((p) => h.quantile(p, min, max)));
    }
  });
});
