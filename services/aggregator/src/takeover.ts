/**
 * The takeover protocol: how a standby becomes the leader and counts every
 * entry exactly once, in the window and in the since-creation totals.
 *
 * A standby tails the log into its window (no consumer group) and records,
 * per entry, the totals that entry added. Taking over, it catches its tail up
 * to the end of the log, at id P: the watermark. From then on the leader
 * claims through the consumer group what the old leader never acknowledged —
 * pending entries first, then new ones:
 * - an entry after P is not in the window yet: applied whole, window and totals;
 * - an entry at or before P is in the window already: only its totals are
 *   counted, as the standby recorded them (or, if it was never recorded,
 *   from its events alone).
 * The persisted totals are loaded at P, so what the old leader committed is
 * there once and what it did not commit is counted once, here.
 */
import type { MetricsWindow, TotalsDelta } from '@pulse/metrics';
import { compareIds, idMs, type LogEntry } from '@pulse/runtime';

/** Log entries whose totals a standby records at most (besides the horizon). */
export const MAX_RECORDED = 1_000_000;

export class TakeoverLedger {
  /** Last entry the tail applied; once taken over, the watermark P. */
  private tailId: string;
  /** Totals of tailed entries, by entry id, oldest first. */
  private readonly recorded = new Map<string, TotalsDelta>();

  /** @param fromId the tail starts after this id (the start of the window's horizon) */
  constructor(fromId: string) {
    this.tailId = fromId;
  }

  /** Where the tail reads on from; the watermark once taken over. */
  get position(): string {
    return this.tailId;
  }

  /** Entries whose totals are recorded. */
  get size(): number {
    return this.recorded.size;
  }

  /** Standby: `entry` was applied to `window` through the tail, its totals counted there; keeps them for a takeover. */
  tailed(entry: LogEntry, window: MetricsWindow): void {
    const delta = window.totals.takeDelta();
    if (delta.size > 0) this.recorded.set(entry.id, delta);
    this.tailId = entry.id;
  }

  /**
   * Drops what no takeover will need: entries older than `beforeMs` (the
   * window's horizon: that old, they are not waiting to be claimed), and the
   * oldest beyond MAX_RECORDED — a takeover counts such an entry from its events.
   */
  forget(beforeMs: number): void {
    for (const id of this.recorded.keys()) {
      if (idMs(id) >= beforeMs && this.recorded.size <= MAX_RECORDED) break;
      this.recorded.delete(id);
    }
  }

  /**
   * Leader: a claimed `entry` into `window`, counted once. Returns true when
   * it lay after the watermark (applied whole), false when only its totals
   * were counted.
   */
  claimed(entry: LogEntry, window: MetricsWindow, atMs: number): boolean {
    if (compareIds(entry.id, this.tailId) > 0) {
      for (const event of entry.events) window.apply(event, atMs, true);
      return true;
    }
    const delta = this.recorded.get(entry.id);
    if (delta) {
      window.totals.addDelta(delta);
      this.recorded.delete(entry.id);
    } else {
      for (const event of entry.events) window.totals.countEvent(event);
    }
    return false;
  }
}
