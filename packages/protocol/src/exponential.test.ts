/**
 * The exponential buckets' index math, against an exact oracle (BigInt
 * powers, no logarithms), and their persisted field names through
 * totalsField / parseTotalsField.
 */
import { describe, expect, it } from 'vitest';
import {
  EXPONENTIAL_MAX_INDEX,
  EXPONENTIAL_MIN_INDEX,
  EXPONENTIAL_SCALE,
  exponentialBounds,
  exponentialBucketOf,
  exponentialFieldName,
  exponentialIndex,
  parseExponentialFieldName,
} from './exponential.js';
import { parseTotalsField, totalsField } from './keys.js';

/** The exact rational value of a double: [numerator, power of two]. */
function exact(v: number): [bigint, number] {
  const view = new DataView(new ArrayBuffer(8));
  view.setFloat64(0, v);
  const biased = (view.getUint32(0) >>> 20) & 0x7ff;
  const fraction = (BigInt(view.getUint32(0) & 0xfffff) << 32n) | BigInt(view.getUint32(4));
  return biased === 0 ? [fraction, -1074] : [fraction | (1n << 52n), biased - 1075];
}

/** Exactly: (v ÷ d)^8 compared with 2^k (−1, 0, 1). */
function compareToBoundary(v: number, d: number, k: number): number {
  const [m, e] = exact(v);
  let left = m ** 8n;
  let right = BigInt(d) ** 8n;
  const shift = 8 * e - k;
  if (shift >= 0) left <<= BigInt(shift);
  else right <<= BigInt(-shift);
  return left > right ? 1 : left < right ? -1 : 0;
}

/** The oracle: the i with base^i < v ÷ d ≤ base^(i+1), found by stepping from a rough start with exact comparisons. */
function oracle(v: number, d = 1): number {
  let i = Math.floor((Math.log2(v) - Math.log2(d)) * 8);
  while (compareToBoundary(v, d, i) <= 0) i--;
  while (compareToBoundary(v, d, i + 1) > 0) i++;
  return i;
}

const nextUp = (v: number) => {
  const view = new DataView(new ArrayBuffer(8));
  view.setFloat64(0, v);
  view.setBigUint64(0, view.getBigUint64(0) + 1n);
  return view.getFloat64(0);
};
const nextDown = (v: number) => {
  const view = new DataView(new ArrayBuffer(8));
  view.setFloat64(0, v);
  view.setBigUint64(0, view.getBigUint64(0) - 1n);
  return view.getFloat64(0);
};

describe('exponential bucket index (scale 3)', () => {
  it('is scale 3: 8 buckets per power of two, bucket i = (2^(i/8), 2^((i+1)/8)]', () => {
    expect(EXPONENTIAL_SCALE).toBe(3);
    const [lo, hi] = exponentialBounds(0);
    expect(lo).toBe(1);
    expect(hi / lo).toBeCloseTo(2 ** (1 / 8), 15); // 9.05 % wide
    expect(exponentialIndex(1.05)).toBe(0);
  });

  it('puts a power of two in the bucket it closes, exactly', () => {
    for (let e = -1074; e <= 1023; e++) expect(exponentialIndex(2 ** e), `2^${e}`).toBe(e * 8 - 1);
    expect(exponentialIndex(1)).toBe(-1);
    expect(exponentialIndex(2)).toBe(7);
    expect(exponentialIndex(1024)).toBe(79);
    expect(exponentialIndex(2 ** 53)).toBe(423);
  });

  it('takes a time as its milliseconds ÷ 1000 exactly: 1000 ms is 1 s, 62.5 ms is 2^-4 s', () => {
    expect(exponentialIndex(1000, 1000)).toBe(-1);
    expect(exponentialIndex(2000, 1000)).toBe(7);
    expect(exponentialIndex(500, 1000)).toBe(-9);
    expect(exponentialIndex(62.5, 1000)).toBe(-33);
    expect(exponentialIndex(15.625, 1000)).toBe(-49);
    // The doubles next to 1000 ms fall on either side of 1 s.
    expect(exponentialIndex(nextUp(1000), 1000)).toBe(0);
    expect(exponentialIndex(nextDown(1000), 1000)).toBe(-1);
  });

  it('splits the doubles next to a power of two and to every irrational boundary exactly', () => {
    for (const e of [-30, -10, -1, 0, 1, 7, 20, 52]) {
      const p = 2 ** e;
      expect(exponentialIndex(nextUp(p))).toBe(e * 8);
      expect(exponentialIndex(nextDown(p))).toBe(e * 8 - 1);
      for (let k = 1; k < 8; k++) {
        // The double nearest 2^(e + k/8) and its neighbours: the boundary lies between two of them.
        const b = 2 ** (e + k / 8);
        for (const v of [nextDown(nextDown(b)), nextDown(b), b, nextUp(b), nextUp(nextUp(b))]) {
          expect(exponentialIndex(v), `${v}`).toBe(oracle(v));
        }
        const below = compareToBoundary(b, 1, e * 8 + k) <= 0;
        expect(exponentialIndex(b)).toBe(below ? e * 8 + k - 1 : e * 8 + k);
      }
    }
  });

  it('agrees with the exact oracle on random values of every magnitude, tokens and milliseconds', () => {
    let seed = 42;
    const random = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    for (let i = 0; i < 20_000; i++) {
      const v = 2 ** (random() * 120 - 60) * (1 + random());
      expect(exponentialIndex(v)).toBe(oracle(v));
      expect(exponentialIndex(v, 1000)).toBe(oracle(v, 1000));
    }
    // Whole milliseconds and tokens, the common inputs.
    for (let ms = 1; ms <= 5000; ms++) expect(exponentialIndex(ms, 1000)).toBe(oracle(ms, 1000));
    for (let tokens = 1; tokens <= 5000; tokens++) expect(exponentialIndex(tokens)).toBe(oracle(tokens));
  });

  it('keeps the extremes of the doubles in range; zero goes to the zero count', () => {
    expect(exponentialIndex(Number.MAX_VALUE)).toBe(EXPONENTIAL_MAX_INDEX);
    expect(exponentialIndex(Number.MAX_VALUE, 1000)).toBe(oracle(Number.MAX_VALUE, 1000));
    expect(exponentialIndex(Number.MIN_VALUE, 1000)).toBe(EXPONENTIAL_MIN_INDEX);
    expect(exponentialIndex(Number.MIN_VALUE)).toBe(-1074 * 8 - 1);
    expect(exponentialIndex(1e300, 1000)).toBe(oracle(1e300, 1000));
    expect(exponentialBucketOf('latency', 0)).toBe('zero');
    expect(exponentialBucketOf('inputTokens', 0)).toBe('zero');
    expect(exponentialBucketOf('latency', 1000)).toBe(-1); // ms → s
    expect(exponentialBucketOf('inputTokens', 1000)).toBe(oracle(1000)); // tokens as they are
    expect(oracle(1000)).toBe(79); // 2^(79/8) = 939.4 < 1000 ≤ 2^10
  });
});

describe('exponential totals fields', () => {
  it('round-trips every part through totalsField and parseTotalsField', () => {
    for (const [histogram, part, name] of [
      ['latency', -12, 'latency_exp_-12'],
      ['latency', 0, 'latency_exp_0'],
      ['ttft', 'zero', 'ttft_exp_zero'],
      ['itl', 'sum', 'itl_exp_sum_us'],
      ['inputTokens', 'sum', 'inputTokens_exp_sum'],
      ['outputTokens', EXPONENTIAL_MAX_INDEX, `outputTokens_exp_${EXPONENTIAL_MAX_INDEX}`],
      ['latency', EXPONENTIAL_MIN_INDEX, `latency_exp_${EXPONENTIAL_MIN_INDEX}`],
    ] as const) {
      expect(exponentialFieldName(histogram, part)).toBe(name);
      const field = totalsField('node "1"', '/v1/chat/completions', 'gpt-4', name);
      expect(parseTotalsField(field)).toEqual({ node: 'node "1"', endpoint: '/v1/chat/completions', model: 'gpt-4', exponential: { histogram, part } });
    }
  });

  it('refuses names that are not a part: a sum in the wrong unit, a non-canonical or out-of-range index, another histogram', () => {
    for (const name of [
      'latency_exp_sum',
      'inputTokens_exp_sum_us',
      'latency_exp_-0',
      'latency_exp_01',
      'latency_exp_+1',
      'latency_exp_1.5',
      `latency_exp_${EXPONENTIAL_MAX_INDEX + 1}`,
      `latency_exp_${EXPONENTIAL_MIN_INDEX - 1}`,
      'queue_exp_1',
      'latency_exp_',
    ]) {
      expect(parseExponentialFieldName(name), name).toBeUndefined();
      expect(parseTotalsField(totalsField('n', 'e', 'm', name)), name).toBeNull();
    }
    // The other kinds of field still parse as they did.
    expect(parseTotalsField(totalsField('n', 'e', 'm', 'latency_bucket_3'))).toMatchObject({ slot: expect.any(Number) });
    expect(parseTotalsField(totalsField('n', 'e', 'm', 'totalHits'))).toMatchObject({ total: 'totalHits' });
  });
});
