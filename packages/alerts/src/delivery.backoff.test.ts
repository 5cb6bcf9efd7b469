/**
 * The retry delays of a notification (delivery.ts retryDelayMs): a receiver
 * down for 30 s must not make a notification spend all its attempts, whatever
 * the jitter draws (issue 14, the alert fault suite's receiver-down case).
 * With full jitter ([0, c)) the 7 waits of 8 attempts summed to under 30 s
 * for ~5 % of notifications, and to ~0 with unlucky draws.
 */
import { describe, expect, it } from 'vitest';
import { DEFAULT_DELIVERY_OPTIONS, deferDelayMs, deliveryOptions, retryDelayMs } from './delivery.js';

/** The waits between the attempts of one notification that fails every time, with one draw for all. */
function waits(draw: number, options = DEFAULT_DELIVERY_OPTIONS): number[] {
  return Array.from({ length: options.attempts - 1 }, (_, i) => retryDelayMs(i + 1, options, () => draw));
}

const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);

describe('retryDelayMs', () => {
  it('is uniform in [c/2, c) of the exponential ceiling c = min(max, initial × 2^(n−1))', () => {
    expect(waits(0)).toEqual([500, 1000, 2000, 4000, 8000, 16_000, 32_000]);
    expect(waits(0.999_999).map((ms) => Math.round(ms / 1000))).toEqual([1, 2, 4, 8, 16, 32, 64]);
    const capped = deliveryOptions({ initialBackoffMs: 1000, maxBackoffMs: 5000 });
    expect(retryDelayMs(10, capped, () => 0)).toBe(2500);
    expect(retryDelayMs(10, capped, () => 0.999_999)).toBeLessThan(5000);
    expect(retryDelayMs(2000, capped, () => 0.5)).toBe(3750); // 2^n overflowing is capped too
  });

  it('with the defaults, 8 attempts span at least 63.5 s whatever the draws: a receiver down for 30 s loses nothing', () => {
    expect(sum(waits(0))).toBe(63_500);
    for (let i = 0; i < 1000; i++) {
      const spans = sum(Array.from({ length: 7 }, (_, n) => retryDelayMs(n + 1, DEFAULT_DELIVERY_OPTIONS)));
      expect(spans).toBeGreaterThanOrEqual(63_500);
      expect(spans).toBeLessThan(127_000);
    }
  });

  it('still spreads notifications that failed together', () => {
    const draws = new Set(Array.from({ length: 200 }, () => retryDelayMs(4, DEFAULT_DELIVERY_OPTIONS)));
    expect(draws.size).toBeGreaterThan(100);
  });

  it('a 429 without Retry-After waits the same backoff, grown by the 429s so far', () => {
    expect(deferDelayMs(null, 0, DEFAULT_DELIVERY_OPTIONS)).toBeGreaterThanOrEqual(500);
    expect(deferDelayMs(null, 2, DEFAULT_DELIVERY_OPTIONS)).toBeGreaterThanOrEqual(2000);
    expect(deferDelayMs(2000, 2, DEFAULT_DELIVERY_OPTIONS)).toBe(2000);
  });
});
