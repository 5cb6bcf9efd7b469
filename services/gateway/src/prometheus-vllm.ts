/**
 * The vLLM-compatible view (PULSE_PROMETHEUS_COMPAT=vllm, docs/MONITORING.md
 * "vLLM-compatible view"), at `GET /vllm/metrics` and after the `pulse_*`
 * families of `GET /metrics/prometheus`: the same cumulative figures as
 * the `pulse_*` families, re-exposed under the names, types and `model_name`
 * label vLLM's own `/metrics` uses, so a Grafana dashboard or AIPerf's
 * server-metrics collection written for vLLM reads a FakeAI cluster unchanged.
 *
 * vLLM labels a series by served model (and engine); Pulse's are by endpoint
 * and model, so each model's endpoints are summed into one series, as its
 * nodes already are. Only figures Pulse has are served: a vLLM family with
 * no honest source (KV-cache usage, queue time, preemptions…) is left out
 * rather than written as a made-up 0 — docs/MONITORING.md lists them.
 * Where a name is served from a figure of different semantics, its HELP
 * says so, and so does the table in the docs.
 *
 * Bucket bounds stay Pulse's (the OpenTelemetry GenAI ones): they are where
 * each request was counted, exactly; re-binning into vLLM's bounds could only
 * guess. histogram_quantile and AIPerf's estimates work on any bounds.
 */
import { counterOf, exportSeries, type ExportSeries } from '@pulse/metrics';
import type { PrometheusCompat } from './config.js';
import { counter, cumulative, escapeLabelValue, Exposition, gauge, histogram, pulseExposition, type ExpositionSnapshot, type Family, type PrometheusRenderer } from './prometheus-export.js';

/** Pulse has one inter-token sample per stream: its mean gap, not one per token as vLLM observes. */
const ITL_HELP = 'Mean inter-token time of each stream, (latency - TTFT) / (completion tokens - 1), one sample per request (Pulse: itl), seconds.';

const FAMILIES: readonly Family[] = [
  gauge('vllm:num_requests_running', 'Requests started and not ended (Pulse: requests in flight; queued and running are not told apart).', (s) => Math.max(0, s.queueDepth)),
  cumulative('vllm:prompt_tokens_total', 'Prompt tokens of ended requests, counted at the end (Pulse: prompt tokens).', 'promptTokens'),
  cumulative('vllm:generation_tokens_total', 'Completion tokens of ended requests, counted at the end (Pulse: completion tokens).', 'completionTokens'),
  {
    name: 'vllm:request_success_total',
    type: 'counter',
    help: 'Ended requests: finished_reason="error" for error ends, "stop" for every other end (Pulse events carry no finish reason, so length and abort count as stop).',
    reads: 'cumulative',
    text: (s, labels) => {
      const errors = counterOf(s, 'errors');
      return `vllm:request_success_total{${labels},finished_reason="stop"} ${counterOf(s, 'responses') - errors}\nvllm:request_success_total{${labels},finished_reason="error"} ${errors}\n`;
    },
  },
  counter('vllm:prefix_cache_queries_total', 'KV-cache lookups, one per request that reported one (Pulse: cache lookups; vLLM counts queried tokens).', (s) => s.lookups),
  counter('vllm:prefix_cache_hits_total', 'KV-cache lookups that hit (Pulse: cache hits; vLLM counts cached tokens).', (s) => s.hits),
  histogram('vllm:e2e_request_latency_seconds', 'Request start to last byte of every end (Pulse: latency_ms), seconds.', 'latency'),
  histogram('vllm:time_to_first_token_seconds', 'Time to first token of streams (Pulse: ttft_ms), seconds.', 'ttft'),
  histogram('vllm:inter_token_latency_seconds', ITL_HELP, 'itl'),
  histogram('vllm:request_time_per_output_token_seconds', ITL_HELP, 'itl'),
  // The name vLLM used for inter-token latency before 0.11; older dashboards still chart it.
  histogram('vllm:time_per_output_token_seconds', ITL_HELP, 'itl'),
  histogram('vllm:request_prompt_tokens', 'Prompt tokens per ended request that reported them (Pulse: prompt_tokens).', 'inputTokens'),
  histogram('vllm:request_generation_tokens', 'Completion tokens per ended request that reported them (Pulse: completion_tokens).', 'outputTokens'),
];

const vllmLabels = (s: ExportSeries) => `model_name="${escapeLabelValue(s.model)}"`;
const vllmSeries = (snapshot: ExpositionSnapshot) => byModel(exportSeries(snapshot));

/** The vLLM families of `snapshot`, rendered from scratch: one series per model (every endpoint and node summed), each family declared even with none. */
export function vllmText(snapshot: ExpositionSnapshot | null): string {
  return vllmExposition().render(snapshot);
}

/** The vLLM families of each snapshot, reusing the lines of the models whose figures did not move. */
export function vllmExposition(): Exposition {
  return new Exposition(FAMILIES, vllmLabels, vllmSeries);
}

/**
 * The renderers of a gateway's two Prometheus routes for PULSE_PROMETHEUS_COMPAT:
 * `GET /metrics/prometheus` serves the `pulse_*` families always, the vLLM
 * ones after them when asked; `GET /vllm/metrics` (null while the view is
 * off) the vLLM families alone, at a path ending in `/metrics` as scrapers
 * such as AIPerf require. Both routes share one rendering of the vLLM text
 * per snapshot.
 */
export function prometheusRenderers(compat: PrometheusCompat | undefined): { prometheus: PrometheusRenderer; vllm: PrometheusRenderer | null } {
  const pulse = pulseExposition();
  if (compat !== 'vllm') return { prometheus: (snapshot) => pulse.bytes(snapshot), vllm: null };
  const vllm = oncePerSnapshot(vllmExposition());
  return { prometheus: (snapshot) => Buffer.concat([pulse.bytes(snapshot), vllm(snapshot)]), vllm };
}

/** `exposition`'s bytes, rendered once for a given snapshot object. */
function oncePerSnapshot(exposition: Exposition): PrometheusRenderer {
  let last: ExpositionSnapshot | null | undefined;
  let bytes: Buffer = Buffer.alloc(0);
  return (snapshot) => {
    if (snapshot !== last || snapshot === null) {
      bytes = exposition.bytes(snapshot);
      last = snapshot;
    }
    return bytes;
  };
}

/** Sums the series of each model over its endpoints, in model order. */
function byModel(series: readonly ExportSeries[]): ExportSeries[] {
  const models = new Map<string, ExportSeries>();
  for (const s of series) {
    const sum = models.get(s.model);
    if (sum) addInto(sum, s);
    else models.set(s.model, { ...s, endpoint: '', cumulative: [...s.cumulative], sloGood: [...s.sloGood] });
  }
  return [...models.values()].sort((a, b) => (a.model < b.model ? -1 : a.model > b.model ? 1 : 0));
}

function addInto(sum: ExportSeries, s: ExportSeries): void {
  for (let i = 0; i < sum.cumulative.length; i++) sum.cumulative[i]! += s.cumulative[i]!;
  sum.lookups += s.lookups;
  sum.hits += s.hits;
  sum.queueDepth += s.queueDepth;
  sum.activeStreams += s.activeStreams;
  sum.windowResponses += s.windowResponses;
  for (let i = 0; i < sum.sloGood.length; i++) sum.sloGood[i]! += s.sloGood[i]!;
}
