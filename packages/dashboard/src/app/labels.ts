/**
 * The endpoints and models Pulse has seen in its window, from the gateway's
 * `GET /metrics/labels`: what the filter pickers offer and which models get
 * a row. The metric messages cannot say it: they carry no model dimension.
 */

export interface Labels {
  endpoints: string[];
  models: string[];
}

const EMPTY: Labels = { endpoints: [], models: [] };

/** The labels URL of the gateway behind a stream URL (`ws://h/metrics/stream` → `http://h/metrics/labels`). */
export function labelsUrl(streamUrl: string): string {
  const url = new URL(streamUrl);
  url.protocol = url.protocol === 'wss:' ? 'https:' : 'http:';
  url.pathname = url.pathname.replace(/\/metrics\/stream$/, '/metrics/labels');
  url.search = '';
  return url.toString();
}

/**
 * Never throws: a gateway that is down, too old to have the route, or that
 * refuses `token` yields no labels. The token goes in a header: fetch can set one.
 */
export async function fetchLabels(url: string, token?: string): Promise<Labels> {
  try {
    const res = await fetch(url, { cache: 'no-store', headers: token ? { authorization: `Bearer ${token}` } : {} });
    if (!res.ok) return EMPTY;
    const body = (await res.json()) as Partial<Labels>;
    const strings = (v: unknown) => (Array.isArray(v) ? v.filter((s): s is string => typeof s === 'string') : []);
    return { endpoints: strings(body.endpoints), models: strings(body.models) };
  } catch {
    return EMPTY;
  }
}
