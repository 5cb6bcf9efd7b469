/**
 * One cell's since-creation exponential histogram of one figure (@pulse/protocol's
 * exponential.ts: fixed scale 3): its zero count, the sum of its values (µs
 * for times, as the cumulative slots keep it) and the buckets in use, sparse
 * and ascending. Kept by the TotalsLedger for the leader's OTLP push only.
 *
 * Sparse sorted arrays rather than a Map: a few dozen to a couple of hundred
 * buckets per histogram cost 8–16 bytes each here, where a Map entry costs
 * several times that, and the export wants them in order anyway.
 */
import { bumpSorted } from './sparse-histogram.js';

export class ExponentialCounts {
  zero = 0;
  sum = 0;
  /** Bucket indices in use, ascending, and their counts. */
  readonly indices: number[] = [];
  readonly counts: number[] = [];

  /** Adds `n` (negative to take away) to bucket `index` or the zeros; a bucket that reaches 0 goes. */
  bump(index: number | 'zero', n: number): void {
    if (index === 'zero') {
      this.zero += n;
      return;
    }
    bumpSorted(this.indices, this.counts, index, n);
  }

  /** Values counted: the zeros and every bucket. */
  get count(): number {
    let n = this.zero;
    for (const c of this.counts) n += c;
    return n;
  }

  get empty(): boolean {
    return this.zero === 0 && this.sum === 0 && this.indices.length === 0;
  }

  /** Adds (sign 1) or takes out (−1) everything `other` holds. */
  addAll(other: ExponentialCounts, sign: 1 | -1 = 1): void {
    this.zero += sign * other.zero;
    this.sum += sign * other.sum;
    for (let i = 0; i < other.indices.length; i++) this.bump(other.indices[i]!, sign * other.counts[i]!);
  }

  clone(): ExponentialCounts {
    const copy = new ExponentialCounts();
    copy.zero = this.zero;
    copy.sum = this.sum;
    for (let i = 0; i < this.indices.length; i++) {
      copy.indices.push(this.indices[i]!);
      copy.counts.push(this.counts[i]!);
    }
    return copy;
  }

  clear(): void {
    this.zero = 0;
    this.sum = 0;
    this.indices.length = 0;
    this.counts.length = 0;
  }

  /** The OTLP form of the buckets: the first index in use and the counts from there to the last, gaps as 0. */
  dense(): { offset: number; bucketCounts: number[] } {
    const { indices, counts } = this;
    if (indices.length === 0) return { offset: 0, bucketCounts: [] };
    const offset = indices[0]!;
    const bucketCounts = new Array<number>(indices[indices.length - 1]! - offset + 1).fill(0);
    for (let i = 0; i < indices.length; i++) bucketCounts[indices[i]! - offset] = counts[i]!;
    return { offset, bucketCounts };
  }
}
