/**
 * A latency histogram with fixed 0.1 ms bins up to 10 s (plus one overflow
 * bin): load generators record hundreds of thousands of receive times per
 * run into it in O(1) each, ship its counts over IPC, and the bench merges
 * the processes' histograms by adding counts.
 */

const BIN_MS = 0.1;
const MAX_MS = 10_000;
const BINS = MAX_MS / BIN_MS;

export class MsHistogram {
  /** counts[BINS] is the overflow bin (≥ 10 s); negative values land in bin 0. */
  readonly counts: Uint32Array;
  max = 0;

  constructor(counts?: Uint32Array) {
    this.counts = counts ?? new Uint32Array(BINS + 1);
  }

  add(ms: number): void {
    if (ms > this.max) this.max = ms;
    const bin = Math.floor(ms / BIN_MS);
    this.counts[bin < 0 ? 0 : bin > BINS ? BINS : bin]!++;
  }

  merge(other: { counts: Uint32Array; max: number }): void {
    for (let i = 0; i <= BINS; i++) this.counts[i]! += other.counts[i]!;
    if (other.max > this.max) this.max = other.max;
  }

  get count(): number {
    let n = 0;
    for (let i = 0; i <= BINS; i++) n += this.counts[i]!;
    return n;
  }

  /** The value at quantile `q` (its bin's lower edge, exact for whole ms; the true max for the top); NaN when empty. */
  quantile(q: number): number {
    const n = this.count;
    if (n === 0) return NaN;
    const rank = Math.max(1, Math.ceil(q * n));
    let seen = 0;
    for (let i = 0; i <= BINS; i++) {
      seen += this.counts[i]!;
      if (seen >= rank) return i === BINS ? this.max : Math.round(i * BIN_MS * 10) / 10;
    }
    return this.max;
  }

  /** What crosses IPC. */
  toJSON(): { counts: Uint32Array; max: number } {
    return { counts: this.counts, max: this.max };
  }

  static from(data: { counts: Uint32Array; max: number }): MsHistogram {
    const h = new MsHistogram(new Uint32Array(data.counts));
    h.max = data.max;
    return h;
  }
}
