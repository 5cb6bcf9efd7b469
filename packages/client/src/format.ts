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
