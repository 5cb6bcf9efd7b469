/**
 * The gateway's REST routes the page reads besides its stream: `GET
 * /metrics/labels` (the endpoints, models and nodes in Pulse's window, which
 * the metric messages cannot say: they carry no model dimension, and a view
 * filtered to a node has only that node) and `GET
 * /metrics/history` (recent unfiltered figures, so the charts start full).
 * Neither ever throws: a gateway that is down, too old to have the route, or
 * that refuses the token yields nothing. The token goes in a header: fetch
 * can set one.
 */
import type { ViewData } from '@pulse/client';

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

/** Oldest first; points that are not objects with a numeric timestamp are left out. */
export async function fetchHistory(streamUrl: string, token?: string): Promise<HistoryPoint[]> {
  const body = await getJson(restUrl(streamUrl, 'history'), token);
  const points = Array.isArray(body?.points) ? (body.points as unknown[]) : [];
  return points.filter(
    (p): p is HistoryPoint =>
      typeof p === 'object' && p !== null && typeof (p as HistoryPoint).timestamp === 'number' && typeof (p as HistoryPoint).data === 'object' && (p as HistoryPoint).data !== null,
  );
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
