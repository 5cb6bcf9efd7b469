/**
 * Comparing figures computed two ways (a replica's view and the cells', one
 * partition and several): numbers within float rounding, since sums added
 * in another order differ in the last bits; everything else exactly.
 */
import { expect } from 'vitest';

/** |a − b| relative to b (absolute when b is 0). */
export const relError = (a: number, b: number) => (b === 0 ? Math.abs(a) : Math.abs(a - b) / Math.abs(b));

/** Equal figures: numbers within float rounding, the same keys, everything else exactly. */
export function expectSameFigures(got: unknown, want: unknown, path = 'data'): void {
  if (typeof want === 'number') {
    expect(typeof got, path).toBe('number');
    // Relative to the figure, but never to less than 1: a sum that cancels to ~0 (samples that expired,
    // or that were all 0) keeps a residue rounded from its summands, not from itself (seed 633126 of
    // figures.property: 2.3e-13 against 2.7e-13 tokens/s, both "0").
    return void expect(Math.abs((got as number) - want) / Math.max(Math.abs(want), 1), path).toBeLessThan(1e-9);
  }
  if (typeof want !== 'object' || want === null) return void expect(got, path).toEqual(want);
  expect(Object.keys(got as object).sort(), path).toEqual(Object.keys(want).sort());
  for (const k of Object.keys(want)) expectSameFigures((got as Record<string, unknown>)[k], (want as Record<string, unknown>)[k], `${path}.${k}`);
}
