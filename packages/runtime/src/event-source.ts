/**
 * The aggregator's side of the event log, read through a consumer group so
 * that every entry counts exactly once, in the window and in the totals:
 * - `history`: on becoming leader, the entries the group already finished
 *   with (delivered and acknowledged), to rebuild the window from;
 * - `claim` + `commit`: everything else — entries left pending by a leader
 *   that died, then new ones — applied to window and totals, then
 *   acknowledged together with the totals, atomically and fenced.
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
   * Calls `onPage` with the finished entries logged at or after `sinceMs`,
   * oldest first, page by page: those the group delivered and acknowledged.
   * Pending entries are left out: `claim` hands them over afterwards.
   */
  history(sinceMs: number, onPage: (entries: LogEntry[]) => void): Promise<void>;
  /**
   * The next entries for this consumer: first those stuck with consumers that
   * went quiet (reclaimed), then new ones; waits up to `blockMs` when none.
   */
  claim(count: number, blockMs: number): Promise<LogEntry[]>;
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
