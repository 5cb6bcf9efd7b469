/**
 * What a notification is and the bodies a receiver gets (docs/PROTOCOL.md
 * §8): one POST per notification holding one alert, as Alertmanager's
 * webhook body (version "4"), or the `{"text"}` of a Slack incoming webhook.
 *
 * Identities are hashes of persisted state, never of the clock or a
 * counter in memory: the same alert gets the same fingerprint in every
 * process, and the same notification (an alert's firing, its n-th repeat,
 * its resolution, to one receiver) gets the same id whichever leader builds
 * it — the id is the BullMQ job id and the `Idempotency-Key`, so a second
 * enqueue or a second attempt of it is recognisably the same one.
 */
import { createHash } from 'node:crypto';

export type AlertStatus = 'firing' | 'resolved';

/** One alert as Alertmanager's webhook carries it. */
export interface WebhookAlert {
  readonly status: AlertStatus;
  readonly labels: Readonly<Record<string, string>>;
  /** The rule's annotations and `value`, the figure when the alert fired, as text. */
  readonly annotations: Readonly<Record<string, string>>;
  /** When the alert started firing (RFC 3339). */
  readonly startsAt: string;
  /** When it resolved; Alertmanager's zero time while it fires. */
  readonly endsAt: string;
  readonly generatorURL: string;
  readonly fingerprint: string;
}

/** Alertmanager's webhook body (version 4), holding exactly one alert. */
export interface AlertmanagerWebhook {
  readonly version: '4';
  readonly groupKey: string;
  readonly truncatedAlerts: 0;
  readonly status: AlertStatus;
  readonly receiver: string;
  readonly groupLabels: Readonly<Record<string, string>>;
  readonly commonLabels: Readonly<Record<string, string>>;
  readonly commonAnnotations: Readonly<Record<string, string>>;
  readonly externalURL: string;
  readonly alerts: readonly [WebhookAlert];
}

/** One POST to one receiver, built once by the evaluator, delivered at least once. */
export interface Notification {
  /** Stable: the BullMQ job id and every attempt's `Idempotency-Key`. */
  readonly id: string;
  /** The receiver's name; its URL and headers are looked up when delivering (secrets stay out of Redis). */
  readonly receiver: string;
  readonly createdAtMs: number;
  readonly body: AlertmanagerWebhook;
  /**
   * A firing notification's: the id its episode's resolution to the same
   * receiver gets. Deliveries of separate notifications race (retries, a
   * crashed worker's job picked up later), so a firing one delivered after
   * its resolution would reopen an alert that is over; the queues drop a
   * firing notification once this id is queued or delivered.
   */
  readonly resolvedBy?: string;
}

/** Alertmanager's zero time: the `endsAt` of an alert that still fires. */
export const ZERO_TIME = '0001-01-01T00:00:00Z';

/**
 * A stable hash of an alert's labels, 16 hex digits like Alertmanager's:
 * the labels sorted by name, so the order they were written in is irrelevant.
 */
export function fingerprint(labels: Readonly<Record<string, string>>): string {
  const pairs = Object.keys(labels)
    .sort()
    .map((k) => [k, labels[k]]);
  return createHash('sha256').update(JSON.stringify(pairs)).digest('hex').slice(0, 16);
}

/**
 * The id of one notification of one alert episode (an episode starts when
 * the alert becomes pending: `activeAtMs`). `seq` tells a firing
 * notification from its repeats. The `-` keeps it from reading as an
 * integer, and there is no `:`, which BullMQ forbids in job ids.
 */
export function notificationId(alertFingerprint: string, activeAtMs: number, receiver: string, status: AlertStatus, seq = 0): string {
  const hash = createHash('sha256').update(JSON.stringify([alertFingerprint, activeAtMs, receiver, status, seq])).digest('hex');
  return `${alertFingerprint}-${hash.slice(0, 16)}`;
}

/** Alertmanager's group key: `{}:{alertname="…", endpoint="…"}` over the group labels. */
export function groupKey(groupLabels: Readonly<Record<string, string>>): string {
  const parts = Object.keys(groupLabels)
    .sort()
    .map((k) => `${k}=${JSON.stringify(groupLabels[k])}`);
  return `{}:{${parts.join(', ')}}`;
}

/** A figure as the `value` annotation shows it: 6 significant digits, no exponent for ordinary sizes. */
export function valueText(value: number): string {
  return String(Number(value.toPrecision(6)));
}

/** The text a Slack incoming webhook shows for a notification. */
export function slackText(body: AlertmanagerWebhook): string {
  const alert = body.alerts[0];
  const { alertname = '', ...labels } = alert.labels;
  const labelText = Object.entries(labels)
    .map(([k, v]) => `${k}=${v}`)
    .join(', ');
  const what = alert.annotations.summary ?? alert.annotations.description;
  return [
    `[${alert.status.toUpperCase()}] ${alertname}`,
    labelText ? ` (${labelText})` : '',
    ` value=${alert.annotations.value ?? ''}`,
    what ? ` — ${what}` : '',
  ].join('');
}
