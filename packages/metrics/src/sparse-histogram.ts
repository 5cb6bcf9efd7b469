/**
 * A log-bucket histogram kept sparse: the buckets in use, ascending, and
 * their counts (plus the zeros). What a gateway holds per cell and per
 * aggregate: a cell of a large fleet holds a few dozen samples over a span of
 * a hundred buckets or more, and merging it costs what it holds.
 */
import type { DistributionData } from '@pulse/protocol';
import { ZERO_INDEX } from './log-histogram.js';

export class SparseHistogram {
  zeros = 0;
  readonly sparse: { readonly indices: number[]; readonly counts: number[] } = { indices: [], counts: [] };

  /** Adds `n` samples (negative to remove) at bucket `index`; a bucket that reaches 0 goes. */
  bump(index: number, n: number): void {
    if (index === ZERO_INDEX) {
      this.zeros += n;
      return;
    }
    bumpSorted(this.sparse.indices, this.sparse.counts, index, n);
  }

  /** Adds (sign 1) or takes out (−1) every count of `d`, sparse or dense. */
  addAll(d: DistributionData, sign: 1 | -1): void {
    this.zeros += sign * d.zeros;
    const s = d.sparse;
    if (s) {
      for (let i = 0; i < s.indices.length; i++) this.bump(s.indices[i]!, sign * s.counts[i]!);
      return;
    }
    for (let i = 0; i < d.counts.length; i++) if (d.counts[i] !== 0) this.bump(d.offset + i, sign * d.counts[i]!);
  }

  clear(): void {
    this.zeros = 0;
    this.sparse.indices.length = 0;
    this.sparse.counts.length = 0;
  }

  /** The dense form of the wire: the span from the first bucket in use to the last. */
  get offset(): number {
    return this.sparse.indices[0] ?? 0;
  }

  dense(): Uint32Array {
    const { indices, counts } = this.sparse;
    const out = new Uint32Array(indices.length === 0 ? 0 : indices[indices.length - 1]! - indices[0]! + 1);
    for (let i = 0; i < indices.length; i++) out[indices[i]! - indices[0]!] = counts[i]!;
    return out;
  }
}

/**
 * Adds `n` (negative to take away) to bucket `index` of a sparse histogram
 * held as ascending `indices` and their `counts`: a bucket that reaches 0
 * goes, a new one is inserted in order.
 */
export function bumpSorted(indices: number[], counts: number[], index: number, n: number): void {
  let lo = 0;
  let hi = indices.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (indices[mid]! < index) lo = mid + 1;
    else hi = mid;
  }
  // Shifted by hand, not spliced: splice allocates the array it returns, and a fleet gateway
  // bumps ~10,000 buckets a tick, one in several of them coming or going.
  const length = indices.length;
  if (indices[lo] === index) {
    counts[lo]! += n;
    if (counts[lo] !== 0) return;
    for (let i = lo + 1; i < length; i++) {
      indices[i - 1] = indices[i]!;
      counts[i - 1] = counts[i]!;
    }
    indices.length = length - 1;
    counts.length = length - 1;
  } else if (n !== 0) {
    indices.push(index);
    counts.push(n);
    for (let i = length; i > lo; i--) {
      indices[i] = indices[i - 1]!;
      counts[i] = counts[i - 1]!;
    }
    indices[lo] = index;
    counts[lo] = n;
  }
}
