import { describe, expect, it } from 'vitest';
import { SAMPLE_DATA } from '@pulse/test-support/snapshot-data';
import { CHARTS } from './chart-specs.js';

const data = SAMPLE_DATA;
describe('CHARTS', () => {
  it('every chart reads a point from full data, and nothing from data without its type', () => {
    for (const chart of CHARTS) {
      expect(Object.values(chart.point(data)).length).toBeGreaterThan(0);
      expect(Object.values(chart.point(data)).every((v) => typeof v === 'number')).toBe(true);
      expect(chart.point({})).toEqual({});
    }
  });

  it('latency is drawn per endpoint, p50 and p99', () => {
    expect(CHARTS.find((c) => c.id === 'latency')!.point(data)).toEqual({ '/a p50': 100, '/a p99': 400, '/b p50': 20, '/b p99': 90 });
  });

  it('inter-token latency is drawn p50 and p99, and is absent from a server without it (version 1)', () => {
    const itl = CHARTS.find((c) => c.id === 'itl')!;
    expect(itl.point(data)).toEqual({ p50: 12, p99: 30 });
    expect(itl.point({ streaming: { ...data.streaming, itl: undefined } })).toEqual({});
  });
});
