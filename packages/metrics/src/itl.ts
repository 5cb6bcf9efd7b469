import type { RequestEnd } from '@pulse/protocol';

/**
 * A stream's inter-token latency in ms, AIPerf's way: the time after the
 * first token shared by the gaps between tokens. Undefined unless the end
 * says its TTFT and at least two completion tokens.
 */
export function interTokenLatencyMs(e: RequestEnd, stream: boolean): number | undefined {
  if (!stream || e.ttft_ms === undefined || e.completion_tokens === undefined || e.completion_tokens < 2) return undefined;
  return Math.max(0, e.latency_ms - e.ttft_ms) / (e.completion_tokens - 1);
}
