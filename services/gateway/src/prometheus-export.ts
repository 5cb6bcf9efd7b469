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
 * they are.
 *
 * What a scrape costs (docs/MONITORING.md, "What a scrape costs"; measured by
 * `npm run bench prometheus`) is kept down three ways:
 * - the body is built once per snapshot and shared by every scrape of it,
 *   as bytes (the UTF-8 encoding is not redone per scrape, and the body is
 *   assembled from encoded pieces rather than encoded as one long string);
 * - a series whose counters and histograms did not move since the previous
 *   snapshot reuses their lines (Exposition below): at 1,000 series nearly
 *   all of the text is histogram buckets, and only the gauges are rewritten;
 * - a scraper that sends `Accept-Encoding: gzip` (Prometheus does) gets the
 *   body gzipped, compressed once per snapshot off the event loop (zlib's
 *   thread pool) and shared too: ~25 times fewer bytes to write.
 */
import { gzip } from 'node:zlib';
import { promisify } from 'node:util';
import { counterOf, exportSeries, type ExportSeries } from '@pulse/metrics';
import { HISTOGRAM_SLOTS, type CumulativeCounter, type CumulativeHistogram, type InternalSnapshot } from '@pulse/protocol';

/** What an exposition is rendered from: a snapshot's cells and SLO names. */
export type ExpositionSnapshot = Pick<InternalSnapshot, 'cells' | 'slos'>;

/**
 * A metric family: its header, and the sample lines one series adds to it.
 * Shared with the vLLM view (prometheus-vllm.ts).
 *
 * `reads` says which figures of a series the lines depend on, and so when
 * they may be reused: a `cumulative` family reads only the series'
 * `cumulative` slots, `lookups` and `hits` (what Exposition compares), a
 * `window` family anything (it is rendered afresh for every snapshot).
 */
export interface Family {
  name: string;
  type: 'counter' | 'gauge' | 'histogram';
  help: string;
  reads: 'cumulative' | 'window';
  /** The sample lines of one series, each ending in a line feed; `labels` is its label set without braces. */
  text(series: ExportSeries, labels: string, slos: readonly string[]): string;
}

/** A counter read from the cumulative figures (slots, lookups, hits). */
export const counter = (name: string, help: string, value: (s: ExportSeries) => number): Family => ({
  name,
  type: 'counter',
  help,
  reads: 'cumulative',
  text: (s, labels) => `${name}{${labels}} ${value(s)}\n`,
});

export const cumulative = (name: string, help: string, of: CumulativeCounter): Family => counter(name, help, (s) => counterOf(s, of));

/** A gauge of the window's figures. */
export const gauge = (name: string, help: string, value: (s: ExportSeries) => number): Family => ({
  name,
  type: 'gauge',
  help,
  reads: 'window',
  text: (s, labels) => `${name}{${labels}} ${value(s)}\n`,
});

export const histogram = (name: string, help: string, of: CumulativeHistogram): Family => {
  const { bounds, first, buckets, sum, time } = HISTOGRAM_SLOTS[of];
  // The constant parts of each line, built once: `_bucket{` and `,le="…"} `.
  const bucket = `${name}_bucket{`;
  const le = [...bounds.map((b) => `,le="${b}"} `), ',le="+Inf"} '];
  const sumPrefix = `${name}_sum{`;
  const countPrefix = `${name}_count{`;
  return {
    name,
    type: 'histogram',
    help,
    reads: 'cumulative',
    text: (s, labels) => {
      const slots = s.cumulative;
      let out = '';
      let below = 0;
      for (let i = 0; i < buckets - 1; i++) {
        below += slots[first + i]!;
        out += bucket + labels + le[i] + below + '\n';
      }
      const count = below + slots[first + buckets - 1]!;
      const total = time ? slots[sum]! / 1e6 : slots[sum]!;
      return out + bucket + labels + le[buckets - 1] + count + '\n' + sumPrefix + labels + '} ' + total + '\n' + countPrefix + labels + '} ' + count + '\n';
    },
  };
};

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
    reads: 'window',
    text: (s, labels, slos) => {
      if (s.windowResponses === 0) return '';
      let out = '';
      for (let i = 0; i < slos.length; i++) out += `pulse_slo_attainment_ratio{slo="${escapeLabelValue(slos[i]!)}",${labels}} ${s.sloGood[i]! / s.windowResponses}\n`;
      return out;
    },
  },
];

const pulseLabels = (s: ExportSeries) => `endpoint="${escapeLabelValue(s.endpoint)}",model="${escapeLabelValue(s.model)}"`;

/** The lines a series last had, and the cumulative figures they were written from. */
interface CachedSeries {
  cumulative: number[];
  lookups: number;
  hits: number;
  /** Per family (Exposition's order): its lines as bytes, for the `cumulative` ones; empty for the rest. */
  bytes: Buffer[];
  /** The render that last saw this series. */
  seen: number;
}

const NO_BYTES = Buffer.alloc(0);

const sameCumulative = (c: CachedSeries, s: ExportSeries): boolean => {
  if (c.lookups !== s.lookups || c.hits !== s.hits) return false;
  const a = c.cumulative;
  const b = s.cumulative;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
};

/**
 * The text of `families` over each snapshot's series, for one route, as
 * bytes: each family declared (even while it has no series), then its lines
 * for every series. Keeps, per series (by label set), the lines of the
 * `cumulative` families, encoded, with the figures they were written from;
 * the next render reuses them while those figures are equal, and forgets
 * series that left. Snapshots mark changed cells only in patches, and the
 * gateway's replica changes cells in place; comparing the ~90 summed figures
 * of a series is exact whatever changed it, and costs little beside writing
 * its ~60 lines. The body is then one copy of the pieces: building it as one
 * string and encoding that cost as much again as writing it (the string is a
 * rope of thousands of pieces, flattened first).
 */
export class Exposition {
  private readonly cache = new Map<string, CachedSeries>();
  private readonly headers: Buffer[];
  private renders = 0;
  /** Series whose counter and histogram lines were reused, and written, by the last render (for the bench). */
  readonly last = { reused: 0, written: 0 };

  constructor(
    private readonly families: readonly Family[],
    private readonly labelsOf: (s: ExportSeries) => string,
    private readonly seriesOf: (snapshot: ExpositionSnapshot) => ExportSeries[] = (snapshot) => exportSeries(snapshot),
  ) {
    this.headers = families.map((f) => Buffer.from(`# HELP ${f.name} ${f.help}\n# TYPE ${f.name} ${f.type}\n`));
  }

  /** The exposition of `snapshot`, as a string (tests, and what reads it as text). */
  render(snapshot: ExpositionSnapshot | null): string {
    return this.bytes(snapshot).toString();
  }

  /** The exposition of `snapshot`, encoded. */
  bytes(snapshot: ExpositionSnapshot | null): Buffer {
    const series = snapshot ? this.seriesOf(snapshot) : [];
    const slos = snapshot?.slos ?? [];
    const families = this.families;
    const seen = ++this.renders;
    const labels = new Array<string>(series.length);
    const cached = new Array<CachedSeries>(series.length);
    let reused = 0;
    for (let i = 0; i < series.length; i++) {
      const s = series[i]!;
      const l = this.labelsOf(s);
      let c = this.cache.get(l);
      if (c && sameCumulative(c, s)) reused++;
      else {
        c = { cumulative: s.cumulative.slice(), lookups: s.lookups, hits: s.hits, bytes: this.encodeCumulative(s, l, slos), seen };
        this.cache.set(l, c);
      }
      c.seen = seen;
      labels[i] = l;
      cached[i] = c;
    }
    if (this.cache.size > series.length) for (const [l, c] of this.cache) if (c.seen !== seen) this.cache.delete(l);
    this.last.reused = reused;
    this.last.written = series.length - reused;

    const parts: Buffer[] = [];
    let length = 0;
    const push = (b: Buffer) => {
      parts.push(b);
      length += b.length;
    };
    for (let f = 0; f < families.length; f++) {
      const family = families[f]!;
      push(this.headers[f]!);
      if (family.reads === 'cumulative') for (let i = 0; i < series.length; i++) push(cached[i]!.bytes[f]!);
      else {
        let text = '';
        for (let i = 0; i < series.length; i++) text += family.text(series[i]!, labels[i]!, slos);
        push(Buffer.from(text));
      }
    }
    return Buffer.concat(parts, length);
  }

  /** The lines of `s` in each `cumulative` family, encoded into one buffer and cut at the families. */
  private encodeCumulative(s: ExportSeries, labels: string, slos: readonly string[]): Buffer[] {
    const texts = this.families.map((f) => (f.reads === 'cumulative' ? f.text(s, labels, slos) : ''));
    let size = 0;
    for (const t of texts) size += Buffer.byteLength(t);
    const buffer = Buffer.allocUnsafe(size);
    let at = 0;
    return texts.map((t) => {
      if (t === '') return NO_BYTES;
      const n = buffer.write(t, at);
      const piece = buffer.subarray(at, at + n);
      at += n;
      return piece;
    });
  }
}

/** The exposition of `snapshot`, rendered from scratch: every family, declared even while it has no series. */
export function prometheusText(snapshot: ExpositionSnapshot | null): string {
  return new Exposition(FAMILIES, pulseLabels).render(snapshot);
}

/** The `pulse_*` exposition of each snapshot, reusing what did not change since the previous one. */
export function pulseExposition(): Exposition {
  return new Exposition(FAMILIES, pulseLabels);
}

/** Label values escape backslash, double quote and line feed (the text format's rule). */
export function escapeLabelValue(value: string): string {
  return value.replace(/[\\"\n]/g, (c) => (c === '\n' ? '\\n' : `\\${c}`));
}

/** What renders the exposition of a snapshot, encoded (stateful: it may reuse what it rendered for the previous one). */
export type PrometheusRenderer = (snapshot: ExpositionSnapshot | null) => Buffer;

/** The gzip level of the bodies: chosen by `npm run bench prometheus` (docs/MONITORING.md, "What a scrape costs"). */
export const GZIP_LEVEL = 1;

const gzipAsync = promisify(gzip);

/**
 * One route's exposition of the snapshot held: rendered once per snapshot
 * however often it is scraped, kept as bytes, and gzipped once per snapshot
 * on the first scrape that accepts gzip (concurrent ones share that work).
 */
export class PrometheusExport {
  private forSnapshot: object | null = null;
  private bytes: Buffer = Buffer.alloc(0);
  private gzipped: Promise<Buffer> | null = null;

  constructor(
    private readonly render: PrometheusRenderer,
    private readonly gzipLevel = GZIP_LEVEL,
  ) {}

  /** The body for `snapshot`, uncompressed. */
  body(snapshot: ExpositionSnapshot | null): Buffer {
    if (snapshot !== this.forSnapshot || this.forSnapshot === null) {
      this.bytes = this.render(snapshot);
      this.forSnapshot = snapshot;
      this.gzipped = null;
    }
    return this.bytes;
  }

  /** The body for `snapshot`, gzipped. */
  gzip(snapshot: ExpositionSnapshot | null): Promise<Buffer> {
    const bytes = this.body(snapshot);
    if (!this.gzipped) {
      const gzipped = gzipAsync(bytes, { level: this.gzipLevel });
      this.gzipped = gzipped;
      // A failure answers the scrapes waiting on it; the next one tries again.
      gzipped.catch(() => {
        if (this.gzipped === gzipped) this.gzipped = null;
      });
    }
    return this.gzipped;
  }
}
