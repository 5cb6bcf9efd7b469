/**
 * Aggregator lag, event accepted → included in a published snapshot, by
 * counting: snapshots carry how many events the aggregator has applied, and
 * the stream is applied in order, so the n-th acknowledged event is in the
 * first snapshot whose count reaches n. (Acknowledgements of requests in
 * flight together may come in a slightly different order than their XADDs:
 * the match is off by at most those few requests, a few ms.)
 */

export interface Ack {
  /** Wall-clock ms of the 202. */
  at: number;
  events: number;
}

export interface Published {
  recvMs: number;
  /** Events applied since the scenario's baseline. */
  applied: number;
}

/**
 * Lag in ms of each acknowledged batch in `acks` (sorted by time), in order;
 * Infinity for a batch no snapshot in `published` included. `ackedBefore`
 * counts the events acknowledged before the first of `acks`.
 */
export function batchLags(acks: readonly Ack[], published: readonly Published[], ackedBefore: number): number[] {
  const out: number[] = [];
  let cumulative = ackedBefore;
  let s = 0;
  for (const ack of acks) {
    cumulative += ack.events;
    while (s < published.length && published[s]!.applied < cumulative) s++;
    // A snapshot may beat the 202 back to the generator (the XADD came first): lag 0.
    out.push(s < published.length ? Math.max(0, published[s]!.recvMs - ack.at) : Infinity);
  }
  return out;
}
