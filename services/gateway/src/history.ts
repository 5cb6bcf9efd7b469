/**
 * `GET /metrics/history` (docs/PROTOCOL.md §6, docs/HISTORY.md): the figures
 * of any view at past times, from the durable history the active
 * aggregators write — the same answer on every gateway, a gateway started a
 * minute ago included.
 *
 *   ?since=&until=   seconds since the epoch (default: the last 5 minutes)
 *   &step=           seconds between points (default: 5 without since/until,
 *                    else the finest tier that covers since in ≤ 1,000 points)
 *   &endpoint=&model=&node=   the view's filter, each repeatable
 *   &metric_type=    repeatable or comma-separated; `all` (default) for every type
 *
 * `{"timestamp": now, "step": s, "points": [{"timestamp", "data"}, …]}`,
 * oldest first, at most MAX_POINTS points (a query for more is a 400 naming
 * `step`). A bad parameter is a 400 naming it; other parameters (`token`)
 * are left alone. The store unreachable: 503.
 */
import { ErrorCode, isMetricType, METRIC_TYPES, type MetricType } from '@pulse/protocol';
import { errorBody } from '@pulse/runtime';
import { HistoryQueryError, MAX_POINTS, type HistoryQuery, type HistoryReader } from '@pulse/history';

export { MAX_POINTS };

/** What a request without since/until asks: the dashboard charts' span, one point every 5 s (what this route always answered). */
export const SPAN_SECONDS = 5 * 60;
export const STEP_SECONDS = 5;
/** Values of endpoint, model and node one query may name, together. */
export const MAX_FILTER_LABELS = 256;


export class HistoryParamError extends Error {
  constructor(
    readonly param: string,
    message: string,
  ) {
    super(`${param}: ${message}`);
  }
}

function seconds(params: URLSearchParams, name: string): number | undefined {
  const all = params.getAll(name);
  if (all.length === 0 || (all.length === 1 && all[0] === '')) return undefined;
  if (all.length > 1) throw new HistoryParamError(name, 'given more than once');
  const raw = all[0]!;
  const v = Number(raw);
  if (!/^\s*[0-9]+(\.[0-9]+)?\s*$/.test(raw) || !Number.isFinite(v)) throw new HistoryParamError(name, `expected seconds (a number ≥ 0), got ${JSON.stringify(raw.slice(0, 64))}`);
  return v;
}

/** The query a request's parameters ask, at `now` (seconds); throws HistoryParamError naming the bad one. */
export function parseHistoryParams(params: URLSearchParams, now: number): HistoryQuery {
  const until = seconds(params, 'until') ?? now;
  const since = seconds(params, 'since') ?? until - SPAN_SECONDS;
  if (since > until) throw new HistoryParamError('since', `${since} is after until (${until})`);
  let step = seconds(params, 'step');
  if (step !== undefined && step <= 0) throw new HistoryParamError('step', 'expected seconds > 0');
  if (step === undefined && !params.has('since') && !params.has('until')) step = STEP_SECONDS;
  const named = params.getAll('metric_type').flatMap((t) => t.split(',')).filter((t) => t !== '');
  const bad = named.find((t) => t !== 'all' && !isMetricType(t));
  if (bad !== undefined) throw new HistoryParamError('metric_type', `unknown type ${JSON.stringify(bad.slice(0, 64))} (expected one of ${METRIC_TYPES.join(', ')}, or all)`);
  const types: readonly MetricType[] = named.length === 0 || named.includes('all') ? METRIC_TYPES : METRIC_TYPES.filter((t) => named.includes(t));
  const set = (name: string) => new Set(params.getAll(name).filter((v) => v !== ''));
  const filter = { endpoints: set('endpoint'), models: set('model'), nodes: set('node') };
  const labels = filter.endpoints.size + filter.models.size + filter.nodes.size;
  if (labels > MAX_FILTER_LABELS) throw new HistoryParamError(filter.nodes.size >= filter.endpoints.size ? 'node' : 'endpoint', `${labels} labels, more than ${MAX_FILTER_LABELS}`);
  return { since, until, ...(step !== undefined && { step }), filter, types };
}

/** Status and JSON body of `GET /metrics/history?…`. */
export async function historyReply(reader: HistoryReader | undefined, params: URLSearchParams, now: number): Promise<[number, string]> {
  let query: HistoryQuery;
  try {
    query = parseHistoryParams(params, now);
  } catch (err) {
    if (err instanceof HistoryParamError) return [400, errorBody(ErrorCode.INVALID_BODY, err.message)];
    throw err;
  }
  // History off (PULSE_HISTORY_TIERS=off, or a gateway built without a reader): no points, and a field that says why.
  if (!reader) return [200, `{"timestamp":${now},"step":${query.step ?? STEP_SECONDS},"max_points":${MAX_POINTS},"history":"off","points":[]}`];
  try {
    const answer = await reader.query(query);
    const points = answer.points.map((p) => `{"timestamp":${p.timestamp},"data":${JSON.stringify(p.data)}}`).join(',');
    return [200, `{"timestamp":${now},"step":${answer.step},"max_points":${MAX_POINTS},"points":[${points}]}`];
  } catch (err) {
    if (err instanceof HistoryQueryError) return [400, errorBody(ErrorCode.INVALID_BODY, err.message)];
    return [503, errorBody(ErrorCode.STORE_UNAVAILABLE, `the history store did not answer: ${String((err as Error).message ?? err)}`)];
  }
}
