import { describe, expect, it } from 'vitest';
import { exponentialGapMs, logNormal, pickWeighted, seededRandom } from './random.js';

const N = 20_000;

describe('random draws', () => {
  it('a seed repeats the same sequence', () => {
    const a = seededRandom(42);
    const b = seededRandom(42);
    expect(Array.from({ length: 5 }, a)).toEqual(Array.from({ length: 5 }, b));
    expect(seededRandom(43)()).not.toBe(seededRandom(42)());
  });

  it('exponential gaps average 1/rate', () => {
    const r = seededRandom(1);
    const mean = Array.from({ length: N }, () => exponentialGapMs(r, 20)).reduce((a, b) => a + b) / N;
    expect(mean).toBeGreaterThan(47);
    expect(mean).toBeLessThan(53);
  });

  it('log-normal draws have the requested median', () => {
    const r = seededRandom(2);
    const sorted = Array.from({ length: N }, () => logNormal(r, 400, 0.5)).sort((a, b) => a - b);
    expect(sorted[N / 2]).toBeGreaterThan(380);
    expect(sorted[N / 2]).toBeLessThan(420);
    expect(sorted[0]).toBeGreaterThan(0);
  });

  it('weighted choice follows the weights', () => {
    const r = seededRandom(3);
    const items = [{ value: 'a', weight: 3 }, { value: 'b', weight: 1 }];
    const as = Array.from({ length: N }, () => pickWeighted(r, items)).filter((v) => v === 'a').length;
    expect(as / N).toBeGreaterThan(0.73);
    expect(as / N).toBeLessThan(0.77);
  });
});
