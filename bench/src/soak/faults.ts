/**
 * The soak's fault proxy, its pure half: which POSTs get a 503 instead of
 * reaching ingest, and how many events the cluster accepted. The HTTP half
 * is bench/src/workers/fault-proxy.ts.
 */

/**
 * A deterministic share of requests, spread evenly: request n (0-based)
 * fails when ⌊(n+1)·share⌋ > ⌊n·share⌋, so 5 % fails every 20th request,
 * never two in a row below 50 %, and the same run fails the same requests.
 * Integer parts per million keep the arithmetic exact.
 */
export class FaultPlan {
  private readonly ppm: number;
  private n = 0;

  constructor(share: number) {
    if (!(share >= 0 && share <= 1)) throw new RangeError(`fault share must be within [0, 1], got ${share}`);
    this.ppm = Math.round(share * 1_000_000);
  }

  /** Whether the next request fails. */
  next(): boolean {
    const n = this.n++;
    return Math.floor(((n + 1) * this.ppm) / 1_000_000) > Math.floor((n * this.ppm) / 1_000_000);
  }
}

export interface LedgerStats {
  /** Events the cluster accepted: the `accepted` of the first 202 per Idempotency-Key. */
  accepted: number;
  /** Batches accepted (distinct keys, plus 202s without a key). */
  batches: number;
  /** 202s for a key already counted: ingest's stored reply to a repeat. */
  replays: number;
  /** 202s whose body had no numeric `accepted`. */
  unreadable: number;
}

/** Counts each batch once, however often it was sent. */
export class AcceptedLedger {
  private readonly seen = new Set<string>();
  private readonly counts: LedgerStats = { accepted: 0, batches: 0, replays: 0, unreadable: 0 };

  /** One reply from ingest to a POST /v1/events; only 202s count. */
  record(idempotencyKey: string | undefined, status: number, body: string): void {
    if (status !== 202) return;
    if (idempotencyKey !== undefined) {
      if (this.seen.has(idempotencyKey)) {
        this.counts.replays++;
        return;
      }
      this.seen.add(idempotencyKey);
    }
    const accepted = acceptedOf(body);
    if (accepted === null) {
      this.counts.unreadable++;
      return;
    }
    this.counts.accepted += accepted;
    this.counts.batches++;
  }

  stats(): LedgerStats {
    return { ...this.counts };
  }
}

function acceptedOf(body: string): number | null {
  try {
    const accepted = (JSON.parse(body) as { accepted?: unknown }).accepted;
    return typeof accepted === 'number' && Number.isInteger(accepted) && accepted >= 0 ? accepted : null;
  } catch {
    return null;
  }
}
