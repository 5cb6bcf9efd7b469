/**
 * The exact minimum of values that each expire with a time bucket, as
 * buckets leave a window oldest first — while values may arrive in any
 * bucket still in the window (a late event lands in an older one).
 *
 * Kept as the candidates that can still become the minimum: a value is
 * dropped once another one no greater expires no earlier. What is left,
 * ordered by bucket, ascends in value too, so the minimum is the first, an
 * expiry drops from the front, and a new value drops a run just before its
 * place. Random values leave a handful of candidates.
 *
 * It replaces walking a cell's ~120 live buckets whenever the expired one
 * held the min or max: at a fleet (6,400 cells, each with a sample or two a
 * tick) those walks were two thirds of the aggregator's tick.
 */
export class SlidingMin {
  private readonly buckets: number[] = [];
  private readonly values: number[] = [];
  /** `values[0]`, held here: a patch reads the extremes of every distribution that changed, and this saves it a load from another object. */
  private head = Infinity;

  /** The minimum of the values not expired; Infinity when none is left. */
  get value(): number {
    return this.head;
  }

  /** Candidates held (for tests and bounds). */
  get size(): number {
    return this.values.length;
  }

  add(bucket: number, value: number): void {
    const { buckets, values } = this;
    // Where it goes: after every candidate of a bucket not later than its own.
    let at = buckets.length;
    while (at > 0 && buckets[at - 1]! > bucket) at--;
    // A later-expiring candidate, or one of the same bucket, no greater: this one can never be the minimum.
    if (at < values.length && values[at]! <= value) return;
    if (at > 0 && buckets[at - 1] === bucket && values[at - 1]! <= value) return;
    // Candidates expiring no later and no smaller can no longer be the minimum.
    let from = at;
    while (from > 0 && values[from - 1]! >= value) from--;
    if (from === 0) this.head = value;
    if (at < buckets.length) {
      buckets.splice(from, at - from, bucket);
      values.splice(from, at - from, value);
      return;
    }
    // The usual case, a value of the newest bucket: it goes last, after the run it drops (no splice, a tenth of its cost).
    for (let n = at - from; n > 0; n--) {
      buckets.pop();
      values.pop();
    }
    buckets.push(bucket);
    values.push(value);
  }

  /** Bucket `bucket` and every older one left the window. */
  expire(bucket: number): void {
    let n = 0;
    while (n < this.buckets.length && this.buckets[n]! <= bucket) n++;
    if (n === 0) return;
    if (n === 1) {
      this.buckets.shift();
      this.values.shift();
    } else {
      this.buckets.splice(0, n);
      this.values.splice(0, n);
    }
    this.head = this.values.length > 0 ? this.values[0]! : Infinity;
  }
}
