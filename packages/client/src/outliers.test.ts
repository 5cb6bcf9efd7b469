import { describe, expect, it } from 'vitest';
import { outlierReasons, weightedMedian, type OutlierFigures } from './outliers.js';

/** Nodes of equal traffic. */
const even = (figures: readonly Omit<OutlierFigures, 'responsesPerSec'>[]) => figures.map((f) => ({ responsesPerSec: 10, ...f }));

describe('weightedMedian', () => {
  it('is the ordinary median for equal weights', () => {
    const w = (values: number[]) => values.map((value) => ({ value, weight: 2 }));
    expect(weightedMedian(w([3, 1, 2]))).toBe(2);
    expect(weightedMedian(w([4, 1, 3, 2]))).toBe(2.5);
    expect(weightedMedian([])).toBeUndefined();
  });

  it('lies where half the weight is, ignoring what weighs nothing', () => {
    expect(weightedMedian([{ value: 1, weight: 1 }, { value: 5, weight: 1 }, { value: 100, weight: 10 }])).toBe(100);
    expect(weightedMedian([{ value: 1, weight: 0 }, { value: 5, weight: 3 }])).toBe(5);
    expect(weightedMedian([{ value: 1, weight: 0 }])).toBeUndefined();
  });
});

describe('outlierReasons', () => {
  it('marks a node whose p99 is over twice the median of the others', () => {
    expect(outlierReasons(even([100, 120, 110, 900, 130].map((p99) => ({ p99 }))))).toEqual([[], [], [], ['latency'], []]);
  });

  it('exactly twice is not an outlier', () => {
    expect(outlierReasons(even([{ p99: 100 }, { p99: 100 }, { p99: 200 }]))).toEqual([[], [], []]);
  });

  it('compares each node with the others, so it works for two nodes', () => {
    expect(outlierReasons(even([{ p99: 150 }, { p99: 900 }]))).toEqual([[], ['latency']]);
  });

  it('a lone node, or one without a p99, is never an outlier on latency', () => {
    expect(outlierReasons(even([{ p99: 5000 }]))).toEqual([[]]);
    expect(outlierReasons(even([{ p99: 100 }, {}, { p99: 100 }]))).toEqual([[], [], []]);
  });

  it('one far-off node does not hide another: the median ignores it', () => {
    expect(outlierReasons(even([100, 100, 100, 100, 450, 100_000].map((p99) => ({ p99 }))))).toEqual([[], [], [], [], ['latency'], ['latency']]);
  });

  it('nodes with little traffic do not set the norm for the busy ones', () => {
    // Two nodes that served a request each, fast and clean, beside three busy ones.
    const nodes = [
      { responsesPerSec: 0.02, p99: 5, errorRatePct: 0 },
      { responsesPerSec: 0.02, p99: 6, errorRatePct: 0 },
      { responsesPerSec: 18, p99: 1050, errorRatePct: 14 },
      { responsesPerSec: 18, p99: 1090, errorRatePct: 18 },
      { responsesPerSec: 18, p99: 1160, errorRatePct: 12 },
    ];
    expect(outlierReasons(nodes)).toEqual([[], [], [], [], []]);
    // With equal weights the idle nodes' figures pull the others' medians down, and every busy node looks sick.
    expect(outlierReasons(even(nodes.map(({ responsesPerSec: _, ...figures }) => figures)))).toEqual([[], [], ['errors'], ['latency', 'errors'], ['latency']]);
  });

  it('marks an error rate over twice the others’ median and above 1 %', () => {
    expect(outlierReasons(even([{ errorRatePct: 2 }, { errorRatePct: 1.5 }, { errorRatePct: 9 }, { errorRatePct: 2.5 }]))).toEqual([[], [], ['errors'], []]);
  });

  it('a small error rate against a clean fleet is noise', () => {
    expect(outlierReasons(even([{ errorRatePct: 0 }, { errorRatePct: 0 }, { errorRatePct: 0.8 }]))).toEqual([[], [], []]);
    expect(outlierReasons(even([{ errorRatePct: 0 }, { errorRatePct: 0 }, { errorRatePct: 1.2 }]))).toEqual([[], [], ['errors']]);
  });

  it('gives both reasons when both apply', () => {
    expect(outlierReasons(even([{ p99: 100, errorRatePct: 0 }, { p99: 100, errorRatePct: 0 }, { p99: 300, errorRatePct: 5 }]))).toEqual([[], [], ['latency', 'errors']]);
  });
});
