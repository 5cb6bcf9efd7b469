import { describe, expect, it } from 'vitest';
import { formatMs, formatNumber, formatPercent, NO_DATA } from './format.js';

describe('format', () => {
  it.each([
    [0, '0'],
    [0.004, '0.004'],
    [0.25, '0.25'],
    [12.345, '12.3'],
    [15, '15'],
    [40.5, '40.5'],
    [123.4, '123'],
    [12345.6, '12,346'],
    [null, NO_DATA],
    [NaN, NO_DATA],
  ])('formatNumber(%s) = %s', (value, text) => {
    expect(formatNumber(value)).toBe(text);
  });

  it('formats durations and percentages', () => {
    expect(formatMs(35.2)).toBe('35.2 ms');
    expect(formatMs(12_500)).toBe('12.5 s');
    expect(formatMs(undefined)).toBe(NO_DATA);
    expect(formatPercent(33.333)).toBe('33.3 %');
  });
});
