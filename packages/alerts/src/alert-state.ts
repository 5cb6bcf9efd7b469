/**
 * Where alerts live between snapshots: the state of every pending and
 * firing alert, and an outbox of notifications not yet handed to the
 * delivery queue. Implementations: `alert-state.memory.ts` (one process,
 * `npm start` without Redis) and `alert-state.redis.ts` (a hash each,
 * written by a fenced Lua script).
 *
 * Guarantee: `commit` writes the state change and the notifications it
 * causes in one atomic step, or writes nothing. So whoever loads the state
 * afterwards (a new leader) sees a firing alert exactly when its firing
 * notification is in the outbox or already handed over — never one
 * without the other: a takeover neither re-sends a firing notification
 * nor loses a resolution.
 */
import type { Notification } from './notification.js';

export type AlertPhase = 'pending' | 'firing';

/** The last firing notification sent to one receiver (for repeat_interval). */
export interface SentRecord {
  readonly atMs: number;
  /** Firing notifications sent to this receiver in this episode (1 after the first). */
  readonly count: number;
}

export interface AlertState {
  /** Hash of `labels`; the key of the alert. */
  readonly fingerprint: string;
  /** The rule's name (also `labels.alertname`). */
  readonly rule: string;
  /** `alertname`, the group_by labels, the rule's labels. */
  readonly labels: Readonly<Record<string, string>>;
  /** `alertname` and the group_by labels: Alertmanager's groupLabels. */
  readonly groupLabels: Readonly<Record<string, string>>;
  /** The rule's annotations when last evaluated (a resolution is sent even after the rule is gone). */
  readonly annotations: Readonly<Record<string, string>>;
  readonly phase: AlertPhase;
  /** When the condition started holding (the episode's identity). */
  readonly activeAtMs: number;
  /** When it started firing; null while pending. */
  readonly firedAtMs: number | null;
  /** Since when the condition has not held while firing (keep_firing_for); null while it holds. */
  readonly keepFiringSinceMs: number | null;
  /** The figure at the last evaluation where the condition held. */
  readonly value: number;
  /** The figure when the alert fired: the `value` annotation. */
  readonly firedValue: number | null;
  /** By receiver name. */
  readonly sent: Readonly<Record<string, SentRecord>>;
}

/**
 * What makes a write the current leader's: the lease key and the epoch this
 * leader got. The write is refused unless the lease's value (`token|epoch`,
 * docs: leader-lease.redis.ts in @pulse/runtime) ends with `|<epoch>`.
 */
export interface AlertFence {
  readonly key: string;
  readonly epoch: number;
}

/** One evaluation's changes, committed at once. */
export interface AlertCommit {
  /** New or changed alerts. */
  readonly put: readonly AlertState[];
  /** Fingerprints of alerts that resolved or stopped pending. */
  readonly remove: readonly string[];
  /** Notifications these changes cause, into the outbox. */
  readonly notifications: readonly Notification[];
}

/** Anything that can list the current alerts: a store (what a gateway reads) or the evaluator itself. */
export interface AlertsSource {
  listAlerts(): Promise<readonly AlertState[]>;
}

export interface AlertStateStore extends AlertsSource {
  /** Every pending and firing alert as last committed (listAlerts is the same). */
  load(): Promise<AlertState[]>;
  /**
   * Writes `change` atomically while `fence` holds the lease. Returns false,
   * having written nothing, when it does not: a former leader's evaluation
   * cannot overwrite the new leader's state.
   */
  commit(change: AlertCommit, fence: AlertFence): Promise<boolean>;
  /** Notifications committed and not yet acknowledged, oldest first. */
  outbox(): Promise<Notification[]>;
  /** Drops these from the outbox, once the delivery queue holds them. Unknown ids are ignored. */
  acknowledge(ids: readonly string[]): Promise<void>;
}

// ---- decoding what a store holds (another version of Pulse, or a hand edit, may have written it) ----

/** An AlertState read back, or null when it is not one (the reader drops it). */
export function decodeAlertState(text: string): AlertState | null {
  const v = parseJson(text);
  if (!isRecord(v)) return null;
  const ok =
    typeof v.fingerprint === 'string' &&
    typeof v.rule === 'string' &&
    isTextMap(v.labels) &&
    isTextMap(v.groupLabels) &&
    isTextMap(v.annotations) &&
    (v.phase === 'pending' || v.phase === 'firing') &&
    isNumber(v.activeAtMs) &&
    (v.firedAtMs === null || isNumber(v.firedAtMs)) &&
    (v.keepFiringSinceMs === null || isNumber(v.keepFiringSinceMs)) &&
    isNumber(v.value) &&
    (v.firedValue === null || isNumber(v.firedValue)) &&
    isRecord(v.sent) &&
    Object.values(v.sent).every((s) => isRecord(s) && isNumber(s.atMs) && isNumber(s.count));
  return ok ? (v as unknown as AlertState) : null;
}

/** A Notification read back, or null when it is not one. */
export function decodeNotification(text: string): Notification | null {
  const v = parseJson(text);
  if (!isRecord(v)) return null;
  const body = v.body;
  const ok =
    typeof v.id === 'string' &&
    typeof v.receiver === 'string' &&
    isNumber(v.createdAtMs) &&
    isRecord(body) &&
    body.version === '4' &&
    Array.isArray(body.alerts) &&
    body.alerts.length === 1 &&
    isRecord(body.alerts[0]) &&
    isTextMap(body.alerts[0].labels);
  return ok ? (v as unknown as Notification) : null;
}

/** Outbox order: oldest first, ties by id so every reader agrees. */
export function byCreation(a: Notification, b: Notification): number {
  return a.createdAtMs - b.createdAtMs || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function isNumber(v: unknown): v is number {
  return typeof v === 'number' && Number.isFinite(v);
}

function isTextMap(v: unknown): boolean {
  return isRecord(v) && Object.values(v).every((x) => typeof x === 'string');
}
