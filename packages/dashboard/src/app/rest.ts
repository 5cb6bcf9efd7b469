/**
 * The gateway's REST routes the page reads besides its stream: `GET
 * /metrics/labels` (the endpoints, models and nodes in Pulse's window, which
 * the metric messages cannot say: they carry no model dimension, and a view
 * filtered to a node has only that node) and `GET
 * /metrics/history` (any view's figures over a span, from the durable
 * history, so the charts start full). Neither ever throws: a gateway that is
 * down, too old to have the route, or that refuses the token yields nothing.
 * The token goes in a header: fetch can set one.
 */
import type { ViewData } from '@pulse/client';
import { METRIC_TYPES } from '@pulse/protocol/snapshot-data';
import type { FilterState } from './filters.js';

export interface Labels {
  endpoints: string[];
  models: string[];
  /** Empty from a gateway older than the node dimension. */
  nodes: string[];
}

export interface HistoryPoint {
  timestamp: number;
  data: ViewData;
}

/** The URL of a route of the gateway behind a stream URL (`ws://h/metrics/stream` → `http://h/metrics/labels`). */
export function restUrl(streamUrl: string, route: 'labels' | 'history'): string {
  return gatewayUrl(streamUrl, `/metrics/${route}`);
}

/**
 * Any route of the gateway behind a stream URL, `path` possibly with a query
 * (`ws://h/metrics/stream`, `/v1/alerts` → `http://h/v1/alerts`); a gateway
 * mounted under a prefix keeps it.
 */
export function gatewayUrl(streamUrl: string, path: string): string {
  const url = new URL(streamUrl);
  const target = new URL(path, 'http://gateway');
  url.protocol = url.protocol === 'wss:' ? 'https:' : 'http:';
  url.pathname = url.pathname.replace(/\/metrics\/stream$/, '') + target.pathname;
  url.search = target.search;
  return url.toString();
}

export async function fetchLabels(streamUrl: string, token?: string): Promise<Labels> {
  const body = await getJson(restUrl(streamUrl, 'labels'), token);
  return { endpoints: strings(body?.endpoints), models: strings(body?.models), nodes: strings(body?.nodes) };
}

/** What the charts ask history for: a view (the page's filters) over a span, one point per step. */
export interface HistoryRequest {
  readonly filters: Pick<FilterState, 'endpoint' | 'model' | 'node' | 'types'>;
  /** Epoch seconds. */
  readonly since: number;
  readonly until: number;
  /** Seconds; absent, history picks one. */
  readonly step?: number;
}

export interface HistoryAnswer {
  /** The step history used, seconds (null from a gateway that does not say). */
  step: number | null;
  points: HistoryPoint[];
  /** Set when history keeps this view for less than the span asked: the start of what it answered, epoch seconds. */
  narrowedSince?: number;
}

/**
 * How long history keeps a view by node and model together: its finest
 * tier's retention at the default tiers (docs/HISTORY.md "Rollups"; the
 * coarser tiers keep rollups that cannot give that view).
 */
export const NODE_AND_MODEL_SECONDS = 600;

/** The query of `GET /metrics/history` for a request: the same view as the page's subscription. */
export function historyQuery(request: HistoryRequest): string {
  const q = new URLSearchParams();
  // To the millisecond: a run's span ends where it stopped, not at the next whole second (the next run's traffic).
  q.set('since', String(Math.round(request.since * 1000) / 1000));
  q.set('until', String(Math.round(request.until * 1000) / 1000));
  if (request.step !== undefined) q.set('step', String(request.step));
  for (const [name, value] of viewParams(request.filters)) q.set(name, value);
  return q.toString();
}

/** The page's view as history's parameters: its filters and the metric types charted. */
function viewParams({ endpoint, model, node, types }: HistoryRequest['filters']): URLSearchParams {
  const q = new URLSearchParams();
  if (endpoint) q.set('endpoint', endpoint);
  if (model) q.set('model', model);
  if (node) q.set('node', node);
  // The charts draw no node table: asked without it, a model-filtered view reads the coarse tiers'
  // rollups (docs/HISTORY.md "Rollups") instead of being refused past the tick tier.
  const charted = types.filter((t) => t !== 'nodes');
  const asked = charted.length > 0 ? charted : types;
  if (asked.length < METRIC_TYPES.length) q.set('metric_type', asked.join(','));
  return q;
}

/**
 * The view's figures over the span, oldest first; null when the gateway did
 * not answer. A step history refuses (its tiers do not divide it: a 400) is
 * asked again without one, and history picks; a view by node and model
 * refused as older than history keeps it is asked for what it keeps.
 */
export async function fetchHistory(streamUrl: string, request: HistoryRequest, token?: string): Promise<HistoryAnswer | null> {
  const url = (r: HistoryRequest) => `${restUrl(streamUrl, 'history')}?${historyQuery(r)}`;
  let reply = await getReply(url(request), token);
  const refused = (param: string) => reply?.status === 400 && String(reply.body?.error ?? '').startsWith(`${param}:`);
  if (refused('step') && request.step !== undefined) {
    const { step: _refused, ...auto } = request;
    reply = await getReply(url(auto), token);
  }
  // A view by node and model further back than history keeps it: what it keeps, said so.
  const { node, model } = request.filters;
  const kept = request.until - NODE_AND_MODEL_SECONDS;
  if (refused('since') && node && model && request.since < kept) {
    reply = await getReply(url({ filters: request.filters, since: kept, until: request.until }), token);
    if (reply?.status === 200 && reply.body !== null) return { ...historyAnswer(reply.body), narrowedSince: kept };
  }
  if (reply?.status !== 200 || reply.body === null) return null;
  return historyAnswer(reply.body);
}

/** A run's figures over its whole span (`GET /v1/runs/{id}/summary`): one view, from merged histograms. */
export interface RunSummary {
  /** The span summed, epoch seconds (the run's, rounded to history's buckets). */
  since: number;
  until: number;
  data: ViewData;
}

/** The page's view over a whole run; null when the gateway did not answer or history holds nothing of the run. */
export async function fetchRunSummary(streamUrl: string, runId: string, filters: HistoryRequest['filters'], token?: string): Promise<RunSummary | null> {
  const query = viewParams(filters).toString();
  const reply = await request(streamUrl, `/v1/runs/${encodeURIComponent(runId)}/summary${query ? `?${query}` : ''}`, token);
  const body = reply?.status === 200 ? reply.body : null;
  if (!body || typeof body.since !== 'number' || typeof body.until !== 'number' || typeof body.data !== 'object' || body.data === null) return null;
  return { since: body.since, until: body.until, data: body.data as ViewData };
}

/** A history reply's points, oldest first; points that are not objects with a numeric timestamp are left out. */
export function historyAnswer(body: Record<string, unknown>): HistoryAnswer {
  const points = Array.isArray(body.points) ? (body.points as unknown[]) : [];
  return {
    step: typeof body.step === 'number' ? body.step : null,
    points: points
      .filter(
        (p): p is HistoryPoint =>
          typeof p === 'object' && p !== null && typeof (p as HistoryPoint).timestamp === 'number' && typeof (p as HistoryPoint).data === 'object' && (p as HistoryPoint).data !== null,
      )
      .sort((a, b) => a.timestamp - b.timestamp),
  };
}

/** A reply of the gateway: its status and JSON body (null when not JSON); null when it did not answer at all. */
export interface Reply {
  status: number;
  body: Record<string, unknown> | null;
}

/** One request to the gateway with `token` (a read or write token) in a header; never throws. */
export async function request(streamUrl: string, path: string, token?: string, init: { method?: 'GET' | 'POST'; body?: unknown } = {}): Promise<Reply | null> {
  const headers: Record<string, string> = token ? { authorization: `Bearer ${token}` } : {};
  if (init.body !== undefined) headers['content-type'] = 'application/json';
  try {
    const res = await fetch(gatewayUrl(streamUrl, path), {
      method: init.method ?? 'GET',
      cache: 'no-store',
      headers,
      ...(init.body !== undefined && { body: JSON.stringify(init.body) }),
    });
    const body: unknown = await res.json().catch(() => null);
    return { status: res.status, body: typeof body === 'object' && body !== null ? (body as Record<string, unknown>) : null };
  } catch {
    return null;
  }
}

async function getReply(url: string, token?: string): Promise<Reply | null> {
  try {
    const res = await fetch(url, { cache: 'no-store', headers: token ? { authorization: `Bearer ${token}` } : {} });
    const body: unknown = await res.json().catch(() => null);
    return { status: res.status, body: typeof body === 'object' && body !== null ? (body as Record<string, unknown>) : null };
  } catch {
    return null;
  }
}

async function getJson(url: string, token?: string): Promise<Record<string, unknown> | null> {
  try {
    const res = await fetch(url, { cache: 'no-store', headers: token ? { authorization: `Bearer ${token}` } : {} });
    if (!res.ok) return null;
    const body: unknown = await res.json();
    return typeof body === 'object' && body !== null ? (body as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}

function strings(v: unknown): string[] {
  return Array.isArray(v) ? v.filter((s): s is string => typeof s === 'string') : [];
}
