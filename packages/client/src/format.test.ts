import { describe, expect, it } from 'vitest';
import { formatAge, formatMs, formatNumber, formatPercent, NO_DATA, nodeCells, outlierText, sloVerdict } from './format.js';

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

  it('says how long ago a node was last seen', () => {
    expect(formatAge(1000.2, 1000)).toBe('<1 s ago');
    expect(formatAge(990.5, 1000)).toBe('9 s ago');
    expect(formatAge(700, 1000)).toBe('5 min ago');
    expect(formatAge(1000 - 3 * 3600, 1000)).toBe('3 h ago');
    expect(formatAge(undefined, 1000)).toBe(NO_DATA);
  });

  it('says whether an SLO met its target', () => {
    expect([true, false, undefined].map(sloVerdict)).toEqual(['met', 'missed', 'no requests']);
  });

  it('marks what a node stands out for', () => {
    expect(outlierText([])).toBe('');
    expect(outlierText(['latency', 'errors'])).toBe('▲ p99, errors');
  });

  it('lays out a node row: p99, error rate, req/s, TTFT p99, queue, last seen, outlier', () => {
    const row = { node: 'n', requestsPerSec: 4.5, errorsPerSec: 0.5, errorRatePct: 12.5, p99: 1500, queueDepth: 3, lastSeen: 998, outlier: ['latency' as const] };
    expect(nodeCells(row, 1000)).toEqual(['1,500 ms', '12.5 %', '4.50', NO_DATA, '3', '2 s ago', '▲ p99']);
  });
});
