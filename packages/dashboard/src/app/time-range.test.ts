import { describe, expect, it } from 'vitest';
import { chooseStep, rangeAddress, DEFAULT_RANGE, describeRange, followsNow, MAX_CHART_POINTS, RANGES, rangeFromQuery, rangeParams, spanOf, windowOf, zoomTo } from './time-range.js';

describe('time range', () => {
  it('chooses a step that keeps every range at or under the chart’s points', () => {
    expect(RANGES.map((r) => chooseStep(r.seconds))).toEqual([0.5, 10, 60, 300, 1200]);
    for (const r of RANGES) expect(r.seconds / chooseStep(r.seconds)).toBeLessThanOrEqual(MAX_CHART_POINTS);
    // …and the finest such step: the next finer one would hold more.
    expect(3600 / 5).toBeGreaterThan(MAX_CHART_POINTS);
    expect(chooseStep(60)).toBe(0.5);
    expect(chooseStep(10 * 365 * 86_400)).toBe(86_400);
    expect(chooseStep(1000, 100)).toBe(10);
  });

  it('a last-N range follows now; a zoomed span stays where it was', () => {
    expect(windowOf({ kind: 'last', seconds: 300 }, 1000)).toEqual({ since: 700, until: 1000 });
    expect(windowOf({ kind: 'between', since: 10, until: 70 }, 1000)).toEqual({ since: 10, until: 70 });
    expect(followsNow(DEFAULT_RANGE)).toBe(true);
    expect(followsNow({ kind: 'between', since: 10, until: 70 })).toBe(false);
    expect(spanOf({ kind: 'between', since: 10, until: 70 })).toBe(60);
  });

  it('a drag zooms to its span, either way round; a short one to the shortest span about its middle', () => {
    expect(zoomTo(1070.4, 1010.6)).toEqual({ kind: 'between', since: 1010, until: 1071 });
    expect(zoomTo(1000, 1004)).toEqual({ kind: 'between', since: 997, until: 1007 });
    expect(zoomTo(NaN, 1003)).toBeNull();
  });

  it('round-trips through the address, the default leaving no trace', () => {
    for (const r of RANGES) {
      const range = { kind: 'last', seconds: r.seconds } as const;
      expect(rangeFromQuery(new URLSearchParams(rangeParams(range)).toString())).toEqual(range);
    }
    expect(rangeParams(DEFAULT_RANGE)).toEqual([]);
    const zoomed = { kind: 'between', since: 1_765_000_000, until: 1_765_000_600 } as const;
    expect(rangeFromQuery(new URLSearchParams(rangeParams(zoomed)).toString())).toEqual(zoomed);
  });

  it('a range change keeps the filters and the page’s parameters in the address', () => {
    expect(rangeAddress({ kind: 'last', seconds: 3600 }, '?endpoint=%2Fa&token=t&from=1&to=99')).toBe('?endpoint=%2Fa&token=t&range=1h');
    expect(rangeAddress(DEFAULT_RANGE, '?range=6h')).toBe('');
  });

  it('ignores what it does not know', () => {
    expect(rangeFromQuery('range=3w')).toEqual(DEFAULT_RANGE);
    expect(rangeFromQuery('from=100&to=105')).toEqual(DEFAULT_RANGE);
    expect(rangeFromQuery('from=x&to=200&range=6h')).toEqual({ kind: 'last', seconds: 6 * 3600 });
  });

  it('says what it shows', () => {
    expect(describeRange({ kind: 'last', seconds: 3600 }, String)).toMatch(/^last 1 h, live/);
    expect(describeRange({ kind: 'between', since: 1, until: 20 }, String)).toMatch(/^1 – 20/);
  });
});
