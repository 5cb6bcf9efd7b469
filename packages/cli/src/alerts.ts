/**
 * `pulse alerts`: the active alerts and the failed deliveries of a Pulse with
 * PULSE_ALERT_RULES (docs/PROTOCOL.md §8), as two tables or as one JSON
 * line; `pulse alerts retry` replays a failed delivery. Resolves with the
 * exit code: 0 when Pulse answered as asked, 1 when it did not (unreachable,
 * no alert rules, a refused token, an unknown id).
 */
import { formatAge, formatNumber, formatTime } from '@pulse/client';
import type { AlertsCommand, RetryCommand } from './args.js';
import { safeName, safeText, textTable } from './text-table.js';
import type { Output } from './watch.js';

/** Labels and errors longer than this are cut: a table line stays readable. */
const MAX_TEXT = 80;

/** An alert of `GET /v1/alerts`. */
export interface AlertJson {
  name: string;
  labels: Record<string, string>;
  state: string;
  /** RFC 3339. */
  active_at: string;
  value: number;
}

/** A failed notification of `GET /v1/alerts/deliveries?state=failed`. */
export interface DeliveryJson {
  id: string;
  receiver: string;
  status: string;
  labels: Record<string, string>;
  attempts: number;
  last_error: string;
  failed_at: string;
}

interface Reply {
  status: number;
  body: unknown;
}

/** Why a call failed, in a sentence for stderr. */
class CallFailed extends Error {}

export async function listAlerts(cmd: AlertsCommand, out: Output, err: Output): Promise<number> {
  try {
    const alerts = listOf(await expectOk(cmd, 'GET', '/v1/alerts'), 'alerts');
    const deliveries = listOf(await expectOk(cmd, 'GET', '/v1/alerts/deliveries?state=failed'), 'deliveries');
    // --json is for scripts: the entries exactly as Pulse gave them.
    if (cmd.json) out.write(`${JSON.stringify({ alerts, deliveries })}\n`);
    else out.write(`${renderAlerts(cmd.url, alerts.map(toAlert), deliveries.map(toDelivery), Date.now() / 1000)}\n`);
    return 0;
  } catch (e) {
    if (!(e instanceof CallFailed)) throw e;
    err.write(`pulse: ${e.message}\n`);
    return 1;
  }
}

export async function retryDelivery(cmd: RetryCommand, out: Output, err: Output): Promise<number> {
  try {
    await expectOk(cmd, 'POST', `/v1/alerts/deliveries/${encodeURIComponent(cmd.id)}/retry`, 202);
    out.write(`delivery ${safeText(cmd.id, Infinity)} queued again\n`);
    return 0;
  } catch (e) {
    if (!(e instanceof CallFailed)) throw e;
    err.write(`pulse: ${e.message}\n`);
    return 1;
  }
}

/** Both tables, with a line above each saying how many; pure. */
export function renderAlerts(url: string, alerts: readonly AlertJson[], deliveries: readonly DeliveryJson[], nowSeconds: number): string {
  const firing = alerts.filter((a) => a.state === 'firing').length;
  const lines = [`Pulse  ${url}  ${formatTime(nowSeconds)}`, ''];
  lines.push(alerts.length === 0 ? 'no active alerts' : `${alerts.length} active ${plural(alerts.length, 'alert')}: ${firing} firing, ${alerts.length - firing} pending`);
  if (alerts.length > 0) {
    lines.push(
      ...textTable(
        ['ALERT', 'STATE', 'ACTIVE SINCE', 'VALUE', 'LABELS'],
        alerts.map((a) => [safeName(a.name), safeName(a.state), since(a.active_at, nowSeconds), formatNumber(a.value), labelText(a.labels, ['alertname'])]),
        '  ',
        [0, 1, 2, 4],
      ),
    );
  }
  lines.push('', deliveries.length === 0 ? 'no failed deliveries' : `${deliveries.length} failed ${plural(deliveries.length, 'delivery', 'deliveries')} (pulse alerts retry <url> <id> sends one again)`);
  if (deliveries.length > 0) {
    lines.push(
      ...textTable(
        ['ID', 'RECEIVER', 'STATUS', 'ATTEMPTS', 'FAILED', 'ALERT', 'LABELS', 'LAST ERROR'],
        deliveries.map((d) => [
          // Never cut: it is what `alerts retry` takes.
          safeText(d.id, Infinity),
          safeName(d.receiver),
          safeName(d.status),
          formatNumber(d.attempts),
          since(d.failed_at, nowSeconds),
          safeName(d.labels.alertname ?? ''),
          labelText(d.labels, ['alertname']),
          safeText(d.last_error, MAX_TEXT),
        ]),
        '  ',
        [0, 1, 2, 4, 5, 6, 7],
      ),
    );
  }
  return lines.join('\n');
}

/** `endpoint=/v1/x, severity=page`, sorted by name, safe to print. */
export function labelText(labels: Readonly<Record<string, string>>, omit: readonly string[] = []): string {
  const pairs = Object.entries(labels)
    .filter(([k]) => !omit.includes(k))
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([k, v]) => `${k}=${v}`);
  return safeText(pairs.join(', '), MAX_TEXT);
}

/** An RFC 3339 time as the tables show it: the wall-clock time and how long ago. */
function since(rfc3339: string, nowSeconds: number): string {
  const ms = Date.parse(rfc3339);
  if (!Number.isFinite(ms)) return '—';
  return `${formatTime(ms / 1000)} (${formatAge(ms / 1000, nowSeconds)})`;
}

function plural(n: number, one: string, many = `${one}s`): string {
  return n === 1 ? one : many;
}

/** The reply's body when its status is `expected`; otherwise CallFailed saying what went wrong and what to do. */
async function expectOk(cmd: { url: string; token?: string }, method: 'GET' | 'POST', path: string, expected = 200): Promise<unknown> {
  const reply = await call(cmd, method, path);
  if (reply.status === expected) return reply.body;
  const said = serverMessage(reply.body);
  if (reply.status === 401) throw new CallFailed(`${cmd.url} wants a read token: set PULSE_TOKEN (${said})`);
  // A Pulse without rules has no alert routes at all (the retry route's own 404 says which id).
  if (reply.status === 404 && !path.endsWith('/retry')) throw new CallFailed(`${cmd.url} has no alerts: start Pulse with PULSE_ALERT_RULES (docs/PROTOCOL.md §8)`);
  throw new CallFailed(`${method} ${path} answered ${reply.status}: ${said}`);
}

async function call(cmd: { url: string; token?: string }, method: 'GET' | 'POST', path: string): Promise<Reply> {
  let res: Response;
  try {
    res = await fetch(`${cmd.url}${path}`, { method, headers: cmd.token ? { authorization: `Bearer ${cmd.token}` } : {}, signal: AbortSignal.timeout(10_000) });
  } catch (e) {
    const cause = (e as { cause?: { message?: string } }).cause?.message ?? (e as Error).message;
    throw new CallFailed(`cannot reach ${cmd.url}: ${cause}`);
  }
  return { status: res.status, body: await res.json().catch(() => null) };
}

/** The `error` of an error body (docs/PROTOCOL.md §6.5), safe to print. */
function serverMessage(body: unknown): string {
  const error = typeof body === 'object' && body !== null ? (body as { error?: unknown }).error : undefined;
  return typeof error === 'string' ? safeText(error, MAX_TEXT) : 'no error message';
}

/** The list under `field`, or CallFailed: a reply without it is not from a Pulse. */
function listOf(body: unknown, field: string): Record<string, unknown>[] {
  const list = typeof body === 'object' && body !== null ? (body as Record<string, unknown>)[field] : undefined;
  if (!Array.isArray(list)) throw new CallFailed(`the reply has no "${field}" list: is this a Pulse?`);
  return list.map((e: unknown) => (typeof e === 'object' && e !== null ? (e as Record<string, unknown>) : {}));
}

/** An entry as the tables read it, whatever a server put in it: a missing field is empty, never a crash. */
function toAlert(e: Record<string, unknown>): AlertJson {
  return { name: str(e.name), labels: labelsOf(e.labels), state: str(e.state), active_at: str(e.active_at), value: num(e.value) };
}

function toDelivery(e: Record<string, unknown>): DeliveryJson {
  return {
    id: str(e.id),
    receiver: str(e.receiver),
    status: str(e.status),
    labels: labelsOf(e.labels),
    attempts: num(e.attempts),
    last_error: str(e.last_error),
    failed_at: str(e.failed_at),
  };
}

const str = (v: unknown): string => (typeof v === 'string' ? v : '');
const num = (v: unknown): number => (typeof v === 'number' ? v : NaN);

function labelsOf(v: unknown): Record<string, string> {
  if (typeof v !== 'object' || v === null) return {};
  return Object.fromEntries(Object.entries(v).filter((e): e is [string, string] => typeof e[1] === 'string'));
}
