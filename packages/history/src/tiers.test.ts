import { describe, expect, it } from 'vitest';
import { defaultTiers, parseTiers } from './tiers.js';

describe('the default tiers', () => {
  it('are every tick for 10 minutes, 5 s for 6 hours, a minute for 7 days at the default tick', () => {
    expect(defaultTiers(500)).toBe('0.5s:10m,5s:6h,1m:7d');
  });

  it('fit any tick: the first step is the tick, each coarser one a whole multiple of the one before', () => {
    for (const tickMs of [50, 100, 250, 300, 333, 500, 700, 1000, 7000, 60_000]) {
      const tiers = parseTiers(defaultTiers(tickMs), tickMs);
      expect(tiers[0]!.stepMs).toBe(tickMs);
      expect(tiers.at(-1)!.retentionMs).toBe(604_800_000);
      if (tickMs < 5000) expect(tiers.map((t) => t.retentionMs)).toEqual([600_000, 21_600_000, 604_800_000]);
      expect(tiers.at(-1)!.stepMs).toBeGreaterThanOrEqual(60_000);
    }
    expect(defaultTiers(300)).toBe('0.3s:10m,5.1s:6h,61.2s:7d');
    expect(defaultTiers(7000)).toBe('7s:6h,63s:7d');
  });
});
