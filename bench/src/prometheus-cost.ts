/**
 * Scenario `prometheus` (issue 15, item 6): what GET /metrics/prometheus
 * costs a gateway.
 *
 * Two shapes of 1,000 cells each: one node × 50 endpoints × 20 models, so
 * every cell is a series of its own (the exposition's worst case per cell:
 * series are summed over nodes), and 10 nodes × 20 endpoints × 5 models,
 * 100 series (a cluster's usual shape). For each, on a fresh pipeline:
 *
 * 1. Scrape time and bytes. The gateway builds the
 *    text once per snapshot, on the first scrape after it, and serves that
 *    copy to every later scrape of the same snapshot: each second the bench
 *    scrapes twice back to back, the first timing a build and the send, the
 *    second the send alone.
 * 2. Gateway CPU with a scrape every second beside 5,000 WebSocket clients,
 *    side by side with no scrapes: two gateways on the same aggregator, each
 *    with 5,000 clients (interval 1 s, the fan-out scenario's ten filters),
 *    measured over the same windows; the first window scrapes gateway A
 *    every second, the second gateway B, so a difference between the two
 *    processes themselves cancels out.
 *
 * The feed (2,000 events/s, every cell one request a second) is posted
 * by this process, in four batches a second, to keep all 1,000 cells live.
 * BENCH_PROMETHEUS_SHAPES=series runs only the first shape.
 */
import { gzipSync } from 'node:zlib';
import { ClientFleet } from './lib/client-fleet.js';
import { GATEWAY_LIMITS, Pipeline } from './lib/pipeline.js';
import { sleep } from './lib/ports.js';
import { CpuMeter, type CpuWindow } from './lib/proc-stats.js';
import { ServiceProcess } from './lib/services.js';
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
  shapes: PrometheusShapeResult[];
}

export interface PrometheusShapeResult {
  shape: { name: string; nodes: number; endpoints: number; models: number };
  cells: number;
  series: number;
  /** Lines of the exposition (samples and comments). */
  lines: number;
  bytes: number;
  /** What gzip would make of it (the gateway sends it uncompressed). */
  gzipBytes: number;
  /** First scrape after a snapshot (builds the text), and a second one right after (the copy built). */
  first: ScrapeFigures;
  repeat: ScrapeFigures;
  clients: number;
  measureSeconds: number;
  /** Per window: which gateway was scraped, the CPU of both, the scrapes' times. */
  windows: { scraped: 'A' | 'B'; cpu: { A: number; B: number }; scrapeMs: { p50: number; p99: number }; window: CpuWindow; deliveredPerSec: { A: number; B: number } }[];
  /** Summed over both windows: the scraped gateway's CPU and the unscraped one's. */
  cpu: GatewayCpu;
  /** scraped ÷ unscraped. */
  cpuRatio: number;
  /** scraped − unscraped, % of one core: what one scrape a second costs beside the clients. */
  cpuDeltaPct: number;
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

async function scrape(url: string): Promise<{ ms: number; text: string }> {
  const t0 = performance.now();
  const res = await fetch(`${url}${PATH}`, { signal: AbortSignal.timeout(10_000) });
  const text = await res.text();
  const ms = performance.now() - t0;
  if (res.status !== 200) throw new Error(`${url}${PATH}: ${res.status}`);
  return { ms, text };
}

const seriesIn = (text: string) => text.split('\n').filter((l) => l.startsWith('pulse_requests_total{')).length;

function figures(ms: number[]): ScrapeFigures {
  const s = [...ms].sort((a, b) => a - b);
  return { scrapes: s.length, ms: { p50: round(percentile(s, 0.5), 2), p99: round(percentile(s, 0.99), 2), max: round(s.at(-1) ?? NaN, 2) } };
}

/** Scrapes `url` once a second (on the second of the loop's start) until `stop` resolves; the times, ms. */
async function scrapeEverySecond(url: string, until: Promise<void>): Promise<number[]> {
  let done = false;
  void until.then(() => (done = true));
  const out: number[] = [];
  const t0 = Date.now();
  for (let k = 1; !done; k++) {
    out.push((await scrape(url)).ms);
    const wait = t0 + k * 1000 - Date.now();
    if (wait > 0) await Promise.race([sleep(wait), until]);
  }
  return out;
}

export async function benchPrometheus(log: (line: string) => void): Promise<PrometheusCostResult> {
  const only = process.env.BENCH_PROMETHEUS_SHAPES?.split(',');
  const shapes: PrometheusShapeResult[] = [];
  for (const shape of SHAPES.filter((s) => !only || only.includes(s.name))) shapes.push(await benchShape(shape, log));
  return { tickMs: TICK_MS, shapes };
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

    // 1. Scrape time and bytes, no clients.
    const first: number[] = [];
    const repeat: number[] = [];
    let text = '';
    for (let i = 0; i < SCRAPE_SECONDS; i++) {
      const t0 = Date.now();
      const s1 = await scrape(a.url);
      const s2 = await scrape(a.url);
      first.push(s1.ms);
      repeat.push(s2.ms);
      text = s2.text;
      await sleep(Math.max(0, 1000 - (Date.now() - t0)));
    }
    const bytes = Buffer.byteLength(text);
    const series = seriesIn(text);
    const scrapeFigures = { first: figures(first), repeat: figures(repeat) };
    say(
      `${series} series, ${text.split('\n').length - 1} lines, ${bytes} bytes (gzip ${gzipSync(text).length}); ` +
        `first scrape after a snapshot p50 ${scrapeFigures.first.ms.p50} ms (p99 ${scrapeFigures.first.ms.p99}), repeat p50 ${scrapeFigures.repeat.ms.p50} ms (p99 ${scrapeFigures.repeat.ms.p99})`,
    );

    // 2. CPU beside 5,000 clients each, scraped once a second or not at all.
    fleet = await ClientFleet.start(2 * CLIENTS);
    const ca = await fleet.connect('A', `ws://127.0.0.1:${a.port}/metrics/stream`, CLIENTS, FILTERS);
    const cb = await fleet.connect('B', `ws://127.0.0.1:${b.port}/metrics/stream`, CLIENTS, FILTERS);
    say(`${ca.open} clients on gateway A in ${ca.ms} ms, ${cb.open} on gateway B in ${cb.ms} ms`);
    if (ca.open < CLIENTS || cb.open < CLIENTS) throw new Error(`clients open: A ${ca.open}, B ${cb.open} of ${CLIENTS}`);
    await sleep(WARMUP_MS);

    const windows: PrometheusShapeResult['windows'] = [];
    for (const scraped of ['A', 'B'] as const) {
      const gw = scraped === 'A' ? a : b;
      const meter = new CpuMeter(() => [...pipeline.pids().filter((p) => p.name !== 'gateway'), { name: 'A', pid: a.pid }, { name: 'B', pid: b.pid }, ...fleet!.pids()]);
      await fleet.begin();
      meter.begin();
      const measured = sleep(MEASURE_MS);
      const times = await scrapeEverySecond(gw.url, measured);
      await measured;
      const window = meter.end();
      const stats = await fleet.end();
      const sorted = [...times].sort((x, y) => x - y);
      const delivered = (label: string) => round((stats[label]?.messages ?? 0) / window.seconds, 0);
      windows.push({
        scraped,
        cpu: { A: window.cpuPct.A!, B: window.cpuPct.B! },
        scrapeMs: { p50: round(percentile(sorted, 0.5), 2), p99: round(percentile(sorted, 0.99), 2) },
        window,
        deliveredPerSec: { A: delivered('A'), B: delivered('B') },
      });
      say(
        `scraping ${scraped} every second (${times.length} scrapes, p50 ${round(percentile(sorted, 0.5), 1)} ms): gateway A ${window.cpuPct.A} %, B ${window.cpuPct.B} % of a core; ` +
          `delivered/s A ${delivered('A')}, B ${delivered('B')}; host busy ${window.hostBusyPct} %` +
          (Math.min(delivered('A'), delivered('B')) < 0.95 * CLIENTS ? ' — WARNING: not every client got every update; the machine is overloaded and this window says little' : ''),
      );
      await sleep(2000);
    }
    const scrapedCpu = windows.reduce((s, w) => s + w.cpu[w.scraped], 0);
    const unscrapedCpu = windows.reduce((s, w) => s + w.cpu[w.scraped === 'A' ? 'B' : 'A'], 0);
    return {
      shape: { name: shape.name, nodes: shape.nodes, endpoints: shape.endpoints.length, models: shape.models.length },
      cells: CELLS,
      series,
      lines: text.split('\n').length - 1,
      bytes,
      gzipBytes: gzipSync(text).length,
      ...scrapeFigures,
      clients: CLIENTS,
      measureSeconds: MEASURE_MS / 1000,
      windows,
      cpu: { scraped: round(scrapedCpu / windows.length, 1), unscraped: round(unscrapedCpu / windows.length, 1) },
      cpuRatio: round(scrapedCpu / unscrapedCpu, 3),
      cpuDeltaPct: round((scrapedCpu - unscrapedCpu) / windows.length, 2),
    };
  } finally {
    await fleet?.disconnect().catch(() => undefined);
    await fleet?.stop();
    await feed.stop();
    await other?.stop();
    await pipeline.stop();
  }
}
