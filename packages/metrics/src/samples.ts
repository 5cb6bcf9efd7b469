/**
 * The samples of one distribution (latency, TTFT or tokens/s) that fell in
 * one time bucket of one cell: exact count/sum/min/max plus the histogram
 * index of every sample, so the bucket can be taken out of the running
 * window histogram exactly when it expires. Two bytes a sample.
 */
import { indexOf } from './log-histogram.js';

export class BucketSamples {
  count = 0;
  sum = 0;
  min = Infinity;
  max = -Infinity;
  indices = new Int16Array(4);

  /** Records a sample and returns its histogram index. */
  add(value: number): number {
    const index = indexOf(value);
    if (this.count === this.indices.length) {
      const grown = new Int16Array(this.indices.length * 2);
      grown.set(this.indices);
      this.indices = grown;
    }
    this.indices[this.count++] = index;
    this.sum += value;
    if (value < this.min) this.min = value;
    if (value > this.max) this.max = value;
    return index;
  }
}
