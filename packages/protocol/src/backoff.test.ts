import { describe, expect, it } from 'vitest';
import { backoffDelay } from './backoff.js';

const opts = { initialDelayMs: 100, maxDelayMs: 5000 };

describe('backoffDelay (full jitter)', () => {
  it.each([
    [0, 100],
    [1, 200],
    [3, 800],
    [6, 5000],
    [1000, 5000],
  ])('attempt %i draws below a ceiling of %i ms', (attempt, ceiling) => {
    expect(backoffDelay(attempt, opts, () => 0)).toBe(0);
    expect(backoffDelay(attempt, opts, () => 0.5)).toBe(ceiling / 2);
    expect(backoffDelay(attempt, opts, () => 0.999999)).toBe(ceiling - 1);
  });

  it('spreads delays over the whole interval', () => {
    const delays = Array.from({ length: 2000 }, () => backoffDelay(4, opts));
    expect(Math.min(...delays)).toBeLessThan(160);
    expect(Math.max(...delays)).toBeGreaterThan(1440);
    expect(delays.every((d) => d >= 0 && d < 1600)).toBe(true);
  });
});
