import type { NodeRow } from './node-rows.js';
import { OUTLIER_FACTOR, OUTLIER_MIN_ERROR_PCT, type OutlierReason } from './outliers.js';
import type { EndpointRow } from './summary.js';
/** How figures read on a dashboard or a terminal: few significant digits, units that fit, a dash for "no data". */

export const NO_DATA = '—';

/** A rate or count: 3 significant digits below 1000, thousands separators above. */
export function formatNumber(value: number | null | undefined): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return NO_DATA;
  const abs = Math.abs(value);
  if (abs >= 1000) return Math.round(value).toLocaleString('en-US');
  // Counts (streams, queue depth) are whole numbers: no decimals to suggest otherwise.
  if (Number.isInteger(value)) return String(value);
  if (abs >= 100) return value.toFixed(0);
  if (abs >= 10) return value.toFixed(1);
  if (abs >= 0.01) return value.toFixed(2);
  return value.toPrecision(1);
}

/** Milliseconds, switching to seconds from 10 s on. */
export function formatMs(ms: number | null | undefined): string {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) return NO_DATA;
  if (ms >= 10_000) return `${formatNumber(ms / 1000)} s`;
  return `${formatNumber(ms)} ms`;
}

export function formatPercent(value: number | null | undefined): string {
  return value === null || value === undefined || !Number.isFinite(value) ? NO_DATA : `${value.toFixed(1)} %`;
}

/** Seconds since the epoch as a wall-clock time. */
export function formatTime(epochSeconds: number): string {
  return new Date(epochSeconds * 1000).toLocaleTimeString('en-GB', { hour12: false });
}

/** How long ago `epochSeconds` was at `nowSeconds`: a producer clock slightly ahead reads as just now. */
export function formatAge(epochSeconds: number | undefined, nowSeconds: number): string {
  if (epochSeconds === undefined || !Number.isFinite(epochSeconds)) return NO_DATA;
  const age = nowSeconds - epochSeconds;
  if (age < 1) return '<1 s ago';
  if (age < 120) return `${Math.floor(age)} s ago`;
  if (age < 7200) return `${Math.floor(age / 60)} min ago`;
  return `${Math.floor(age / 3600)} h ago`;
}

const OUTLIER_TEXT: Readonly<Record<OutlierReason, string>> = { latency: 'p99', errors: 'errors' };

/** What a node stands out for, as a marker; empty when it does not. */
export function outlierText(reasons: readonly OutlierReason[]): string {
  return reasons.length === 0 ? '' : `▲ ${reasons.map((r) => OUTLIER_TEXT[r]).join(', ')}`;
}

/** The outlier rule in a sentence, for a caption or a legend. */
export const OUTLIER_RULE = `▲ outlier: p99 over ${OUTLIER_FACTOR}× the other nodes' median (weighted by traffic), or error rate over ${OUTLIER_FACTOR}× theirs and over ${OUTLIER_MIN_ERROR_PCT} %`;

/** The figures of one node row as table cells, after its name; `nowSeconds` is the view's time, for "last seen". */
export function nodeCells(r: NodeRow, nowSeconds: number): string[] {
  return [
    formatMs(r.p99),
    formatPercent(r.errorRatePct),
    formatNumber(r.requestsPerSec),
    formatMs(r.ttftP99),
    formatNumber(r.queueDepth),
    formatAge(r.lastSeen, nowSeconds),
    outlierText(r.outlier),
  ];
}

/** An SLO's (or endpoint's) attainment against its target, in words: colour alone says nothing to some readers, or to a terminal. */
export function sloVerdict(met: boolean | undefined): string {
  if (met === undefined) return 'no requests';
  return met ? 'met' : 'missed';
}

/** The figures of one endpoint row as table cells, after its name: one layout for the dashboard and the CLI. */
export function endpointCells(r: EndpointRow): string[] {
  return [
    formatNumber(r.requestsPerSec),
    formatNumber(r.responsesPerSec),
    formatNumber(r.tokensPerSec),
    formatNumber(r.errorsPerSec),
    formatMs(r.p50),
    formatMs(r.p90),
    formatMs(r.p99),
    formatPercent(r.hitRate),
  ];
}
