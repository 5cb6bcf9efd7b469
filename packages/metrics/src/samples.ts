/**
 * The samples of one distribution (latency, TTFT or tokens/s) that fell in
 * one time bucket of one cell: exact count/sum/min/max plus the histogram
 * index of every sample, so the bucket can be taken out of the running
 * window histogram exactly when it expires. The indices are a plain array:
 * a bucket of a fleet's cell holds one or two samples, and at 100,000-odd
 * live buckets typed arrays (each an ArrayBuffer the GC tracks) measured a
 * quarter of the aggregator's tick in garbage collection.
 */
import { indexOf } from './log-histogram.js';

export class BucketSamples {
  count = 0;
  sum = 0;
  min = Infinity;
  max = -Infinity;
  readonly indices: number[] = [];

  /** Records a sample and returns its histogram index. */
  add(value: number): number {
    const index = indexOf(value);
    this.indices.push(index);
    this.count++;
    this.sum += value;
    if (value < this.min) this.min = value;
    if (value > this.max) this.max = value;
    return index;
  }
}
