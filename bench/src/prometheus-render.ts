/**
 * The in-process half of scenario `prometheus` (prometheus-cost.ts): the
 * gateway's work for one exposition of 1,000 series, before and after the
 * changes that made it cheaper, side by side on the same snapshots.
 *
 * - Render: the renderer as it was (each family's lines as arrays, spread
 *   and joined, every series rewritten for every snapshot; kept below as
 *   `renderBefore`, verbatim but for names) against the gateway's Exposition
 *   (strings built directly, and a series' counter and histogram lines
 *   reused while its figures stay the same), ticks with 100 %, 10 % and 0 %
 *   of the cells changed. Every text the Exposition renders is checked
 *   equal to the one the old renderer gives for the same snapshot.
 * - Encoding: the text to bytes, once per snapshot now (before, `res.end`
 *   encoded it on every scrape).
 * - gzip (gzipLevels): each level's time and bytes on a real body, and how
 *   long the async compression held the event loop (zlib's work runs on
 *   the thread pool; the loop only hands the buffer over).
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { promisify } from 'node:util';
import { gzip } from 'node:zlib';
import { counterOf, exportSeries, histogramOf, type ExportSeries } from '@pulse/metrics';
import { COUNTER_SLOT, HISTOGRAM_SLOTS, zeroCumulative, type CellData, type CumulativeHistogram } from '@pulse/protocol';
import { pulseExposition, type ExpositionSnapshot } from '@pulse/gateway';
import { seededRandom } from '@pulse/simulator';
import { percentile, round } from './timing.js';

const ENDPOINTS = 50;
const MODELS = 20;
const TICKS = 40;
const WARMUP_TICKS = 5;

export interface RenderRow {
  /** Share of the cells whose figures moved each tick. */
  changedPct: number;
  /** ms per snapshot, p50 / p99 over the ticks. */
  beforeMs: { p50: number; p99: number };
  afterMs: { p50: number; p99: number };
  /** Series whose counter and histogram lines were reused, per tick (p50). */
  reusedSeries: number;
}

export interface RenderResult {
  series: number;
  bytes: number;
  rows: RenderRow[];
  /** Encoding the old renderer's text (Content-Length, then the bytes), ms p50: paid on every scrape before; the new renderer returns the bytes, built once per snapshot. */
  encodeMs: number;
}

export interface GzipLevel {
  level: number;
  bytes: number;
  /** Wall time of the async compression, ms (p50 of 5). */
  ms: number;
  /** Longest the event loop was held while it ran, ms (max over the runs). */
  loopBlockedMs: number;
}

/** The fields of a cell the exposition reads (exportSeries): what the synthetic cells below carry. */
type ExportedCell = Pick<CellData, 'node' | 'endpoint' | 'model' | 'cumulative' | 'totalLookups' | 'totalHits' | 'queueDepth' | 'activeStreams' | 'responses' | 'sloGood'> & { cumulative: number[] };

const HISTOGRAMS: CumulativeHistogram[] = ['latency', 'ttft', 'itl', 'inputTokens', 'outputTokens'];

/** 1 node × 50 endpoints × 20 models, each with a few thousand requests counted; `tick` moves a share of them. */
class Cells {
  private readonly r = seededRandom(15);
  readonly cells: ExportedCell[] = [];

  constructor() {
    for (let e = 0; e < ENDPOINTS; e++) {
      for (let m = 0; m < MODELS; m++) {
        const cell: ExportedCell = { node: 'fakeai-0', endpoint: `/v1/endpoint-${e}`, model: `model-${m}`, cumulative: zeroCumulative(), totalLookups: 0, totalHits: 0, queueDepth: 0, activeStreams: 0, responses: 0, sloGood: [] };
        for (let k = 0; k < 2000 + Math.floor(this.r() * 3000); k++) this.request(cell);
        this.cells.push(cell);
      }
    }
  }

  /** One request ended on `cell`: its counters, one bucket of each histogram and their sums. */
  private request(cell: ExportedCell): void {
    const c = cell.cumulative;
    const r = this.r;
    c[COUNTER_SLOT.requests]! += 1;
    c[COUNTER_SLOT.responses]! += 1;
    if (r() < 0.02) c[COUNTER_SLOT.errors]! += 1;
    c[COUNTER_SLOT.promptTokens]! += 100;
    c[COUNTER_SLOT.completionTokens]! += 50 + Math.floor(r() * 200);
    for (const name of HISTOGRAMS) {
      const h = HISTOGRAM_SLOTS[name];
      const bucket = Math.min(h.buckets - 1, Math.floor(h.buckets * (0.2 + 0.4 * r())));
      c[h.first + bucket]! += 1;
      c[h.sum]! += h.time ? Math.round(h.bounds[Math.min(bucket, h.bounds.length - 1)]! * 1e6 * r()) : 100;
    }
    cell.totalLookups += 1;
    if (r() < 0.5) cell.totalHits += 1;
  }

  /**
   * A new snapshot with `share` of the cells moved: a request more, and new
   * window gauges. The gateway's replica changes its cells in place and
   * gives each snapshot a new object, as here.
   */
  tick(share: number): ExpositionSnapshot {
    for (const cell of this.cells) {
      if (this.r() >= share) continue;
      this.request(cell);
      cell.queueDepth = Math.floor(this.r() * 4);
      cell.activeStreams = Math.floor(this.r() * 3);
      cell.responses = 50 + Math.floor(this.r() * 20);
    }
    return { cells: this.cells as unknown as CellData[], slos: [] };
  }
}

export function benchRender(): RenderResult {
  const cells = new Cells();
  const rows: RenderRow[] = [];
  let bytes = 0;
  const encode: number[] = [];
  for (const share of [1, 0.1, 0]) {
    const exposition = pulseExposition();
    const before: number[] = [];
    const after: number[] = [];
    const reused: number[] = [];
    exposition.render(cells.tick(1));
    for (let t = 0; t < WARMUP_TICKS + TICKS; t++) {
      const snapshot = cells.tick(share);
      const t0 = performance.now();
      const old = renderBefore(snapshot);
      const t1 = performance.now();
      const body = exposition.bytes(snapshot);
      const t2 = performance.now();
      // What a scrape paid for the encoding before (res.end of the string): the new renderer returns bytes.
      Buffer.byteLength(old);
      Buffer.from(old);
      const t3 = performance.now();
      if (body.toString() !== old) throw new Error(`the exposition differs from the old renderer's at ${share * 100} % changed`);
      bytes = body.length;
      if (t < WARMUP_TICKS) continue;
      before.push(t1 - t0);
      after.push(t2 - t1);
      encode.push(t3 - t2);
      reused.push(exposition.last.reused);
    }
    rows.push({ changedPct: share * 100, beforeMs: stats(before), afterMs: stats(after), reusedSeries: percentile([...reused].sort((a, b) => a - b), 0.5) });
  }
  return { series: ENDPOINTS * MODELS, bytes, rows, encodeMs: stats(encode).p50 };
}

/** gzip of `body` at each level, async as the gateway does it. */
export async function gzipLevels(body: Buffer, levels = [1, 3, 6, 9]): Promise<GzipLevel[]> {
  const compress = promisify(gzip);
  const out: GzipLevel[] = [];
  for (const level of levels) {
    const times: number[] = [];
    let size = 0;
    let blocked = 0;
    for (let i = 0; i < 5; i++) {
      const loop = monitorEventLoopDelay({ resolution: 1 });
      loop.enable();
      const t0 = performance.now();
      size = (await compress(body, { level })).length;
      times.push(performance.now() - t0);
      loop.disable();
      blocked = Math.max(blocked, loop.max / 1e6);
    }
    out.push({ level, bytes: size, ms: stats(times).p50, loopBlockedMs: round(blocked, 1) });
  }
  return out;
}

function stats(ms: number[]): { p50: number; p99: number } {
  const s = [...ms].sort((a, b) => a - b);
  return { p50: round(percentile(s, 0.5), 2), p99: round(percentile(s, 0.99), 2) };
}

// ------------------------------------------------- the renderer as it was

interface FamilyBefore {
  name: string;
  type: 'counter' | 'gauge' | 'histogram';
  help: string;
  lines(series: ExportSeries, labels: string, slos: readonly string[]): string[];
}

const counterBefore = (name: string, value: (s: ExportSeries) => number): FamilyBefore => ({ name, type: 'counter', help: HELP[name]!, lines: (s, labels) => [`${name}{${labels}} ${value(s)}`] });
const gaugeBefore = (name: string, value: (s: ExportSeries) => number): FamilyBefore => ({ name, type: 'gauge', help: HELP[name]!, lines: (s, labels) => [`${name}{${labels}} ${value(s)}`] });
const histogramBefore = (name: string, of: CumulativeHistogram): FamilyBefore => ({
  name,
  type: 'histogram',
  help: HELP[name]!,
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

/** The HELP texts, as the gateway writes them (the comparison checks they match). */
const HELP: Record<string, string> = {
  pulse_requests_total: 'Requests started (request.start events).',
  pulse_responses_total: 'Requests ended (request.end events).',
  pulse_request_errors_total: 'Requests that ended in an error.',
  pulse_prompt_tokens_total: 'Prompt tokens of ended requests.',
  pulse_completion_tokens_total: 'Completion tokens of ended requests.',
  pulse_cache_lookups_total: 'KV-cache lookups.',
  pulse_cache_hits_total: 'KV-cache hits.',
  pulse_request_duration_seconds: 'Request latency (latency_ms), seconds.',
  pulse_time_to_first_token_seconds: 'Time to first token of streams (ttft_ms), seconds.',
  pulse_inter_token_latency_seconds: 'Inter-token latency of streams, per request, seconds.',
  pulse_requests_in_flight: 'Requests started and not ended.',
  pulse_streams_active: 'Streams started and not ended.',
  pulse_slo_attainment_ratio: 'Share of the ends in the window that met each SLO of PULSE_SLOS (absent while none ended).',
};

const FAMILIES_BEFORE: readonly FamilyBefore[] = [
  counterBefore('pulse_requests_total', (s) => counterOf(s, 'requests')),
  counterBefore('pulse_responses_total', (s) => counterOf(s, 'responses')),
  counterBefore('pulse_request_errors_total', (s) => counterOf(s, 'errors')),
  counterBefore('pulse_prompt_tokens_total', (s) => counterOf(s, 'promptTokens')),
  counterBefore('pulse_completion_tokens_total', (s) => counterOf(s, 'completionTokens')),
  counterBefore('pulse_cache_lookups_total', (s) => s.lookups),
  counterBefore('pulse_cache_hits_total', (s) => s.hits),
  histogramBefore('pulse_request_duration_seconds', 'latency'),
  histogramBefore('pulse_time_to_first_token_seconds', 'ttft'),
  histogramBefore('pulse_inter_token_latency_seconds', 'itl'),
  gaugeBefore('pulse_requests_in_flight', (s) => Math.max(0, s.queueDepth)),
  gaugeBefore('pulse_streams_active', (s) => Math.max(0, s.activeStreams)),
  {
    name: 'pulse_slo_attainment_ratio',
    type: 'gauge',
    help: HELP.pulse_slo_attainment_ratio!,
    lines: (s, labels, slos) => (s.windowResponses === 0 ? [] : slos.map((slo, i) => `pulse_slo_attainment_ratio{slo="${escape(slo)}",${labels}} ${s.sloGood[i]! / s.windowResponses}`)),
  },
];

const escape = (value: string) => value.replace(/[\\"\n]/g, (c) => (c === '\n' ? '\\n' : `\\${c}`));

/** services/gateway/src/prometheus-export.ts's prometheusText and familiesText before this change. */
function renderBefore(snapshot: ExpositionSnapshot): string {
  const series = exportSeries(snapshot);
  const labels = series.map((s) => `endpoint="${escape(s.endpoint)}",model="${escape(s.model)}"`);
  const out: string[] = [];
  for (const family of FAMILIES_BEFORE) {
    out.push(`# HELP ${family.name} ${family.help}`, `# TYPE ${family.name} ${family.type}`);
    series.forEach((s, i) => out.push(...family.lines(s, labels[i]!, snapshot.slos)));
  }
  return `${out.join('\n')}\n`;
}

