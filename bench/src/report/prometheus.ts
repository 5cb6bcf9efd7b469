/** The Prometheus export's cost (issue 15, item 6): render time before and after, scrape time and bytes uncompressed and gzipped at 1,000 cells, gateway CPU with a scrape a second beside 5,000 clients. */
import type { PrometheusCostResult, PrometheusShapeResult } from '../prometheus-cost.js';
import { machineLoad, n, pct, ratio, table } from './format.js';

const shapeName = (s: PrometheusShapeResult) => `${n(s.cells)} cells = ${s.shape.nodes} × ${s.shape.endpoints} × ${s.shape.models} (${n(s.series)} series)`;
const ms = (x: { p50: number; p99: number }) => `${n(x.p50, 1)} / ${n(x.p99, 1)}`;

export function prometheusSection(r: PrometheusCostResult): string[] {
  const out = [
    '## Prometheus export: GET /metrics/prometheus',
    '',
    `Rendering the exposition of ${n(r.render.series)} series (${n(r.render.bytes)} bytes) in one process, on the same snapshots: before, the renderer as it`,
    'was (arrays of lines, spread and joined, every series rewritten for every snapshot, and the text encoded again by every scrape);',
    "after, the gateway's (strings written directly and assembled as bytes, and a series' counter and histogram lines kept while its",
    'figures stay the same). Every text after was checked equal to the text before.',
    '',
    ...table(
      ['cells changed per tick', 'before: render p50 / p99 ms', 'after: render to bytes p50 / p99 ms', "series' lines reused"],
      r.render.rows.map((row) => [`${row.changedPct} %`, ms(row.beforeMs), ms(row.afterMs), n(row.reusedSeries)]),
    ),
    '',
    `Before, each scrape also encoded the text: ${n(r.render.encodeMs, 1)} ms (p50) at this size; now the bytes are built once per snapshot.`,
    '',
    'Two shapes of 1,000 cells (nodes × endpoints × models): one node, so every cell is a series of its own (the worst case per',
    "cell: series are summed over nodes), and 10 nodes × 100 endpoint × model pairs, 100 series (a cluster's usual shape). Each on",
    `a fresh redis-server, ingest and aggregator, tick ${r.tickMs} ms, every cell fed one request a second by the bench (2,000 events/s),`,
    'so every cell changes every tick here: no series is reused. The gateway builds the body once per snapshot, on the first scrape',
    `after it, and gzips it (level ${r.gzipLevel}) once, on the first scrape that accepts gzip. Every second for 30 s the bench scrapes one`,
    'gateway twice back to back (time to the whole body as sent, over loopback, keep-alive, no clients connected), uncompressed and',
    'with `Accept-Encoding: gzip` (as Prometheus asks) in alternate seconds: the first scrape pays for the build (and the',
    'compression), the second is served from the copy built.',
    '',
    ...table(
      ['shape', 'uncompressed bytes', 'gzipped bytes', 'lines', 'uncompressed: first / repeat scrape p50 ms', 'gzipped: first / repeat scrape p50 ms', 'p99 ms, the same four'],
      r.shapes.map((s) => [
        shapeName(s),
        n(s.bytes),
        n(s.gzipBytes),
        n(s.lines),
        `${n(s.scrapes.identity.first.ms.p50, 1)} / ${n(s.scrapes.identity.repeat.ms.p50, 1)}`,
        `${n(s.scrapes.gzip.first.ms.p50, 1)} / ${n(s.scrapes.gzip.repeat.ms.p50, 1)}`,
        [s.scrapes.identity.first, s.scrapes.identity.repeat, s.scrapes.gzip.first, s.scrapes.gzip.repeat].map((f) => n(f.ms.p99, 1)).join(' / '),
      ]),
    ),
    '',
    "gzip's levels on the 1,000-series body, async on zlib's thread pool as the gateway runs it (in the bench's process; the event",
    'loop is held only to hand the buffer over):',
    '',
    ...table(
      ['shape', ...(r.shapes[0]?.gzipLevels ?? []).map((l) => `level ${l.level}: bytes, ms, loop held ms`)],
      r.shapes.map((s) => [shapeName(s), ...s.gzipLevels.map((l) => `${n(l.bytes)}, ${n(l.ms, 1)}, ${n(l.loopBlockedMs, 1)}`)]),
    ),
    '',
    `Gateway CPU beside ${n(r.shapes[0]?.clients)} WebSocket clients (interval 1 s, the fan-out scenario's ten filters), with one scrape a`,
    `second and with none, side by side: two gateways on the same aggregator, ${n(r.shapes[0]?.clients)} clients each, measured over the same`,
    `${r.shapes[0]?.measureSeconds ?? '–'} s windows; one window scrapes gateway A every second, the next gateway B, so a difference between the`,
    'two processes cancels out; the pair of windows once uncompressed, once gzipped. CPU is utime + stime, % of one core (kernel',
    'part in brackets: mostly the socket writes).',
    '',
    ...table(
      ['shape', 'window', 'gateway A CPU', 'gateway B CPU', 'scrape p50 / p99 ms', 'delivered msgs/s A / B', 'machine'],
      r.shapes.flatMap((s) =>
        s.windows.map((w) => [
          shapeName(s),
          `scraping ${w.scraped}, ${w.encoding === 'gzip' ? 'gzipped' : 'uncompressed'}`,
          `${pct(w.cpu.A)} (${pct(w.window.sysPct.A)})`,
          `${pct(w.cpu.B)} (${pct(w.window.sysPct.B)})`,
          ms(w.scrapeMs),
          `${n(w.deliveredPerSec.A)} / ${n(w.deliveredPerSec.B)}`,
          machineLoad(w.window),
        ]),
      ),
    ),
    '',
    ...table(
      ['shape', 'scrape', 'gateway CPU, scraped every second', 'not scraped', 'ratio', 'a scrape a second costs'],
      r.shapes.flatMap((s) =>
        s.cpu.map((c) => [shapeName(s), c.encoding === 'gzip' ? 'gzipped' : 'uncompressed', pct(c.cpu.scraped), pct(c.cpu.unscraped), ratio(c.ratio), `${n(c.deltaPct, 1)} % of a core`]),
      ),
    ),
    '',
  ];
  return out;
}
