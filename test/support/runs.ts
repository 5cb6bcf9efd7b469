/**
 * Figures for run tests: history points made from real views (buildView of a
 * MetricsWindow's snapshots, as gateways build them), and the PULSE_SLOS
 * they count.
 */
import { buildView, MetricsWindow } from '@pulse/metrics';
import { parseSlos, type PulseEvent, type SnapshotData } from '@pulse/protocol';

/** The SLOs of the points: PULSE_SLOS. */
export const RUN_SLOS_VAR = 'interactive:ttft_ms<=300,itl_ms<=50;batch:latency_ms<=1000';

/** A history point (@pulse/history's HistoryPoint) with every metric type. */
export interface FullPoint {
  timestamp: number;
  data: SnapshotData;
}

const SLOS = parseSlos(RUN_SLOS_VAR);

/**
 * `n` points a second apart from one window fed real events: streaming chat
 * requests (latency, TTFT, ITL), an embedding with a cache hit, an error now
 * and then — every figure of the CSV has something.
 */
export function realPoints(n: number, startSeconds = 1_765_000_000): FullPoint[] {
  const bucketMs = 100;
  const window = new MetricsWindow({ windowMs: 10_000, bucketMs, createdAtMs: startSeconds * 1000 - 60_000, maxEndpoints: 100, maxModels: 100, slos: SLOS });
  const points: FullPoint[] = [];
  for (let i = 0; i < n; i++) {
    const nowMs = (startSeconds + i) * 1000;
    const ts = nowMs / 1000 - 0.5;
    const events: PulseEvent[] = [];
    for (let k = 0; k < 3 + i; k++) {
      const id = `r${i}-${k}`;
      const base = { ts, node: k % 2 ? 'n1' : 'n2', request_id: id, endpoint: '/v1/chat/completions', model: k % 3 ? 'gpt-4' : 'llama', stream: true } as const;
      events.push({ type: 'request.start', ...base });
      const failed = (i + k) % 5 === 0;
      events.push({ type: 'request.end', ...base, status: failed ? 500 : 200, latency_ms: 300 + 97 * k + 13 * i, ttft_ms: 50 + 31 * k, completion_tokens: 10 + k, ...(failed && { error: 'upstream' }) });
    }
    const e = { ts, node: 'n1', request_id: `e${i}`, endpoint: '/v1/embeddings', model: 'ada', stream: false } as const;
    events.push({ type: 'request.start', ...e }, { type: 'request.end', ...e, status: 200, latency_ms: 20 + i, prompt_tokens: 100, cache: { hit: i % 2 === 0, cached_tokens: 40, prefix_length: 30 } });
    for (const ev of events) window.apply(ev, nowMs - 500, true);
    window.advance(nowMs);
    const snapshot = window.snapshot(nowMs, 1, i + 1, 0);
    points.push({ timestamp: nowMs / 1000, data: JSON.parse(JSON.stringify(buildView(snapshot).data)) as SnapshotData });
  }
  return points;
}
