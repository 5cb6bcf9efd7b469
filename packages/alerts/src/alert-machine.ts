/**
 * One alert's state machine (docs/PROTOCOL.md §8), pure: no clock, no I/O.
 * Each arrow is one branch of `step`:
 *
 *   inactive ──condition holds──▶ pending ──held for `for`──▶ firing
 *   pending ──condition stops──▶ inactive (nobody was told: no notification)
 *   firing ──condition stops, keep_firing_for passed──▶ resolved (removed)
 *   firing ──condition holds again within keep_firing_for──▶ firing
 *
 * The condition holds when the figure has a value and `figure <op> value`.
 * A figure that is gone (nothing in the window for the group, or the group
 * itself gone) does not hold. With `for: 0s` an alert fires on the first
 * evaluation that sees the condition; with `keep_firing_for: 0s` it
 * resolves on the first that does not.
 *
 * While firing, each of the rule's receivers is notified once on firing and
 * again every `repeat_interval` of that receiver; on resolution the
 * receivers that were told it fires, and want resolutions, are told.
 */
import type { AlertState, SentRecord } from './alert-state.js';
import {
  groupKey,
  notificationId,
  valueText,
  ZERO_TIME,
  type AlertmanagerWebhook,
  type AlertStatus,
  type Notification,
} from './notification.js';
import { holds, type AlertRule, type Receiver } from './rules.js';

/** Who the alert is: fixed for its fingerprint. */
export interface AlertIdentity {
  readonly fingerprint: string;
  readonly rule: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly groupLabels: Readonly<Record<string, string>>;
  readonly annotations: Readonly<Record<string, string>>;
}

export interface StepContext {
  /** The alert's rule; undefined once it was removed from the rules file (the alert then resolves at once). */
  readonly rule: AlertRule | undefined;
  readonly receivers: ReadonlyMap<string, Receiver>;
  readonly nowMs: number;
  /** Alertmanager's `externalURL`: where Pulse is reached. */
  readonly externalUrl: string;
}

export interface StepResult {
  /** The alert after this evaluation; null when inactive (never was, stopped pending, or resolved). */
  readonly next: AlertState | null;
  readonly notifications: readonly Notification[];
}

/** Nothing to keep, nobody to tell: most groups most of the time, so one shared object. */
const INACTIVE: StepResult = Object.freeze({ next: null, notifications: Object.freeze([]) });

/** Advances one alert by one evaluation that read `value` (undefined: no value). */
export function step(prev: AlertState | null, identity: AlertIdentity, value: number | undefined, ctx: StepContext): StepResult {
  const { rule, nowMs } = ctx;
  const conditionHolds = rule !== undefined && value !== undefined && holds(rule.op, value, rule.value);
  const annotations = rule ? identity.annotations : (prev?.annotations ?? identity.annotations);

  if (prev === null || prev.phase === 'pending') {
    if (!conditionHolds || rule === undefined) return INACTIVE;
    const pending: AlertState = prev
      ? { ...prev, annotations, value: value as number }
      : {
          ...identity,
          annotations,
          phase: 'pending',
          activeAtMs: nowMs,
          firedAtMs: null,
          keepFiringSinceMs: null,
          value: value as number,
          firedValue: null,
          sent: {},
        };
    if (nowMs - pending.activeAtMs < rule.forMs) return { next: pending, notifications: [] };
    const firing: AlertState = { ...pending, phase: 'firing', firedAtMs: nowMs, firedValue: value as number };
    return withRepeats(firing, rule, ctx);
  }

  // Firing.
  if (conditionHolds) {
    return withRepeats({ ...prev, annotations, value: value as number, keepFiringSinceMs: null }, rule as AlertRule, ctx);
  }
  const since = prev.keepFiringSinceMs ?? nowMs;
  if (rule !== undefined && nowMs - since < rule.keepFiringForMs) {
    return withRepeats({ ...prev, annotations, keepFiringSinceMs: since }, rule, ctx);
  }
  const resolved = { ...prev, annotations };
  const notifications: Notification[] = [];
  for (const name of Object.keys(prev.sent)) {
    const receiver = ctx.receivers.get(name);
    if (receiver?.sendResolved) {
      notifications.push(notificationOf(resolved, 'resolved', receiver.name, notificationId(prev.fingerprint, prev.activeAtMs, name, 'resolved'), ctx));
    }
  }
  return { next: null, notifications };
}

/** A firing alert's notifications due now: the first to each receiver, then one per repeat_interval. */
function withRepeats(state: AlertState, rule: AlertRule, ctx: StepContext): StepResult {
  const notifications: Notification[] = [];
  let sent: Record<string, SentRecord> | null = null;
  for (const name of rule.receivers) {
    const receiver = ctx.receivers.get(name);
    if (!receiver) continue;
    const last = state.sent[name];
    if (last && ctx.nowMs - last.atMs < receiver.repeatIntervalMs) continue;
    const seq = last?.count ?? 0;
    const firing = notificationOf(state, 'firing', name, notificationId(state.fingerprint, state.activeAtMs, name, 'firing', seq), ctx);
    notifications.push({ ...firing, resolvedBy: notificationId(state.fingerprint, state.activeAtMs, name, 'resolved') });
    sent ??= { ...state.sent };
    sent[name] = { atMs: ctx.nowMs, count: seq + 1 };
  }
  return { next: sent ? { ...state, sent } : state, notifications };
}

function notificationOf(state: AlertState, status: AlertStatus, receiver: string, id: string, ctx: StepContext): Notification {
  const annotations = { ...state.annotations, value: valueText(state.firedValue ?? state.value) };
  const body: AlertmanagerWebhook = {
    version: '4',
    groupKey: groupKey(state.groupLabels),
    truncatedAlerts: 0,
    status,
    receiver,
    groupLabels: state.groupLabels,
    commonLabels: state.labels,
    commonAnnotations: annotations,
    externalURL: ctx.externalUrl,
    alerts: [
      {
        status,
        labels: state.labels,
        annotations,
        startsAt: new Date(state.firedAtMs ?? state.activeAtMs).toISOString(),
        endsAt: status === 'resolved' ? new Date(ctx.nowMs).toISOString() : ZERO_TIME,
        generatorURL: ctx.externalUrl ? `${ctx.externalUrl.replace(/\/+$/, '')}/v1/alerts` : '',
        fingerprint: state.fingerprint,
      },
    ],
  };
  return { id, receiver, createdAtMs: ctx.nowMs, body };
}
