/**
 * Scenario `prometheus` (issue 15, item 6): what GET /metrics/prometheus
 * costs a gateway, and what each way of making it cheaper pays, side by
 * side in one run.
 *
 * 0. In process (prometheus-render.ts): rendering 1,000 series the old way
 *    and the gateway's way, at 100 %, 10 % and 0 % of the cells changed per
 *    tick; and gzip's levels on a real body (time, bytes, event loop held).
 *
 * Two shapes of 1,000 cells each: one node × 50 endpoints × 20 models, so
 * every cell is a series of its own (the exposition's worst case per cell:
 * series are summed over nodes), and 10 nodes × 20 endpoints × 5 models,
 * 100 series (a cluster's usual shape). For each, on a fresh pipeline:
 *
 * 1. Scrape time and bytes, uncompressed (what every scrape got before the
 *    gateway compressed) and gzipped (`Accept-Encoding: gzip`, as Prometheus
 *    sends), in alternate seconds. The gateway builds the body once per
 *    snapshot, on the first scrape after it, and gzips it once, on the first
 *    scrape that accepts gzip: each second the bench scrapes twice back to
 *    back, the first timing the build (and the compression) and the send,
 *    the second the send alone.
 * 2. Gateway CPU with a scrape every second beside 5,000 WebSocket clients,
 *    side by side with no scrapes: two gateways on the same aggregator, each
 *    with 5,000 clients (interval 1 s, the fan-out scenario's ten filters),
 *    measured over the same windows; one window scrapes gateway A every
 *    second, the next gateway B, so a difference between the two processes
 *    themselves cancels out; the pair once uncompressed, once gzipped.
 *
 * The feed (2,000 events/s, every cell one request a second) is posted
 * by this process, in four batches a second, to keep all 1,000 cells live.
 * BENCH_PROMETHEUS_SHAPES=series runs only the first shape.
 */
import { request } from 'node:http';
import { gunzipSync } from 'node:zlib';
import { GZIP_LEVEL } from '@pulse/gateway';
import { ClientFleet } from './lib/client-fleet.js';
import { GATEWAY_LIMITS, Pipeline } from './lib/pipeline.js';
import { sleep } from './lib/ports.js';
import { CpuMeter, type CpuWindow } from './lib/proc-stats.js';
import { ServiceProcess } from './lib/services.js';
import { benchRender, gzipLevels, type GzipLevel, type RenderResult } from './prometheus-render.js';
import { percentile, round } from './timing.js';
import { FILTERS } from './scenarios/fanout.js';
import { ENDPOINTS, MODELS } from './workers/event-batch.js';

const TICK_MS = 1000;
const CLIENTS = Number(process.env.BENCH_PROMETHEUS_CLIENTS ?? 5000);
const SCRAPE_SECONDS = 30;
const MEASURE_MS = 30_000;
const WARMUP_MS = 5000;
const PATH = '/metrics/prometheus';

export interface CellShape {
  name: 'series' | 'nodes';
  nodes: number;
  endpoints: readonly string[];
  models: readonly string[];
}

/** The fan-out scenario's 20 endpoints × 5 models (its filters find their cells), and more where a shape needs them. */
export const SHAPES: readonly CellShape[] = [
  {
    name: 'series',
    nodes: 1,
    endpoints: [...ENDPOINTS, ...Array.from({ length: 30 }, (_, i) => `/v1/extra/endpoint-${i}`)],
    models: [...MODELS, ...Array.from({ length: 15 }, (_, i) => `extra-model-${i}`)],
  },
  { name: 'nodes', nodes: 10, endpoints: ENDPOINTS, models: MODELS },
];
const cellsOf = (s: CellShape) => s.nodes * s.endpoints.length * s.models.length;
const seriesOf = (s: CellShape) => s.endpoints.length * s.models.length;

export interface ScrapeFigures {
  scrapes: number;
  /** Time to the whole body, ms. */
  ms: { p50: number; p99: number; max: number };
}

export interface GatewayCpu {
  /** % of one core over the window. */
  scraped: number;
  unscraped: number;
}

export interface PrometheusCostResult {
  tickMs: number;
  /** The gateway's gzip level (prometheus-export.ts's GZIP_LEVEL). */
  gzipLevel: number;
  render: RenderResult;
  shapes: PrometheusShapeResult[];
}

/** How the bench asks: as scrapers did before the gateway compressed (or ones that do not ask for gzip), or as Prometheus does. */
export type Encoding = 'identity' | 'gzip';

/** Gateway CPU beside the clients with a scrape every second in one encoding, and without. */
export interface ScrapedCpu {
  encoding: Encoding;
  cpu: GatewayCpu;
  /** scraped ÷ unscraped. */
  ratio: number;
  /** scraped − unscraped, % of one core: what one scrape a second costs beside the clients. */
  deltaPct: number;
}

export interface PrometheusShapeResult {
  shape: { name: string; nodes: number; endpoints: number; models: number };
  cells: number;
  series: number;
  /** Lines of the exposition (samples and comments). */
  lines: number;
  bytes: number;
  /** The gzipped body the gateway sent. */
  gzipBytes: number;
  /** Per encoding: the first scrape after a snapshot (builds the body, and gzips it), and a second one right after (the copy built). */
  scrapes: Record<Encoding, { first: ScrapeFigures; repeat: ScrapeFigures }>;
  /** gzip's levels on this body, in the bench's process. */
  gzipLevels: GzipLevel[];
  clients: number;
  measureSeconds: number;
  /** Per window: which gateway was scraped and how, the CPU of both, the scrapes' times. */
  windows: { scraped: 'A' | 'B'; encoding: Encoding; cpu: { A: number; B: number }; scrapeMs: { p50: number; p99: number }; window: CpuWindow; deliveredPerSec: { A: number; B: number } }[];
  /** Per encoding, over its two windows. */
  cpu: ScrapedCpu[];
}

/** Posts every cell's request each second, in four batches, until stopped. */
class CellFeed {
  private running = true;
  private readonly loop: Promise<void>;
  private seq = 0;
  failures = 0;

  constructor(
    private readonly ingestUrl: string,
    private readonly shape: CellShape,
  ) {
    this.loop = this.run();
  }

  private body(part: number, parts: number): string {
    const now = Date.now() / 1000;
    const events: object[] = [];
    const { endpoints, models } = this.shape;
    for (let c = part; c < cellsOf(this.shape); c += parts) {
      const endpoint = endpoints[c % endpoints.length]!;
      const model = models[Math.floor(c / endpoints.length) % models.length]!;
      const node = `fakeai-${Math.floor(c / (endpoints.length * models.length))}`;
      const n = this.seq++;
      const latency = 50 + ((n * 37) % 2000);
      const common = { ts: now, node, request_id: `prom-${n}`, endpoint, model, stream: true };
      events.push({ type: 'request.start', ...common, ts: now - latency / 1000 });
      events.push({ type: 'request.end', ...common, status: n % 50 === 0 ? 500 : 200, latency_ms: latency, ttft_ms: latency / 10, prompt_tokens: 100, completion_tokens: 50 + (n % 200), cache: { hit: n % 3 === 0, cached_tokens: 20, prefix_length: 20 } });
    }
    return JSON.stringify({ events });
  }

  private async run(): Promise<void> {
    const parts = 4;
    const t0 = Date.now();
    for (let k = 0; this.running; k++) {
      const wait = t0 + (k * 1000) / parts - Date.now();
      if (wait > 0) await sleep(wait);
      try {
        const res = await fetch(`${this.ingestUrl}/v1/events`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: this.body(k % parts, parts), signal: AbortSignal.timeout(5000) });
        await res.arrayBuffer();
        if (res.status !== 202) this.failures++;
      } catch {
        this.failures++;
      }
    }
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.loop;
  }
}

/** One scrape, timed to the whole body as sent; `text` decompressed after the timing. */
async function scrape(url: string, encoding: Encoding = 'identity'): Promise<{ ms: number; text: string; sent: number }> {
  const t0 = performance.now();
  const { status, body, contentEncoding } = await new Promise<{ status: number; body: Buffer; contentEncoding: string | undefined }>((resolve, reject) => {
    const req = request(`${url}${PATH}`, { headers: encoding === 'gzip' ? { 'Accept-Encoding': 'gzip' } : {}, timeout: 10_000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode!, body: Buffer.concat(chunks), contentEncoding: res.headers['content-encoding'] }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`${url}${PATH}: no reply in 10 s`)));
    req.on('error', reject).end();
  });
  const ms = performance.now() - t0;
  if (status !== 200) throw new Error(`${url}${PATH}: ${status}`);
  if ((contentEncoding === 'gzip') !== (encoding === 'gzip')) throw new Error(`${url}${PATH}: asked ${encoding}, got Content-Encoding ${contentEncoding}`);
  return { ms, text: (encoding === 'gzip' ? gunzipSync(body) : body).toString(), sent: body.length };
}

const n = (x: number) => x.toLocaleString('en-US');
const seriesIn = (text: string) => text.split('\n').filter((l) => l.startsWith('pulse_requests_total{')).length;

function figures(ms: number[]): ScrapeFigures {
  const s = [...ms].sort((a, b) => a - b);
  return { scrapes: s.length, ms: { p50: round(percentile(s, 0.5), 2), p99: round(percentile(s, 0.99), 2), max: round(s.at(-1) ?? NaN, 2) } };
}

/** Scrapes `url` once a second (on the second of the loop's start) until `stop` resolves; the times, ms. */
async function scrapeEverySecond(url: string, encoding: Encoding, until: Promise<void>): Promise<number[]> {
  let done = false;
  void until.then(() => (done = true));
  const out: number[] = [];
  const t0 = Date.now();
  for (let k = 1; !done; k++) {
    out.push((await scrape(url, encoding)).ms);
    const wait = t0 + k * 1000 - Date.now();
    if (wait > 0) await Promise.race([sleep(wait), until]);
  }
  return out;
}

export async function benchPrometheus(log: (line: string) => void): Promise<PrometheusCostResult> {
  const only = process.env.BENCH_PROMETHEUS_SHAPES?.split(',');
  const render = benchRender();
  for (const row of render.rows) {
    log(
      `prometheus render, ${n(render.series)} series, ${row.changedPct} % of the cells changed per tick: before p50 ${row.beforeMs.p50} ms (p99 ${row.beforeMs.p99}), ` +
        `after p50 ${row.afterMs.p50} ms (p99 ${row.afterMs.p99}), ${row.reusedSeries} series' lines reused`,
    );
  }
  log(`prometheus render: encoding the old text ${render.encodeMs} ms per scrape (the new renderer returns bytes, once per snapshot)`);
  const shapes: PrometheusShapeResult[] = [];
  for (const shape of SHAPES.filter((s) => !only || only.includes(s.name))) shapes.push(await benchShape(shape, log));
  return { tickMs: TICK_MS, gzipLevel: GZIP_LEVEL, render, shapes };
}

async function benchShape(shape: CellShape, log: (line: string) => void): Promise<PrometheusShapeResult> {
  const CELLS = cellsOf(shape);
  const SERIES = seriesOf(shape);
  const say = (line: string) => log(`prometheus (${shape.nodes} × ${shape.endpoints.length} × ${shape.models.length}): ${line}`);
  const pipeline = await Pipeline.start({ tickMs: TICK_MS, feedPerSec: 0 });
  const feed = new CellFeed(pipeline.ingest.url, shape);
  let other: ServiceProcess | null = null;
  let fleet: ClientFleet | null = null;
  try {
    const a = await pipeline.startGateway();
    other = await ServiceProcess.start('gateway', { ...pipeline.env, ...GATEWAY_LIMITS });
    const b = other;
    // Every cell in the snapshot, on both gateways.
    const deadline = Date.now() + 30_000;
    for (;;) {
      const [sa, sb] = await Promise.all([scrape(a.url), scrape(b.url)]);
      if (seriesIn(sa.text) >= SERIES && seriesIn(sb.text) >= SERIES) break;
      if (Date.now() > deadline) throw new Error(`only ${seriesIn(sa.text)} / ${seriesIn(sb.text)} of ${SERIES} series after 30 s (feed failures ${feed.failures})`);
      await sleep(500);
    }
    await sleep(2000);

    // 1. Scrape time and bytes, no clients: uncompressed and gzipped in alternate seconds.
    const times: Record<Encoding, { first: number[]; repeat: number[] }> = { identity: { first: [], repeat: [] }, gzip: { first: [], repeat: [] } };
    let text = '';
    let gzipBytes = 0;
    for (let i = 0; i < SCRAPE_SECONDS; i++) {
      const encoding: Encoding = i % 2 === 0 ? 'identity' : 'gzip';
      const t0 = Date.now();
      const s1 = await scrape(a.url, encoding);
      const s2 = await scrape(a.url, encoding);
      times[encoding].first.push(s1.ms);
      times[encoding].repeat.push(s2.ms);
      if (encoding === 'gzip') gzipBytes = s2.sent;
      else text = s2.text;
      await sleep(Math.max(0, 1000 - (Date.now() - t0)));
    }
    const bytes = Buffer.byteLength(text);
    const series = seriesIn(text);
    const scrapes = {
      identity: { first: figures(times.identity.first), repeat: figures(times.identity.repeat) },
      gzip: { first: figures(times.gzip.first), repeat: figures(times.gzip.repeat) },
    };
    for (const encoding of ['identity', 'gzip'] as const) {
      say(
        `${encoding === 'gzip' ? `gzipped (level ${GZIP_LEVEL}): ${gzipBytes}` : `uncompressed: ${series} series, ${text.split('\n').length - 1} lines, ${bytes}`} bytes; ` +
          `first scrape after a snapshot p50 ${scrapes[encoding].first.ms.p50} ms (p99 ${scrapes[encoding].first.ms.p99}), repeat p50 ${scrapes[encoding].repeat.ms.p50} ms (p99 ${scrapes[encoding].repeat.ms.p99})`,
      );
    }
    const levels = await gzipLevels(Buffer.from(text));
    say(`gzip levels on this body: ${levels.map((l) => `${l.level}: ${l.bytes} bytes in ${l.ms} ms (event loop held ≤ ${l.loopBlockedMs} ms)`).join('; ')}`);

    // 2. CPU beside 5,000 clients each, scraped once a second or not at all.
    fleet = await ClientFleet.start(2 * CLIENTS);
    const ca = await fleet.connect('A', `ws://127.0.0.1:${a.port}/metrics/stream`, CLIENTS, FILTERS);
    const cb = await fleet.connect('B', `ws://127.0.0.1:${b.port}/metrics/stream`, CLIENTS, FILTERS);
    say(`${ca.open} clients on gateway A in ${ca.ms} ms, ${cb.open} on gateway B in ${cb.ms} ms`);
    if (ca.open < CLIENTS || cb.open < CLIENTS) throw new Error(`clients open: A ${ca.open}, B ${cb.open} of ${CLIENTS}`);
    await sleep(WARMUP_MS);

    const windows: PrometheusShapeResult['windows'] = [];
    for (const encoding of ['identity', 'gzip'] as const) {
      for (const scraped of ['A', 'B'] as const) {
        const gw = scraped === 'A' ? a : b;
        const meter = new CpuMeter(() => [...pipeline.pids().filter((p) => p.name !== 'gateway'), { name: 'A', pid: a.pid }, { name: 'B', pid: b.pid }, ...fleet!.pids()]);
        await fleet.begin();
        meter.begin();
        const measured = sleep(MEASURE_MS);
        const times = await scrapeEverySecond(gw.url, encoding, measured);
        await measured;
        const window = meter.end();
        const stats = await fleet.end();
        const sorted = [...times].sort((x, y) => x - y);
        const delivered = (label: string) => round((stats[label]?.messages ?? 0) / window.seconds, 0);
        windows.push({
          scraped,
          encoding,
          cpu: { A: window.cpuPct.A!, B: window.cpuPct.B! },
          scrapeMs: { p50: round(percentile(sorted, 0.5), 2), p99: round(percentile(sorted, 0.99), 2) },
          window,
          deliveredPerSec: { A: delivered('A'), B: delivered('B') },
        });
        say(
          `scraping ${scraped} every second, ${encoding} (${times.length} scrapes, p50 ${round(percentile(sorted, 0.5), 1)} ms): gateway A ${window.cpuPct.A} %, B ${window.cpuPct.B} % of a core; ` +
            `delivered/s A ${delivered('A')}, B ${delivered('B')}; host busy ${window.hostBusyPct} %` +
            (Math.min(delivered('A'), delivered('B')) < 0.95 * CLIENTS ? ' — WARNING: not every client got every update; the machine is overloaded and this window says little' : ''),
        );
        await sleep(2000);
      }
    }
    const cpu = (['identity', 'gzip'] as const).map((encoding): ScrapedCpu => {
      const ws = windows.filter((w) => w.encoding === encoding);
      const scrapedCpu = ws.reduce((s, w) => s + w.cpu[w.scraped], 0);
      const unscrapedCpu = ws.reduce((s, w) => s + w.cpu[w.scraped === 'A' ? 'B' : 'A'], 0);
      return {
        encoding,
        cpu: { scraped: round(scrapedCpu / ws.length, 1), unscraped: round(unscrapedCpu / ws.length, 1) },
        ratio: round(scrapedCpu / unscrapedCpu, 3),
        deltaPct: round((scrapedCpu - unscrapedCpu) / ws.length, 2),
      };
    });
    for (const c of cpu) say(`${c.encoding}: scraped every second ${c.cpu.scraped} % of a core, not scraped ${c.cpu.unscraped} %: ${c.ratio}× (+${c.deltaPct} points)`);
    return {
      shape: { name: shape.name, nodes: shape.nodes, endpoints: shape.endpoints.length, models: shape.models.length },
      cells: CELLS,
      series,
      lines: text.split('\n').length - 1,
      bytes,
      gzipBytes,
      scrapes,
      gzipLevels: levels,
      clients: CLIENTS,
      measureSeconds: MEASURE_MS / 1000,
      windows,
      cpu,
    };
  } finally {
    await fleet?.disconnect().catch(() => undefined);
    await fleet?.stop();
    await feed.stop();
    await other?.stop();
    await pipeline.stop();
  }
}
