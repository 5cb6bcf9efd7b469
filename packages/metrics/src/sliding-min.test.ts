import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { SlidingMin } from './sliding-min.js';

describe('SlidingMin', () => {
  it('is the exact minimum of the live values, whatever bucket each arrives in', () => {
    // Steps: add a value to one of the 8 newest buckets, or advance the window by one bucket.
    const step = fc.oneof(fc.record({ add: fc.integer({ min: 0, max: 7 }), value: fc.integer({ min: -50, max: 50 }) }), fc.constant({ advance: true as const }));
    fc.assert(
      fc.property(fc.array(step, { maxLength: 300 }), (steps) => {
        const min = new SlidingMin();
        const live: { bucket: number; value: number }[] = [];
        let newest = 10;
        const window = 8;
        for (const s of steps) {
          if ('advance' in s) {
            newest++;
            const cutoff = newest - window; // buckets ≤ cutoff left
            min.expire(cutoff);
            for (let i = live.length - 1; i >= 0; i--) if (live[i]!.bucket <= cutoff) live.splice(i, 1);
          } else {
            const bucket = newest - s.add;
            min.add(bucket, s.value);
            live.push({ bucket, value: s.value });
          }
          expect(min.value).toBe(live.length === 0 ? Infinity : Math.min(...live.map((l) => l.value)));
        }
        expect(min.size).toBeLessThanOrEqual(live.length);
      }),
      { numRuns: 300 },
    );
  });
});
