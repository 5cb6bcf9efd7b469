/**
 * The dashboard's filter controls as a value: one endpoint, one model, one
 * node (or all of each), a set of metric types, an interval. Maps onto a
 * subscribe (docs/PROTOCOL.md §5) and onto the page's query string, so a
 * filtered view can be bookmarked.
 */
import type { MetricType, SubscribeFilters } from '@pulse/client';
import { METRIC_TYPES, isMetricType } from '@pulse/protocol/snapshot-data';

export interface FilterState {
  /** Empty: all endpoints. */
  endpoint: string;
  /** Empty: all models. */
  model: string;
  /** Empty: all nodes. */
  node: string;
  /** Every type, or the ones picked. */
  types: readonly MetricType[];
  /** Seconds. */
  interval: number;
}

export const INTERVALS = [0.5, 1, 2, 5, 10] as const;
export const DEFAULT_FILTERS: FilterState = { endpoint: '', model: '', node: '', types: METRIC_TYPES, interval: 1 };

/**
 * The subscribe that gives a connection at the defaults exactly `state`;
 * null when `state` is the defaults (an unsubscribe is enough).
 */
export function toSubscribe(state: FilterState): SubscribeFilters | null {
  const filters: SubscribeFilters = {};
  if (state.endpoint) filters.endpoint = state.endpoint;
  if (state.model) filters.model = state.model;
  if (state.node) filters.node = state.node;
  if (state.types.length < METRIC_TYPES.length) filters.metric_types = state.types;
  if (state.interval !== DEFAULT_FILTERS.interval) filters.interval = state.interval;
  return Object.keys(filters).length > 0 ? filters : null;
}

export function toQuery(state: FilterState): string {
  const q = new URLSearchParams();
  if (state.endpoint) q.set('endpoint', state.endpoint);
  if (state.model) q.set('model', state.model);
  if (state.node) q.set('node', state.node);
  if (state.types.length < METRIC_TYPES.length) q.set('types', state.types.join(','));
  if (state.interval !== DEFAULT_FILTERS.interval) q.set('interval', String(state.interval));
  return q.toString();
}

/**
 * Parameters of the page that are not filters: the gateway (`ws`), the read
 * token (so a reload still authenticates), the SLO targets and the charts'
 * time range (time-range.ts). A filter change rewrites the address, and keeps
 * these as they were.
 */
export const PAGE_PARAMS = ['ws', 'token', 'slo_target', 'range', 'from', 'to'] as const;

/** The address's query for `state`, with the page parameters of `search` (the current one); '' when empty. */
export function addressQuery(state: FilterState, search: string): string {
  const current = new URLSearchParams(search);
  const q = new URLSearchParams(toQuery(state));
  for (const name of PAGE_PARAMS) {
    const value = current.get(name);
    if (value) q.set(name, value);
  }
  const text = q.toString();
  return text ? `?${text}` : '';
}

/** Reads a query string back; anything unknown or invalid falls back to the default. */
export function fromQuery(query: string): FilterState {
  const q = new URLSearchParams(query);
  const types = (q.get('types') ?? '').split(',').filter(isMetricType);
  const interval = Number(q.get('interval'));
  return {
    endpoint: q.get('endpoint') ?? '',
    model: q.get('model') ?? '',
    node: q.get('node') ?? '',
    types: types.length > 0 ? METRIC_TYPES.filter((t) => types.includes(t)) : DEFAULT_FILTERS.types,
    interval: (INTERVALS as readonly number[]).includes(interval) ? interval : DEFAULT_FILTERS.interval,
  };
}
