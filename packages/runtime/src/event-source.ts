/**
 * The aggregator's side of the event log. Two ways to read it:
 * - `tail`: every entry in id order, no consumer group — how a standby keeps
 *   its window hot, and how any replica builds its window at start;
 * - `claim` + `commit`: the active aggregator's consumer-group reading, so
 *   each entry's since-creation totals are counted exactly once: entries a
 *   dead leader left pending first, then new ones, acknowledged together with
 *   their totals, atomically and fenced by the lease.
 * Implementations: `event-source.redis.ts`, `event-source.memory.ts`.
 */
import type { LogEntry } from './event-log.js';

/** Proof of leadership checked atomically by `commit` (see leader-lease.ts). */
export interface Fence {
  readonly token: string;
  readonly epoch: number;
}

export interface EventSource {
  /** When the metrics store was created (ms). Fixed by the first caller, then kept. */
  createdAt(): Promise<number>;
  /** The persisted since-creation totals, field → integer string. */
  loadTotals(): Promise<Record<string, string>>;
  /**
   * Entries with id after `afterId` (exclusive; `<ms>-<seq>`), oldest first,
   * at most `count`, whatever their state in the group. When there are none
   * yet, waits up to `blockMs` (0: answer at once).
   */
  tail(afterId: string, count: number, blockMs: number): Promise<LogEntry[]>;
  /**
   * The next entries for this consumer: first those stuck with consumers that
   * went quiet (reclaimed), then new ones; waits up to `blockMs` when none
   * (0: answer at once).
   */
  claim(count: number, blockMs: number): Promise<LogEntry[]>;
  /** Whether the entry `id` is in the log now, as its primary holds it. */
  has(id: string): Promise<boolean>;
  /** Called on becoming the leader: the next claims take over every pending entry, however fresh. */
  takeOver(): void;
  /**
   * Acknowledges `ids` and adds `totals` in one atomic step, only while
   * `fence` still holds the lease. Returns false, changing nothing, if not.
   */
  commit(ids: readonly string[], totals: ReadonlyMap<string, number>, fence: Fence): Promise<boolean>;
  close(): Promise<void>;
}

/** Compares stream ids `<ms>-<seq>` numerically. */
export function compareIds(a: string, b: string): number {
  const [am = 0, as = 0] = a.split('-').map(Number);
  const [bm = 0, bs = 0] = b.split('-').map(Number);
  return am - bm || as - bs;
}

/** The ms part of a stream id. */
export function idMs(id: string): number {
  const dash = id.indexOf('-');
  return Number(dash < 0 ? id : id.slice(0, dash));
}
