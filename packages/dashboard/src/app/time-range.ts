/**
 * The time the charts show: the last 5 minutes … 7 days (following now, live
 * points appended), or a fixed span picked by dragging over a chart (no live
 * points). The step history is asked for keeps a chart at MAX_CHART_POINTS or
 * fewer. Pure; kept in the page's address as `range=` (`from=`/`to=` for a
 * fixed span).
 */

export interface RangeOption {
  readonly id: string;
  readonly label: string;
  readonly seconds: number;
}

export const RANGES: readonly RangeOption[] = [
  { id: '5m', label: '5 min', seconds: 5 * 60 },
  { id: '1h', label: '1 h', seconds: 3600 },
  { id: '6h', label: '6 h', seconds: 6 * 3600 },
  { id: '24h', label: '24 h', seconds: 24 * 3600 },
  { id: '7d', label: '7 d', seconds: 7 * 86_400 },
];

export const DEFAULT_RANGE: TimeRange = { kind: 'last', seconds: RANGES[0]!.seconds };

/** Points a chart holds at most (about: the live tail adds one). */
export const MAX_CHART_POINTS = 600;

/**
 * Steps asked of history, seconds: each a multiple of the ones before from 1
 * s on, so most tier layouts (docs/HISTORY.md: `0.5s:10m,5s:6h,1m:7d` by
 * default) have a tier that divides it. A step history refuses is asked again
 * without one (rest.ts).
 */
export const STEPS = [0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300, 600, 1200, 1800, 3600, 7200, 14_400, 28_800, 86_400] as const;

/** The shortest span a drag may zoom to, seconds. */
export const MIN_ZOOM_SECONDS = 10;

export type TimeRange = { readonly kind: 'last'; readonly seconds: number } | { readonly kind: 'between'; readonly since: number; readonly until: number };

/** The smallest step of STEPS that puts at most `maxPoints` points over `spanSeconds` (the largest if none does). */
export function chooseStep(spanSeconds: number, maxPoints = MAX_CHART_POINTS): number {
  return STEPS.find((s) => spanSeconds / s <= maxPoints) ?? STEPS[STEPS.length - 1]!;
}

/** Seconds the range spans. */
export function spanOf(range: TimeRange): number {
  return range.kind === 'last' ? range.seconds : range.until - range.since;
}

/** The range's span at `now` (epoch seconds). */
export function windowOf(range: TimeRange, now: number): { since: number; until: number } {
  return range.kind === 'last' ? { since: now - range.seconds, until: now } : { since: range.since, until: range.until };
}

/** Whether live points belong on the charts: a fixed span in the past stays as fetched. */
export function followsNow(range: TimeRange): boolean {
  return range.kind === 'last';
}

/** The span of a drag over a chart, widened about its middle to MIN_ZOOM_SECONDS; null for a drag that is no span. */
export function zoomTo(from: number, to: number): TimeRange | null {
  if (!Number.isFinite(from) || !Number.isFinite(to)) return null;
  const middle = (from + to) / 2;
  const half = Math.max(Math.abs(to - from), MIN_ZOOM_SECONDS) / 2;
  return { kind: 'between', since: Math.floor(middle - half), until: Math.ceil(middle + half) };
}

/** The range's id (`5m`…`7d`), or null for a fixed span or a span not among RANGES. */
export function rangeId(range: TimeRange): string | null {
  return range.kind === 'last' ? (RANGES.find((r) => r.seconds === range.seconds)?.id ?? null) : null;
}

/** The address parameters of a range: none for the default. */
export function rangeParams(range: TimeRange): [string, string][] {
  if (range.kind === 'between') return [['from', String(range.since)], ['to', String(range.until)]];
  const id = rangeId(range);
  return id && range.seconds !== spanOf(DEFAULT_RANGE) ? [['range', id]] : [];
}

/** The address's query with `range` in place of the range it had, every other parameter kept; '' when empty. */
export function rangeAddress(range: TimeRange, search: string): string {
  const q = new URLSearchParams(search);
  for (const name of ['range', 'from', 'to']) q.delete(name);
  for (const [name, value] of rangeParams(range)) q.set(name, value);
  const text = q.toString();
  return text ? `?${text}` : '';
}

/** Reads `range=` or `from=`/`to=` back; anything unknown or invalid is the default. */
export function rangeFromQuery(query: string): TimeRange {
  const q = new URLSearchParams(query);
  const from = Number(q.get('from'));
  const to = Number(q.get('to'));
  if (q.has('from') && q.has('to') && Number.isFinite(from) && Number.isFinite(to) && from >= 0 && to - from >= MIN_ZOOM_SECONDS) {
    return { kind: 'between', since: from, until: to };
  }
  const option = RANGES.find((r) => r.id === q.get('range'));
  return option ? { kind: 'last', seconds: option.seconds } : DEFAULT_RANGE;
}

/** What the range picker says about the range. */
export function describeRange(range: TimeRange, formatTime: (epochSeconds: number) => string): string {
  if (range.kind === 'between') return `${formatTime(range.since)} – ${formatTime(range.until)} (drag to zoom, a range button to follow now)`;
  const option = RANGES.find((r) => r.seconds === range.seconds);
  return `last ${option?.label ?? `${range.seconds} s`}, live (drag over a chart to zoom)`;
}
