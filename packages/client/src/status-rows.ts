/**
 * Errors by HTTP status (version 2's `error.by_status`): which statuses the
 * error rate is made of. Shared by the dashboard and the CLI. Pure.
 */
import type { ViewData } from '@pulse/protocol';

export interface StatusRow {
  status: string;
  errorsPerSec: number;
  /** Its share of all errors/s of the view, %; undefined when there are none. */
  sharePct?: number;
}

/** By status code, ascending: rows keep their place from one update to the next. */
export function statusRows(data: ViewData): StatusRow[] {
  const total = data.error?.total_errors_per_sec ?? 0;
  return Object.entries(data.error?.by_status ?? {})
    .map(([status, errorsPerSec]) => ({ status, errorsPerSec, sharePct: total > 0 ? (100 * errorsPerSec) / total : undefined }))
    .sort((a, b) => Number(a.status) - Number(b.status) || a.status.localeCompare(b.status));
}
