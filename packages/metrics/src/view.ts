/**
 * Builds the public figures (CONTRACT §4) of one filtered view from an
 * internal snapshot, by summing the selected cells' counters and merging their
 * histograms. Pure; a gateway calls it once per distinct view per snapshot.
 */
import type {
  CacheFigures,
  CellData,
  DistributionData,
  InternalSnapshot,
  SnapshotData,
  Stats,
} from '@pulse/protocol';
import { LogHistogram } from './log-histogram.js';

/** Which cells a view keeps. Empty sets keep everything. */
export interface CellFilter {
  readonly endpoints: ReadonlySet<string>;
  readonly models: ReadonlySet<string>;
}

export const ALL_CELLS: CellFilter = { endpoints: new Set(), models: new Set() };

/** The figures a client's deltas are computed from (CONTRACT §5). */
export interface DeltaBase {
  totalRequestsPerSec: number;
  totalTokensPerSec: number;
  activeStreams: number;
}

export interface View {
  data: SnapshotData;
  base: DeltaBase;
}

/** Accumulates distributions; one instance is reused across views to avoid allocation. */
class DistributionAccumulator {
  readonly histogram = new LogHistogram();
  count = 0;
  sum = 0;
  min = Infinity;
  max = -Infinity;

  add(d: DistributionData): void {
    if (d.count === 0) return;
    this.histogram.merge(d);
    this.count += d.count;
    this.sum += d.sum;
    if (d.min < this.min) this.min = d.min;
    if (d.max > this.max) this.max = d.max;
  }

  stats(): Stats {
    const { min, max } = this;
    const h = this.histogram;
    return { avg: this.sum / this.count, min, max, p50: h.quantile(0.5, min, max), p90: h.quantile(0.9, min, max), p99: h.quantile(0.99, min, max) };
  }

  reset(): void {
    this.histogram.reset();
    this.count = 0;
    this.sum = 0;
    this.min = Infinity;
    this.max = -Infinity;
  }
}

const scratch = new DistributionAccumulator();

function statsOf(parts: readonly DistributionData[]): Stats | undefined {
  scratch.reset();
  for (const d of parts) scratch.add(d);
  return scratch.count === 0 ? undefined : scratch.stats();
}

interface EndpointSums {
  requests: number;
  responses: number;
  tokens: number;
  errors: number;
  lookups: number;
  hits: number;
  cachedTokens: number;
  lookupPromptTokens: number;
  prefixSum: number;
  totalLookups: number;
  totalHits: number;
  latency: DistributionData[];
}

function cacheFigures(s: Pick<EndpointSums, 'lookups' | 'hits' | 'cachedTokens' | 'lookupPromptTokens' | 'prefixSum' | 'totalLookups' | 'totalHits'>): CacheFigures {
  return {
    hit_rate: s.lookups > 0 ? (100 * s.hits) / s.lookups : 0,
    token_reuse_rate: s.lookupPromptTokens > 0 ? (100 * s.cachedTokens) / s.lookupPromptTokens : 0,
    avg_prefix_length: s.hits > 0 ? s.prefixSum / s.hits : 0,
    total_lookups: s.totalLookups,
    cache_hits: s.totalHits,
  };
}

function selects(filter: CellFilter, cell: CellData): boolean {
  return (filter.endpoints.size === 0 || filter.endpoints.has(cell.endpoint)) && (filter.models.size === 0 || filter.models.has(cell.model));
}

/** True when the cell has anything in the window (else its endpoint stays out of the maps). */
function inWindow(c: CellData): boolean {
  return c.requests > 0 || c.responses > 0;
}

/**
 * A map keyed by endpoint. Endpoints are names producers chose: on a plain
 * `{}`, `map['__proto__'] = stats` would replace the map's prototype (and the
 * endpoint vanish from the JSON), and a read of `map['constructor']` would
 * find Object. Without a prototype every name is just a key, and
 * JSON.stringify gives the same text.
 */
function byEndpoint<T>(): Record<string, T> {
  return Object.create(null) as Record<string, T>;
}

export function buildView(snapshot: InternalSnapshot | null, filter: CellFilter = ALL_CELLS): View {
  const perEndpoint = new Map<string, EndpointSums>();
  const ttft: DistributionData[] = [];
  const tps: DistributionData[] = [];
  let queueDepth = 0;
  let activeStreams = 0;
  let completedStreams = 0;
  let failedStreams = 0;
  let totalLookups = 0;
  let totalHits = 0;

  for (const c of snapshot?.cells ?? []) {
    if (!selects(filter, c)) continue;
    queueDepth += c.queueDepth;
    activeStreams += c.activeStreams;
    completedStreams += c.completedStreams;
    failedStreams += c.failedStreams;
    totalLookups += c.totalLookups;
    totalHits += c.totalHits;
    ttft.push(c.ttft);
    tps.push(c.tokensPerSecond);
    let e = perEndpoint.get(c.endpoint);
    if (!e) {
      e = { requests: 0, responses: 0, tokens: 0, errors: 0, lookups: 0, hits: 0, cachedTokens: 0, lookupPromptTokens: 0, prefixSum: 0, totalLookups: 0, totalHits: 0, latency: [] };
      perEndpoint.set(c.endpoint, e);
    }
    e.requests += c.requests;
    e.responses += c.responses;
    e.tokens += c.completionTokens;
    e.errors += c.errors;
    e.lookups += c.lookups;
    e.hits += c.hits;
    e.cachedTokens += c.cachedTokens;
    e.lookupPromptTokens += c.lookupPromptTokens;
    e.prefixSum += c.prefixSum;
    e.totalLookups += c.totalLookups;
    e.totalHits += c.totalHits;
    if (inWindow(c)) e.latency.push(c.latency);
  }

  // Node gauges carry no endpoint or model: they correct unfiltered views only.
  if (snapshot && filter.endpoints.size === 0 && filter.models.size === 0) {
    queueDepth = Math.max(0, queueDepth + snapshot.queueAdjust);
    activeStreams = Math.max(0, activeStreams + snapshot.activeAdjust);
  }

  const seconds = snapshot?.coveredSeconds ?? 1;
  const rate = (n: number) => n / seconds;
  const data: SnapshotData = {
    throughput: {
      requests_per_sec: byEndpoint(),
      responses_per_sec: byEndpoint(),
      tokens_per_sec: byEndpoint(),
      total_requests_per_sec: 0,
      total_responses_per_sec: 0,
      total_tokens_per_sec: 0,
    },
    latency: byEndpoint(),
    cache: { ...cacheFigures({ lookups: 0, hits: 0, cachedTokens: 0, lookupPromptTokens: 0, prefixSum: 0, totalLookups, totalHits }), by_endpoint: byEndpoint() },
    queue: { queue_depth: queueDepth, active_streams: activeStreams },
    streaming: { active_streams: activeStreams, completed_streams: completedStreams, failed_streams: failedStreams },
    error: { errors_per_sec: byEndpoint(), total_errors_per_sec: 0 },
  };
  const all = { lookups: 0, hits: 0, cachedTokens: 0, lookupPromptTokens: 0, prefixSum: 0, totalLookups, totalHits };
  let requests = 0;
  let responses = 0;
  let tokens = 0;
  let errors = 0;

  for (const endpoint of [...perEndpoint.keys()].sort()) {
    const e = perEndpoint.get(endpoint)!;
    requests += e.requests;
    responses += e.responses;
    tokens += e.tokens;
    errors += e.errors;
    all.lookups += e.lookups;
    all.hits += e.hits;
    all.cachedTokens += e.cachedTokens;
    all.lookupPromptTokens += e.lookupPromptTokens;
    all.prefixSum += e.prefixSum;
    if (e.requests === 0 && e.responses === 0) continue;
    data.throughput.requests_per_sec[endpoint] = rate(e.requests);
    data.throughput.responses_per_sec[endpoint] = rate(e.responses);
    data.throughput.tokens_per_sec[endpoint] = rate(e.tokens);
    data.error.errors_per_sec[endpoint] = rate(e.errors);
    const latency = statsOf(e.latency);
    if (latency) data.latency[endpoint] = latency;
    if (e.lookups > 0) data.cache.by_endpoint[endpoint] = cacheFigures(e);
  }

  data.throughput.total_requests_per_sec = rate(requests);
  data.throughput.total_responses_per_sec = rate(responses);
  data.throughput.total_tokens_per_sec = rate(tokens);
  data.error.total_errors_per_sec = rate(errors);
  Object.assign(data.cache, cacheFigures(all));
  const ttftStats = statsOf(ttft);
  if (ttftStats) data.streaming.ttft = ttftStats;
  const tpsStats = statsOf(tps);
  if (tpsStats) data.streaming.tokens_per_second = tpsStats;

  return {
    data,
    base: { totalRequestsPerSec: data.throughput.total_requests_per_sec, totalTokensPerSec: data.throughput.total_tokens_per_sec, activeStreams },
  };
}
