/** The Prometheus export's cost (issue 15, item 6): scrape time and bytes at 1,000 cells, gateway CPU with a scrape a second beside 5,000 clients. */
import type { PrometheusCostResult, PrometheusShapeResult } from '../prometheus-cost.js';
import { machineLoad, n, pct, ratio, table } from './format.js';

const shapeName = (s: PrometheusShapeResult) => `${n(s.cells)} cells = ${s.shape.nodes} × ${s.shape.endpoints} × ${s.shape.models} (${n(s.series)} series)`;

export function prometheusSection(r: PrometheusCostResult): string[] {
  const out = [
    '## Prometheus export: GET /metrics/prometheus',
    '',
    'Two shapes of 1,000 cells (nodes × endpoints × models): one node, so every cell is a series of its own (the worst case per',
    'cell: series are summed over nodes), and 10 nodes × 100 endpoint × model pairs, 100 series (a cluster\'s usual shape). Each on',
    `a fresh redis-server, ingest and aggregator, tick ${r.tickMs} ms, every cell fed one request a second by the bench (2,000 events/s).`,
    'The gateway builds the text once per snapshot, on the first scrape after it, and serves that copy to later scrapes of the same',
    'snapshot. Every second for 30 s the bench scrapes one gateway twice back to back (time to the whole body, over loopback,',
    'keep-alive, no clients connected): the first pays for the build, the second is served from the copy built.',
    '',
    ...table(
      ['shape', 'bytes', 'gzip would be', 'lines', 'first scrape p50 / p99 ms', 'repeat scrape p50 / p99 ms'],
      r.shapes.map((s) => [shapeName(s), n(s.bytes), n(s.gzipBytes), n(s.lines), `${n(s.first.ms.p50, 1)} / ${n(s.first.ms.p99, 1)}`, `${n(s.repeat.ms.p50, 1)} / ${n(s.repeat.ms.p99, 1)}`]),
    ),
    '',
    'The body is sent uncompressed (Prometheus asks for gzip; the gateway does not compress).',
    '',
    `Gateway CPU beside ${n(r.shapes[0]?.clients)} WebSocket clients (interval 1 s, the fan-out scenario's ten filters), with one scrape a`,
    `second and with none, side by side: two gateways on the same aggregator, ${n(r.shapes[0]?.clients)} clients each, measured over the same`,
    `${r.shapes[0]?.measureSeconds ?? '–'} s windows; the first window scrapes gateway A every second, the second gateway B, so a difference between the`,
    'two processes cancels out. CPU is utime + stime, % of one core (kernel part in brackets: mostly the socket writes).',
    '',
    ...table(
      ['shape', 'window', 'gateway A CPU', 'gateway B CPU', 'scrape p50 / p99 ms', 'delivered msgs/s A / B', 'machine'],
      r.shapes.flatMap((s) =>
        s.windows.map((w) => [
          shapeName(s),
          `scraping ${w.scraped}`,
          `${pct(w.cpu.A)} (${pct(w.window.sysPct.A)})`,
          `${pct(w.cpu.B)} (${pct(w.window.sysPct.B)})`,
          `${n(w.scrapeMs.p50, 1)} / ${n(w.scrapeMs.p99, 1)}`,
          `${n(w.deliveredPerSec.A)} / ${n(w.deliveredPerSec.B)}`,
          machineLoad(w.window),
        ]),
      ),
    ),
    '',
    ...table(
      ['shape', 'gateway CPU, scraped every second', 'not scraped', 'ratio', 'a scrape a second costs'],
      r.shapes.map((s) => [shapeName(s), pct(s.cpu.scraped), pct(s.cpu.unscraped), ratio(s.cpuRatio), `${n(s.cpuDeltaPct, 1)} % of a core`]),
    ),
    '',
  ];
  return out;
}
