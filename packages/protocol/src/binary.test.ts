import { describe, expect, it } from 'vitest';
import { BinaryReader, BinaryWriter } from './binary.js';

describe('BinaryWriter.intDeltas', () => {
  it('writes what uint(length) and int() of each difference write, for values across the 32-bit range', () => {
    const lists = [[], [0], [5], [-3, 4, 4, 200], [1000, 1001, 1003, 2000], [-(2 ** 31) + 1, 0, 2 ** 30], Array.from({ length: 300 }, (_, i) => (i * 7919) % 1500)];
    for (const values of lists) {
      const fast = new BinaryWriter(1);
      fast.intDeltas(values);
      const slow = new BinaryWriter(1);
      slow.uint(values.length);
      let prev = 0;
      for (const v of values) {
        slow.int(v - prev);
        prev = v;
      }
      const bytes = fast.finish();
      expect(bytes).toEqual(slow.finish());
      const r = new BinaryReader(bytes);
      const read: number[] = [];
      let at = 0;
      for (let i = 0, n = r.uint(); i < n; i++) read.push((at += r.int()));
      expect(read).toEqual(values);
      expect(r.done).toBe(true);
    }
  });
});
