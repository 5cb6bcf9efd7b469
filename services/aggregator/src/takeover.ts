/**
 * The takeover protocol: how a standby becomes the leader and counts every
 * entry exactly once, in the window and in the since-creation totals.
 *
 * A standby tails the log into its window (no consumer group, no totals:
 * taking over, it loads the persisted ones). Per entry it records only what
 * the entry's events cannot tell alone: which ends counted as streams
 * because their start said so (an end need not repeat `stream`). Taking over,
 * it catches its tail up to the end of the log, at id P: the watermark. From
 * then on the leader claims through the consumer group what the old leader
 * never acknowledged — pending entries first, then new ones:
 * - an entry after P is not in the window yet: applied whole, window and totals;
 * - an entry at or before P is in the window already: only its totals are
 *   counted, from its events and the streams recorded for it.
 * The persisted totals are loaded at P, so what the old leader committed is
 * there once and what it did not commit is counted once, here.
 *
 * Recording hints rather than each entry's totals keeps a standby's memory
 * flat: a cell's totals are some 90 fields (the cumulative export slots
 * among them), and a map of them per entry measured ~650 bytes an entry.
 *
 * All of this holds only while the window was read from the log as it is.
 * A failover to a replica that missed the old primary's last writes rolls
 * the log back under the window, and the retries of those writes would be
 * counted twice. So the tail checks that each entry's predecessor is the
 * entry it read last (`continues`), and a takeover that the watermark is
 * still in the log: together, the window is a prefix of the log it leads on.
 */
import type { MetricsWindow } from '@pulse/metrics';
import type { PulseEvent } from '@pulse/protocol';
import { compareIds, idMs, type LogEntry } from '@pulse/runtime';

/** Log entries whose stream hints a standby records at most (besides the horizon). */
export const MAX_RECORDED = 1_000_000;

export class TakeoverLedger {
  /** Last entry the tail applied; once taken over, the watermark P. */
  private tailId: string;
  /** False while `tailId` is the horizon the tail started from, not an entry read. */
  private tailIsEntry = false;
  /** By entry id, oldest first: the indices of its ends that were streams by their start's word only. */
  private readonly recorded = new Map<string, number[]>();

  /** @param fromId the tail starts after this id (the start of the window's horizon) */
  constructor(fromId: string) {
    this.tailId = fromId;
  }

  /** Where the tail reads on from; the watermark once taken over. */
  get position(): string {
    return this.tailId;
  }

  /** Whether the tail has applied an entry (`position` is one) rather than only starting at the horizon. */
  get positionIsEntry(): boolean {
    return this.tailIsEntry;
  }

  /**
   * Whether `entry`, next from the tail, continues the log the window was read
   * from: its predecessor is the last entry read — or, from the horizon, an
   * entry before it. An entry that does not say (a log without PREV_FIELD) is
   * taken as continuing.
   */
  continues(entry: LogEntry): boolean {
    if (entry.prev === undefined) return true;
    return this.tailIsEntry ? entry.prev === this.tailId : compareIds(entry.prev, this.tailId) <= 0;
  }

  /** Entries with hints recorded. */
  get size(): number {
    return this.recorded.size;
  }

  /** Standby: applies `entry` to `window` (no totals) and records what its totals will need. */
  tail(entry: LogEntry, window: MetricsWindow): void {
    const at = idMs(entry.id);
    let inferred: number[] | null = null;
    entry.events.forEach((event, i) => {
      const stream = window.apply(event, at, false);
      if (stream && event.type === 'request.end' && event.stream === undefined) (inferred ??= []).push(i);
    });
    if (inferred) this.recorded.set(entry.id, inferred);
    this.tailId = entry.id;
    this.tailIsEntry = true;
  }

  /**
   * Drops what no takeover will need: entries older than `beforeMs` (the
   * window's horizon: that old, they are not waiting to be claimed), and the
   * oldest beyond MAX_RECORDED — a takeover counts such an entry from its events alone.
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
    const inferred = this.recorded.get(entry.id);
    this.recorded.delete(entry.id);
    entry.events.forEach((event: PulseEvent, i) => window.totals.countEvent(event, inferred?.includes(i) === true));
    return false;
  }
}
