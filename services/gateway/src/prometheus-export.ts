/**
 * `GET /metrics/prometheus` (CONTRACT §9, docs/MONITORING.md): the cluster's
 * figures in the Prometheus text format, one series per endpoint and model.
 * Counters and histograms are cumulative since the metrics store was created
 * (the snapshot's cumulative slots), so every gateway serves the same values
 * for the same snapshot and none decreases across a restart or failover.
 *
 * Written here rather than through prom-client: prom-client instruments a
 * process (a counter only increments, a histogram only observes), and these
 * are totals someone else counted, bucket by bucket, to be re-exposed as
 * they are. The text is built once per snapshot and shared by every scrape.
 */
import { counterOf, exportSeries, histogramOf, type ExportSeries } from '@pulse/metrics';
import type { CumulativeCounter, CumulativeHistogram, InternalSnapshot } from '@pulse/protocol';

/** A metric family: its header, and the sample lines one series adds to it. Shared with the vLLM view (prometheus-vllm.ts). */
export interface Family {
  name: string;
  type: 'counter' | 'gauge' | 'histogram';
  help: string;
  lines(series: ExportSeries, labels: string, slos: readonly string[]): string[];
}

export const counter = (name: string, help: string, value: (s: ExportSeries) => number): Family => ({
  name,
  type: 'counter',
  help,
  lines: (s, labels) => [`${name}{${labels}} ${value(s)}`],
});

export const cumulative = (name: string, help: string, of: CumulativeCounter): Family => counter(name, help, (s) => counterOf(s, of));

export const gauge = (name: string, help: string, value: (s: ExportSeries) => number): Family => ({
  name,
  type: 'gauge',
  help,
  lines: (s, labels) => [`${name}{${labels}} ${value(s)}`],
});

export const histogram = (name: string, help: string, of: CumulativeHistogram): Family => ({
  name,
  type: 'histogram',
  help,
  lines: (s, labels) => {
    const h = histogramOf(s, of);
    const out: string[] = [];
    let below = 0;
    h.bounds.forEach((le, i) => {
      below += h.buckets[i]!;
      out.push(`${name}_bucket{${labels},le="${le}"} ${below}`);
    });
    out.push(`${name}_bucket{${labels},le="+Inf"} ${h.count}`, `${name}_sum{${labels}} ${h.sum}`, `${name}_count{${labels}} ${h.count}`);
    return out;
  },
});

const FAMILIES: readonly Family[] = [
  cumulative('pulse_requests_total', 'Requests started (request.start events).', 'requests'),
  cumulative('pulse_responses_total', 'Requests ended (request.end events).', 'responses'),
  cumulative('pulse_request_errors_total', 'Requests that ended in an error.', 'errors'),
  cumulative('pulse_prompt_tokens_total', 'Prompt tokens of ended requests.', 'promptTokens'),
  cumulative('pulse_completion_tokens_total', 'Completion tokens of ended requests.', 'completionTokens'),
  counter('pulse_cache_lookups_total', 'KV-cache lookups.', (s) => s.lookups),
  counter('pulse_cache_hits_total', 'KV-cache hits.', (s) => s.hits),
  histogram('pulse_request_duration_seconds', 'Request latency (latency_ms), seconds.', 'latency'),
  histogram('pulse_time_to_first_token_seconds', 'Time to first token of streams (ttft_ms), seconds.', 'ttft'),
  histogram('pulse_inter_token_latency_seconds', 'Inter-token latency of streams, per request, seconds.', 'itl'),
  gauge('pulse_requests_in_flight', 'Requests started and not ended.', (s) => Math.max(0, s.queueDepth)),
  gauge('pulse_streams_active', 'Streams started and not ended.', (s) => Math.max(0, s.activeStreams)),
  {
    name: 'pulse_slo_attainment_ratio',
    type: 'gauge',
    help: 'Share of the ends in the window that met each SLO of PULSE_SLOS (absent while none ended).',
    lines: (s, labels, slos) => (s.windowResponses === 0 ? [] : slos.map((slo, i) => `pulse_slo_attainment_ratio{slo="${escapeLabelValue(slo)}",${labels}} ${s.sloGood[i]! / s.windowResponses}`)),
  },
];

/** The exposition of `snapshot`: every family, declared even while it has no series. */
export function prometheusText(snapshot: Pick<InternalSnapshot, 'cells' | 'slos'> | null): string {
  const series = snapshot ? exportSeries(snapshot) : [];
  const labels = series.map((s) => `endpoint="${escapeLabelValue(s.endpoint)}",model="${escapeLabelValue(s.model)}"`);
  return familiesText(FAMILIES, series, labels, snapshot?.slos ?? []);
}

/** The text of `families` over `series`, the i-th labelled `labels[i]`; a family is declared even while it has no series. */
export function familiesText(families: readonly Family[], series: readonly ExportSeries[], labels: readonly string[], slos: readonly string[] = []): string {
  const out: string[] = [];
  for (const family of families) {
    out.push(`# HELP ${family.name} ${family.help}`, `# TYPE ${family.name} ${family.type}`);
    series.forEach((s, i) => out.push(...family.lines(s, labels[i]!, slos)));
  }
  return `${out.join('\n')}\n`;
}

/** Label values escape backslash, double quote and line feed (the text format's rule). */
export function escapeLabelValue(value: string): string {
  return value.replace(/[\\"\n]/g, (c) => (c === '\n' ? '\\n' : `\\${c}`));
}

/** What renders the exposition of a snapshot: prometheusText, or it followed by a compatibility view (prometheus-vllm.ts). */
export type PrometheusRenderer = (snapshot: Pick<InternalSnapshot, 'cells' | 'slos'> | null) => string;

/** The exposition of the snapshot held, built once per snapshot however often it is scraped. */
export class PrometheusExport {
  private forSnapshot: object | null = null;
  private text = '';

  constructor(private readonly render: PrometheusRenderer = prometheusText) {}

  body(snapshot: Pick<InternalSnapshot, 'cells' | 'slos'> | null): string {
    if (snapshot !== this.forSnapshot || this.forSnapshot === null) {
      this.text = this.render(snapshot);
      this.forSnapshot = snapshot;
    }
    return this.text;
  }
}
