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
});
