/**
 * Since-creation exponential histograms for the OTLP push (docs/MONITORING.md,
 * "Exponential histograms"): the values of the cumulative histograms
 * (cumulative.ts: latency, TTFT, ITL in seconds; tokens per request as they
 * are), each counted when its end is acknowledged into a base-2 exponential
 * bucket at the FIXED scale 3 — base 2^(1/8), the resolution of Prometheus's
 * native-histogram schema 3. The scale never changes, so counts from any
 * process, any leadership and any cell merge by adding them, exactly.
 *
 * Bucket i holds the values in (base^i, base^(i+1)], the OpenTelemetry
 * specification's mapping: i = ceil(log2(v) · 2^scale) − 1. It is computed
 * exactly, for every input: a time is its event's milliseconds ÷ 1000 taken
 * as the rational number it is (not the rounded double quotient), and a value
 * within a hair of a bucket boundary — every power of two among them — is
 * decided with integer arithmetic (BigInt), so floating error never moves a
 * value to the neighbouring bucket. Zeros are counted apart; events carry no
 * negative values.
 *
 * Persisted in the `totals` hash with the acknowledgement like the
 * cumulative slots, one sparse field per bucket in use: the field name (last
 * part of keys.ts's `totalsField`) is `<histogram>_exp_<index>`,
 * `<histogram>_exp_zero`, and `<histogram>_exp_sum_us` (times) or
 * `<histogram>_exp_sum` (tokens) for the sum of the values counted here.
 * They do not travel in snapshots or patches: only the leader pushes OTLP.
 */
import { CUMULATIVE_HISTOGRAM_NAMES, TIME_HISTOGRAMS, type CumulativeHistogram } from './cumulative.js';

/** The fixed scale: 2^3 buckets per power of two. */
export const EXPONENTIAL_SCALE = 3;
const PER_OCTAVE = 2 ** EXPONENTIAL_SCALE;

/**
 * The indices a field may name: every positive double (÷ 1000 for times) has
 * its bucket within this range (2^-1074 / 1000 → −8672, the largest double → 8191).
 */
export const EXPONENTIAL_MIN_INDEX = -8672;
export const EXPONENTIAL_MAX_INDEX = 8191;

/** How far from a boundary (in buckets) the floating estimate is trusted; closer, the exact check decides. Its error is below 1e-11. */
const NEAR_BOUNDARY = 1e-6;

/**
 * The bucket of the positive value `value ÷ divisor` (divisor 1 for tokens,
 * 1000 for times observed in ms): the i with base^i < value ÷ divisor ≤ base^(i+1).
 * `value` must be finite and > 0, `divisor` a positive integer.
 */
export function exponentialIndex(value: number, divisor = 1): number {
  const estimate = (Math.log2(value) - (divisor === 1 ? 0 : Math.log2(divisor))) * PER_OCTAVE;
  const nearest = Math.round(estimate);
  if (Math.abs(estimate - nearest) > NEAR_BOUNDARY) return Math.ceil(estimate) - 1;
  // Within a hair of the boundary base^nearest: above it, the bucket starting there; at or below it, the one ending there.
  return exceedsBoundary(value, divisor, nearest) ? nearest : nearest - 1;
}

const bits = new DataView(new ArrayBuffer(8));

/** Exactly: (value ÷ divisor)^8 > 2^k, i.e. value ÷ divisor > base^k. */
function exceedsBoundary(value: number, divisor: number, k: number): boolean {
  // value = mantissa · 2^exponent, both integers (IEEE 754 binary64).
  bits.setFloat64(0, value);
  const biased = (bits.getUint32(0) >>> 20) & 0x7ff;
  const fraction = (BigInt(bits.getUint32(0) & 0xfffff) << 32n) | BigInt(bits.getUint32(4));
  const mantissa = biased === 0 ? fraction : fraction | (1n << 52n);
  const exponent = biased === 0 ? -1074 : biased - 1075;
  // mantissa^8 · 2^(8·exponent) > 2^k · divisor^8
  const left = mantissa ** 8n;
  const right = BigInt(divisor) ** 8n;
  const shift = PER_OCTAVE * exponent - k;
  return shift >= 0 ? left << BigInt(shift) > right : left > right << BigInt(-shift);
}

/** The bucket `value` (in the histogram's observed unit: ms for times) falls in, or 'zero'. */
export function exponentialBucketOf(histogram: CumulativeHistogram, value: number): number | 'zero' {
  if (!(value > 0)) return 'zero';
  return exponentialIndex(value, TIME_HISTOGRAMS.has(histogram) ? 1000 : 1);
}

/** The lower and upper end of bucket `index`, for reading: (base^index, base^(index+1)]. */
export function exponentialBounds(index: number): [number, number] {
  return [2 ** (index / PER_OCTAVE), 2 ** ((index + 1) / PER_OCTAVE)];
}

/** What an exponential field counts: a bucket, the zeros, or the sum (µs for times, as cumulative slots keep it). */
export type ExponentialPart = number | 'zero' | 'sum';

/** The field name (last part of `totalsField`) of a histogram's bucket, zero count or sum. */
export function exponentialFieldName(histogram: CumulativeHistogram, part: ExponentialPart): string {
  if (part === 'sum') return TIME_HISTOGRAMS.has(histogram) ? `${histogram}_exp_sum_us` : `${histogram}_exp_sum`;
  return `${histogram}_exp_${part}`;
}

const FIELD = new RegExp(`^(${CUMULATIVE_HISTOGRAM_NAMES.join('|')})_exp_(zero|sum_us|sum|-?[1-9][0-9]{0,4}|0)$`);

/** The histogram and part a field name counts; undefined for anything else (a sum of the wrong unit, an index out of range). */
export function parseExponentialFieldName(name: string): { histogram: CumulativeHistogram; part: ExponentialPart } | undefined {
  const m = FIELD.exec(name);
  if (!m) return undefined;
  const histogram = m[1] as CumulativeHistogram;
  const raw = m[2]!;
  if (raw === 'zero') return { histogram, part: 'zero' };
  if (raw === 'sum' || raw === 'sum_us') return raw === (TIME_HISTOGRAMS.has(histogram) ? 'sum_us' : 'sum') ? { histogram, part: 'sum' } : undefined;
  const index = Number(raw);
  return index >= EXPONENTIAL_MIN_INDEX && index <= EXPONENTIAL_MAX_INDEX ? { histogram, part: index } : undefined;
}
