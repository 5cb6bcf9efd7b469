/**
 * Builds the public figures (docs/PROTOCOL.md §4) of one filtered view from an
 * internal snapshot, by summing the selected cells' counters and merging their
 * histograms. Pure; a gateway calls it once per distinct view per snapshot.
 */
import {
  CELL_NUMBERS,
  compileAdd,
  compileZero,
  type CacheFigures,
  type CellData,
  type CellNumber,
  type Counts,
  type DistributionData,
  type InternalSnapshot,
  type SnapshotData,
  type Stats,
} from '@pulse/protocol';
import { LogHistogram } from './log-histogram.js';

/** Which cells a view keeps. Empty sets keep everything. */
export interface CellFilter {
  readonly endpoints: ReadonlySet<string>;
  readonly models: ReadonlySet<string>;
}

export const ALL_CELLS: CellFilter = { endpoints: new Set(), models: new Set() };

/** The figures a client's deltas are computed from (docs/PROTOCOL.md §5). */
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

/** What a view sums per endpoint: every number of the cells (cell-fields.ts), and their latencies. */
interface EndpointSums {
  readonly n: Counts<CellNumber>;
  readonly latency: DistributionData[];
}

const zeroNumbers = compileZero(CELL_NUMBERS);
const addNumbers = compileAdd(CELL_NUMBERS);

function cacheFigures(n: Counts<CellNumber>): CacheFigures {
  return {
    hit_rate: n.lookups > 0 ? (100 * n.hits) / n.lookups : 0,
    token_reuse_rate: n.lookupPromptTokens > 0 ? (100 * n.cachedTokens) / n.lookupPromptTokens : 0,
    avg_prefix_length: n.hits > 0 ? n.prefixSum / n.hits : 0,
    total_lookups: n.totalLookups,
    cache_hits: n.totalHits,
  };
}

function selects(filter: CellFilter, cell: CellData): boolean {
  return (filter.endpoints.size === 0 || filter.endpoints.has(cell.endpoint)) && (filter.models.size === 0 || filter.models.has(cell.model));
}

/** True when a cell (or an endpoint's sum) has anything in the window (else its endpoint stays out of the maps). */
function inWindow(c: Pick<CellData, 'requests' | 'responses'>): boolean {
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
  for (const c of snapshot?.cells ?? []) {
    if (!selects(filter, c)) continue;
    ttft.push(c.ttft);
    tps.push(c.tokensPerSecond);
    let e = perEndpoint.get(c.endpoint);
    if (!e) {
      e = { n: zeroNumbers(), latency: [] };
      perEndpoint.set(c.endpoint, e);
    }
    addNumbers(e.n, c);
    if (inWindow(c)) e.latency.push(c.latency);
  }

  const seconds = snapshot?.coveredSeconds ?? 1;
  const rate = (n: number) => n / seconds;
  const total = zeroNumbers();
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
    cache: { ...cacheFigures(total), by_endpoint: byEndpoint() },
    queue: { queue_depth: 0, active_streams: 0 },
    streaming: { active_streams: 0, completed_streams: 0, failed_streams: 0 },
    error: { errors_per_sec: byEndpoint(), total_errors_per_sec: 0 },
  };
  for (const endpoint of [...perEndpoint.keys()].sort()) {
    const { n, latency } = perEndpoint.get(endpoint)!;
    addNumbers(total, n);
    if (!inWindow(n)) continue;
    data.throughput.requests_per_sec[endpoint] = rate(n.requests);
    data.throughput.responses_per_sec[endpoint] = rate(n.responses);
    data.throughput.tokens_per_sec[endpoint] = rate(n.completionTokens);
    data.error.errors_per_sec[endpoint] = rate(n.errors);
    const stats = statsOf(latency);
    if (stats) data.latency[endpoint] = stats;
    if (n.lookups > 0) data.cache.by_endpoint[endpoint] = cacheFigures(n);
  }

  // Node gauges carry no endpoint or model: they correct unfiltered views only.
  let { queueDepth, activeStreams } = total;
  if (snapshot && filter.endpoints.size === 0 && filter.models.size === 0) {
    queueDepth = Math.max(0, queueDepth + snapshot.queueAdjust);
    activeStreams = Math.max(0, activeStreams + snapshot.activeAdjust);
  }
  data.throughput.total_requests_per_sec = rate(total.requests);
  data.throughput.total_responses_per_sec = rate(total.responses);
  data.throughput.total_tokens_per_sec = rate(total.completionTokens);
  data.error.total_errors_per_sec = rate(total.errors);
  Object.assign(data.cache, cacheFigures(total));
  data.queue = { queue_depth: queueDepth, active_streams: activeStreams };
  data.streaming = { active_streams: activeStreams, completed_streams: total.completedStreams, failed_streams: total.failedStreams };
  const ttftStats = statsOf(ttft);
  if (ttftStats) data.streaming.ttft = ttftStats;
  const tpsStats = statsOf(tps);
  if (tpsStats) data.streaming.tokens_per_second = tpsStats;

  return {
    data,
    base: { totalRequestsPerSec: data.throughput.total_requests_per_sec, totalTokensPerSec: data.throughput.total_tokens_per_sec, activeStreams },
  };
}
