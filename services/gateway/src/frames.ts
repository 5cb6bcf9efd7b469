/**
 * Server messages as text. Data messages are assembled from JSON pieces that
 * fan-out renders once per view (see RenderedView), so a frame shared by a
 * thousand clients is stringified once; replies to one client are small and
 * go through JSON.stringify.
 */
import { describeFilter, METRIC_TYPES, type ErrorCode, type Filter, type ServerMessage } from '@pulse/protocol';
import type { DeltaBase, View } from '@pulse/metrics';
import { partJson, type FragmentMemo } from './fragments.js';
import { STREAMING_BIT, THROUGHPUT_BIT, typeBit } from './metric-types.js';
import { textFrame } from './ws-frame.js';

const LATENCY_BIT = typeBit('latency');
const LATENCY_INDEX = METRIC_TYPES.indexOf('latency');

/**
 * One view's data, each metric type stringified at most once, on first use.
 * `fragments`, one per snapshot (SnapshotState's), holds the JSON of what
 * this snapshot's views share (fragments.ts): the unfiltered view `records`
 * into it, and fan-out gives each filtered view the unfiltered one's to read.
 */
export class RenderedView {
  private readonly parts: (string | undefined)[] = [];

  constructor(
    readonly view: View,
    readonly fragments: FragmentMemo | null = null,
    private readonly records = false,
  ) {}

  /** Records what this view shares into its fragments (the unfiltered view's latency), before filtered views read them. */
  share(): void {
    if (this.records && this.parts[LATENCY_INDEX] === undefined) this.dataJson(LATENCY_BIT);
  }

  /** The `data` object holding the metric types of `mask`, in METRIC_TYPES order. */
  dataJson(mask: number): string {
    let out = '';
    for (let i = 0; i < METRIC_TYPES.length; i++) {
      if ((mask & (1 << i)) === 0) continue;
      const type = METRIC_TYPES[i]!;
      const json = (this.parts[i] ??= partJson(type, this.view.part(type), this.fragments, this.records));
      out += `${out === '' ? '{' : ','}"${type}":${json}`;
    }
    return out === '' ? '{}' : `${out}}`;
  }
}

/** Deltas of docs/PROTOCOL.md §5: each only when its metric type is in `mask`. */
export function deltasJson(mask: number, now: DeltaBase, prev: DeltaBase): string {
  const parts: string[] = [];
  if (mask & THROUGHPUT_BIT) {
    parts.push(
      `"throughput":{"total_requests_per_sec":${num(now.totalRequestsPerSec - prev.totalRequestsPerSec)},` +
        `"total_tokens_per_sec":${num(now.totalTokensPerSec - prev.totalTokensPerSec)}}`,
    );
  }
  if (mask & STREAMING_BIT) parts.push(`"streaming":{"active_streams_delta":${num(now.activeStreams - prev.activeStreams)}}`);
  return `{${parts.join(',')}}`;
}

/** JSON has no NaN or Infinity; a figure that is one is reported as 0 rather than breaking the frame. */
function num(n: number): string {
  return Number.isFinite(n) ? String(n) : '0';
}

/**
 * The `stale_partitions` member of data messages and the REST snapshot
 * (docs/PROTOCOL.md §5.4): `,"stale_partitions":[…]` when partitions of a
 * partitioned deployment are behind, else nothing — so every message is
 * byte for byte what it was without partitions.
 */
export function staleJson(stale: readonly number[] | undefined): string {
  return stale && stale.length > 0 ? `,"stale_partitions":[${stale.join(',')}]` : '';
}

/** A `metrics_update` as a whole WebSocket frame: fan-out writes the same one to each client it goes to. */
export function updateFrame(timestamp: number, dataJson: string, deltas: string, stale = ''): Buffer {
  return textFrame(`{"type":"metrics_update","timestamp":${num(timestamp)},"data":${dataJson},"deltas":${deltas}${stale}}`);
}

export function historicalFrame(timestamp: number, dataJson: string, stale = ''): Buffer {
  return Buffer.from(`{"type":"historical_data","timestamp":${num(timestamp)},"data":${dataJson}${stale}}`);
}

/** Body of `GET /metrics/snapshot`. */
export function snapshotBody(timestamp: number, dataJson: string, stale = ''): string {
  return `{"timestamp":${num(timestamp)},"data":${dataJson}${stale}}`;
}

function reply(message: ServerMessage): string {
  return JSON.stringify(message);
}

export const subscribedReply = (timestamp: number, filter: Filter) =>
  reply({ type: 'subscribed', timestamp, filters: describeFilter(filter) });
export const unsubscribedReply = (timestamp: number) => reply({ type: 'unsubscribed', timestamp });
export const pongReply = (timestamp: number) => reply({ type: 'pong', timestamp });
export const errorReply = (timestamp: number, message: string, code?: ErrorCode) =>
  reply({ type: 'error', timestamp, message, ...(code ? { code } : {}) });
