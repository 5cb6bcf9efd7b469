/**
 * The node table: one row per producing node of a view's `nodes` figures
 * (version 2; a server without them gives no rows), slowest p99 first, with
 * the outliers of outliers.ts marked. Shared by the dashboard and the CLI.
 */
import type { ViewData } from '@pulse/protocol';
import { outlierReasons, type OutlierReason } from './outliers.js';

export interface NodeRow {
  node: string;
  requestsPerSec?: number;
  responsesPerSec?: number;
  errorsPerSec?: number;
  /** Errors per end, %; undefined without ends in the window. */
  errorRatePct?: number;
  p99?: number;
  ttftP99?: number;
  queueDepth?: number;
  /** `ts` of its newest event, seconds since the epoch; undefined when unknown. */
  lastSeen?: number;
  /** Empty unless the node stands out from the others. */
  outlier: OutlierReason[];
}

export function nodeRows(data: ViewData): NodeRow[] {
  const rows = Object.entries(data.nodes ?? {}).map(
    ([node, n]): NodeRow => ({
      node,
      requestsPerSec: n.requests_per_sec,
      responsesPerSec: n.responses_per_sec,
      errorsPerSec: n.errors_per_sec,
      errorRatePct: n.responses_per_sec > 0 ? (100 * n.errors_per_sec) / n.responses_per_sec : undefined,
      p99: n.latency?.p99,
      ttftP99: n.ttft?.p99,
      queueDepth: n.queue_depth,
      // 0: the server holds no event time for it.
      lastSeen: n.last_seen > 0 ? n.last_seen : undefined,
      outlier: [],
    }),
  );
  outlierReasons(rows).forEach((reasons, i) => (rows[i]!.outlier = reasons));
  return rows.sort((a, b) => (b.p99 ?? -1) - (a.p99 ?? -1) || (b.errorRatePct ?? -1) - (a.errorRatePct ?? -1) || a.node.localeCompare(b.node));
}
