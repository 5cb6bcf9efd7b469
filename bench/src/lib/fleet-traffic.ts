/**
 * The fleet benches' traffic (fleet, exponential-ack, partitions): one
 * FakeAI-like request at a time.
 */
import type { PulseEvent } from '@pulse/protocol';

/** The labels and time of one request. */
export interface RequestLabels {
  ts: number;
  node: string;
  request_id: string;
  endpoint: string;
  model: string;
}

/**
 * One request of the fleet benches' traffic: a log-normal latency around
 * 250 ms, 60 % streams, 2 % errors (some with a type), half with a cache
 * lookup. Its start, and its end `latency` ms later. `labels` draws the
 * request's own labels and time (after the stream flag and latency, so each
 * bench's sequence of draws stays as it was).
 */
export function fleetRequest(r: () => number, labels: () => RequestLabels): { start: PulseEvent; end: PulseEvent; latency: number } {
  const stream = r() < 0.6;
  const latency = Math.exp(5.5 + 0.7 * (r() + r() + r() - 1.5));
  const common = labels();
  const end: PulseEvent = {
    type: 'request.end',
    ...common,
    ts: common.ts + latency / 1000,
    status: r() < 0.02 ? 500 : 200,
    ...(r() < 0.02 && { error: r() < 0.5 ? 'timeout' : 'overloaded' }),
    latency_ms: latency,
    ...(stream && { ttft_ms: latency * (0.05 + 0.2 * r()) }),
    prompt_tokens: 200,
    completion_tokens: Math.round(20 + 400 * r()),
    ...(r() < 0.5 && { cache: { hit: r() < 0.5, cached_tokens: 64, prefix_length: 64 } }),
  };
  return { start: { type: 'request.start', ...common, stream }, end, latency };
}
