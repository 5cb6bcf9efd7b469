import { describe, expect, it } from 'vitest';
import { SeriesHistory } from './series.js';

describe('SeriesHistory', () => {
  it('keeps series aligned with the time axis, gaps where a value is missing', () => {
    const h = new SeriesHistory(60);
    h.push(1, { a: 1 });
    h.push(2, { a: 2, b: 20 });
    h.push(3, { b: 30 });
    expect(h.times).toEqual([1, 2, 3]);
    expect(h.names).toEqual(['a', 'b']);
    expect(h.series('a')).toEqual([1, 2, null]);
    expect(h.series('b')).toEqual([null, 20, 30]);
  });

  it('drops points older than its span', () => {
    const h = new SeriesHistory(10);
    for (let t = 0; t <= 30; t += 5) h.push(t, { a: t });
    expect(h.times).toEqual([20, 25, 30]);
    expect(h.series('a')).toEqual([20, 25, 30]);
  });

  it('forgets a series with no point left in its span, so names stay bounded', () => {
    const h = new SeriesHistory(10);
    for (let t = 0; t <= 1000; t += 5) h.push(t, { steady: t, [`endpoint-${Math.floor(t / 100)}`]: t });
    expect(h.names).toEqual(['steady', 'endpoint-9', 'endpoint-10']);
    expect(h.series('endpoint-0')).toEqual([]);
    expect(h.series('steady')).toEqual([990, 995, 1000]);
  });

  it('ignores a point that is not newer (the same snapshot twice after a reconnect)', () => {
    const h = new SeriesHistory(10);
    h.push(5, { a: 1 });
    h.push(5, { a: 2 });
    h.push(4, { a: 3 });
    expect(h.series('a')).toEqual([1]);
  });

  it('stores non-finite values as gaps and starts over on clear', () => {
    const h = new SeriesHistory(10);
    h.push(1, { a: NaN });
    expect(h.series('a')).toEqual([null]);
    h.clear();
    expect(h.times).toEqual([]);
    expect(h.names).toEqual([]);
  });

  it('backfills history under the points held: history up to its newest point, held points after it', () => {
    const h = new SeriesHistory(60);
    h.push(10, { a: 10, live: 1 });
    h.push(11, { a: 11 });
    h.push(13, { a: 13 });
    h.backfill([
      [5, { a: 5 }],
      [0, { a: 0, old: 7 }],
      [10, { a: 99 }], // history's figures at 10 win, and 11 is under history's span: it goes
      [12, { a: 12 }],
    ]);
    expect(h.times).toEqual([0, 5, 10, 12, 13]);
    expect(h.series('a')).toEqual([0, 5, 99, 12, 13]);
    expect(h.series('old')).toEqual([7, null, null, null, null]);
  });

  it('a reconnect fills the gap: history over the time the page missed', () => {
    const h = new SeriesHistory(60);
    h.push(1, { a: 1 });
    h.push(2, { a: 2 });
    h.push(20, { a: 20 }); // the first live point after the reconnect
    expect(h.maxGap()).toBe(18);
    h.backfill([1, 2, 5, 10, 15].map((t) => [t, { a: t }] as const));
    expect(h.times).toEqual([1, 2, 5, 10, 15, 20]);
    expect(h.maxGap()).toBe(5);
  });

  it('backfills within its span only', () => {
    const h = new SeriesHistory(10);
    h.push(100, { a: 100 });
    h.backfill([[80, { a: 80 }], [95, { a: 95 }]]);
    expect(h.times).toEqual([95, 100]);
  });

  it('keeps about one point per step: the newest replaces the one before it until a step has passed', () => {
    const h = new SeriesHistory(3600, 10);
    for (let t = 0; t <= 35; t++) h.push(t, { a: t });
    // 0; 1…9 each replaced by the next, 9 kept when 10 came (10 − 0 ≥ 10); and so on. The tail is always the newest.
    expect(h.times).toEqual([0, 9, 18, 27, 35]);
    expect(h.series('a')).toEqual([0, 9, 18, 27, 35]);
  });

  it('a new span and step apply from the next point', () => {
    const h = new SeriesHistory(10);
    for (let t = 0; t <= 10; t++) h.push(t, { a: t });
    h.setSpan(100, 5);
    h.backfill([[0, { a: 0 }], [5, { a: 5 }], [10, { a: 10 }]]);
    for (let t = 11; t <= 15; t++) h.push(t, { a: t });
    expect(h.times).toEqual([0, 5, 10, 14, 15]);
  });
});
