/**
 * The JSON of the alert routes (docs/PROTOCOL.md §8), as plain functions;
 * the services route to them and send what they return:
 *
 *   GET  /v1/alerts                          → alertsReply(source)
 *   GET  /v1/alerts/deliveries?state=failed  → deliveriesReply(queue, state)
 *   POST /v1/alerts/deliveries/{id}/retry    → retryReply(queue, id)
 *
 * The gateway passes the Redis state store as the source (it reads what the
 * leader committed); `npm start` the evaluator or the memory store. Errors
 * use the API's body, `{"error", "code"}` (§6.5).
 */
import { ErrorCode, HTTP_STATUS } from '@pulse/protocol';
import type { AlertsSource, AlertPhase } from './alert-state.js';
import type { NotificationQueue } from './delivery.js';

export interface RestReply {
  readonly status: number;
  readonly body: unknown;
}

export interface AlertJson {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly state: AlertPhase;
  /** When the condition started holding (RFC 3339). */
  readonly active_at: string;
  /** The figure at the last evaluation where the condition held. */
  readonly value: number;
}

export interface DeliveryJson {
  readonly id: string;
  readonly receiver: string;
  readonly status: 'firing' | 'resolved';
  readonly labels: Readonly<Record<string, string>>;
  readonly attempts: number;
  readonly last_error: string;
  readonly created_at: string;
  readonly failed_at: string;
}

/** `GET /v1/alerts`: every pending and firing alert, by name then labels. */
export async function alertsBody(source: AlertsSource): Promise<{ alerts: AlertJson[] }> {
  const states = await source.listAlerts();
  const alerts = states.map((s) => ({
    name: s.rule,
    labels: s.labels,
    state: s.phase,
    active_at: new Date(s.activeAtMs).toISOString(),
    value: s.value,
    sortKey: JSON.stringify([s.rule, s.fingerprint]),
  }));
  alerts.sort((a, b) => (a.sortKey < b.sortKey ? -1 : a.sortKey > b.sortKey ? 1 : 0));
  return { alerts: alerts.map(({ sortKey: _sortKey, ...alert }) => alert) };
}

export async function alertsReply(source: AlertsSource): Promise<RestReply> {
  return { status: 200, body: await alertsBody(source) };
}

/** `GET /v1/alerts/deliveries?state=failed`: the failed notifications, newest first, with their last error. */
export async function failedDeliveriesBody(queue: NotificationQueue): Promise<{ deliveries: DeliveryJson[] }> {
  const failed = await queue.failed();
  return {
    deliveries: failed.map((f) => ({
      id: f.id,
      receiver: f.receiver,
      status: f.status,
      labels: f.labels,
      attempts: f.attempts,
      last_error: f.lastError,
      created_at: new Date(f.createdAtMs).toISOString(),
      failed_at: new Date(f.failedAtMs).toISOString(),
    })),
  };
}

/** `state` is the query parameter (null when absent); only `failed` is listed. */
export async function deliveriesReply(queue: NotificationQueue, state: string | null): Promise<RestReply> {
  if (state !== 'failed') return errorReply(ErrorCode.INVALID_BODY, 'state must be "failed" (GET /v1/alerts/deliveries?state=failed)');
  return { status: 200, body: await failedDeliveriesBody(queue) };
}

/** `POST /v1/alerts/deliveries/{id}/retry`: 202 once the notification is queued again, 404 when no failed one has that id. */
export async function retryReply(queue: NotificationQueue, id: string): Promise<RestReply> {
  if (!(await queue.retry(id))) return errorReply(ErrorCode.NOT_FOUND, `no failed delivery with id ${JSON.stringify(id)}`);
  return { status: 202, body: { id, state: 'queued' } };
}

function errorReply(code: ErrorCode, message: string): RestReply {
  return { status: HTTP_STATUS[code], body: { error: message, code } };
}
