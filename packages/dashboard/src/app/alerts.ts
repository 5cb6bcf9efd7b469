/**
 * The alerts the page shows (docs/PROTOCOL.md §8), as values: the replies of
 * `GET /v1/alerts` and `GET /v1/alerts/deliveries?state=failed` decoded
 * defensively (a malformed entry is left out, never a crash), the cells of
 * their tables, and the firing periods drawn as bands on the charts. Pure:
 * alerts-panel.ts does the fetching and the DOM.
 */
import { formatAge, formatNumber, formatTime } from '@pulse/client';

export type AlertPhase = 'pending' | 'firing';

export interface ActiveAlert {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly state: AlertPhase;
  /** When the condition started holding, epoch seconds. */
  readonly activeAt: number;
  readonly value: number;
}

export interface FailedDelivery {
  readonly id: string;
  readonly receiver: string;
  readonly status: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly attempts: number;
  readonly lastError: string;
  /** Epoch seconds. */
  readonly failedAt: number;
}

/** One period an alert was seen firing, in epoch seconds; `end` is null while it still fires. */
export interface FiringBand {
  readonly key: string;
  readonly name: string;
  readonly start: number;
  readonly end: number | null;
}

export interface BandLimits {
  /** Bands that ended longer ago than this (the charts' span) are dropped. */
  readonly spanSeconds: number;
  /** At most this many bands are kept, however many alerts come and go. */
  readonly maxBands: number;
}

/** `{"alerts": [...]}` → the well-formed alerts; anything else → none. */
export function parseAlerts(body: unknown): ActiveAlert[] {
  return listOf(body, 'alerts').flatMap((a): ActiveAlert[] => {
    const activeAt = epochSeconds(a.active_at);
    if (typeof a.name !== 'string' || (a.state !== 'pending' && a.state !== 'firing') || activeAt === null) return [];
    return [{ name: a.name, labels: labelsOf(a.labels), state: a.state, activeAt, value: typeof a.value === 'number' ? a.value : NaN }];
  });
}

/** `{"deliveries": [...]}` → the well-formed failed deliveries; anything else → none. */
export function parseDeliveries(body: unknown): FailedDelivery[] {
  return listOf(body, 'deliveries').flatMap((d): FailedDelivery[] => {
    const failedAt = epochSeconds(d.failed_at);
    if (typeof d.id !== 'string' || typeof d.receiver !== 'string' || failedAt === null) return [];
    return [
      {
        id: d.id,
        receiver: d.receiver,
        status: typeof d.status === 'string' ? d.status : '',
        labels: labelsOf(d.labels),
        attempts: typeof d.attempts === 'number' ? d.attempts : NaN,
        lastError: typeof d.last_error === 'string' ? d.last_error : '',
        failedAt,
      },
    ];
  });
}

/** What identifies one alert across polls: its name and labels, whatever order the labels come in. */
export function alertKey(name: string, labels: Readonly<Record<string, string>>): string {
  return JSON.stringify([name, Object.entries(labels).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))]);
}

/** `endpoint=/v1/x, severity=page`; `alertname` is left out where the name has a column of its own. */
export function labelText(labels: Readonly<Record<string, string>>, omit: readonly string[] = ['alertname']): string {
  return Object.entries(labels)
    .filter(([k]) => !omit.includes(k))
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([k, v]) => `${k}=${v}`)
    .join(', ');
}

/** A moment as the tables show it: the wall-clock time and how long ago. */
export function sinceText(epoch: number, nowSeconds: number): string {
  return `${formatTime(epoch)} (${formatAge(epoch, nowSeconds)})`;
}

/** The alerts table's cells: name, labels, state, active since, value. */
export function alertCells(a: ActiveAlert, nowSeconds: number): string[] {
  return [a.name, labelText(a.labels), a.state, sinceText(a.activeAt, nowSeconds), formatNumber(a.value)];
}

/** The failed deliveries table's cells (the retry button comes after them). */
export function deliveryCells(d: FailedDelivery, nowSeconds: number): string[] {
  return [d.id, d.receiver, d.status, labelText(d.labels, []), formatNumber(d.attempts), d.lastError, sinceText(d.failedAt, nowSeconds)];
}

/**
 * Why a reply of the alert routes is not what was asked for, in words:
 * `reply` is null when the gateway did not answer at all; an error reply
 * carries `{"error", "code"}` (docs/PROTOCOL.md §6.5).
 */
export function replyProblem(reply: { status: number; body: unknown } | null): string {
  if (reply === null) return 'Pulse does not answer; showing what it last said';
  const body = reply.body as { error?: unknown } | null;
  const message = typeof body === 'object' && body !== null && typeof body.error === 'string' ? `: ${body.error}` : '';
  return `Pulse answered ${reply.status}${message}`;
}

/**
 * The bands after one poll that saw `alerts` at `nowSeconds`: a firing alert
 * without an open band opens one from its `active_at`; an open band whose
 * alert no longer fires (resolved, back to pending, gone) ends now; an alert
 * that fired again as a new episode (another `active_at`) between two polls
 * ends the old band where the new one starts. Bands that ended before the
 * charts' span are dropped, and past `maxBands` the ones that ended first go.
 */
export function trackFiring(bands: readonly FiringBand[], alerts: readonly ActiveAlert[], nowSeconds: number, limits: BandLimits): FiringBand[] {
  const firing = new Map(alerts.filter((a) => a.state === 'firing').map((a) => [alertKey(a.name, a.labels), a]));
  const next: FiringBand[] = [];
  const open = new Set<string>();
  for (const band of bands) {
    if (band.end !== null) {
      next.push(band);
      continue;
    }
    const alert = firing.get(band.key);
    if (alert && alert.activeAt === band.start) {
      next.push(band);
      open.add(band.key);
    } else {
      next.push({ ...band, end: alert ? Math.max(band.start, alert.activeAt) : Math.max(band.start, nowSeconds) });
    }
  }
  for (const [key, alert] of firing) {
    if (!open.has(key)) next.push({ key, name: alert.name, start: alert.activeAt, end: null });
  }
  const kept = next.filter((b) => b.end === null || b.end >= nowSeconds - limits.spanSeconds);
  // Open bands last: when over the limit, what already ended goes first, oldest end first.
  kept.sort((a, b) => (a.end ?? Infinity) - (b.end ?? Infinity) || a.start - b.start);
  return kept.slice(Math.max(0, kept.length - limits.maxBands)).sort((a, b) => a.start - b.start);
}

/**
 * The parts of the bands inside a chart's x range [min, max], as [from, to]
 * pairs; an open band runs to `max`. What a chart shades.
 */
export function visibleSpans(bands: readonly FiringBand[], min: number, max: number): [number, number][] {
  const spans: [number, number][] = [];
  for (const band of bands) {
    const from = Math.max(band.start, min);
    const to = Math.min(band.end ?? max, max);
    if (to > from) spans.push([from, to]);
  }
  return spans;
}

function listOf(body: unknown, field: string): Record<string, unknown>[] {
  const list = typeof body === 'object' && body !== null ? (body as Record<string, unknown>)[field] : undefined;
  return Array.isArray(list) ? list.filter((e): e is Record<string, unknown> => typeof e === 'object' && e !== null) : [];
}

function labelsOf(v: unknown): Record<string, string> {
  if (typeof v !== 'object' || v === null) return {};
  return Object.fromEntries(Object.entries(v).filter((e): e is [string, string] => typeof e[1] === 'string'));
}

/** An RFC 3339 time as epoch seconds; null when it does not parse. */
function epochSeconds(v: unknown): number | null {
  if (typeof v !== 'string') return null;
  const ms = Date.parse(v);
  return Number.isFinite(ms) ? ms / 1000 : null;
}
