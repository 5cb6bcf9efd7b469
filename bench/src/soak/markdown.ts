/** docs/SOAK.md from one soak run (bench/results/soak.json). */
import { n, pct, table } from '../report/format.js';
import type { SoakResult } from './result.js';
import { GROWTH_LIMIT_PCT, type Growth, type MemoryVerdict } from './verdicts.js';

/** A soak shorter than this says so: early growth (caches filling, JIT, Redis's idempotency keys for 10 min) is not a leak. */
export const MEANINGFUL_MINUTES = 30;

export function renderSoakMarkdown(r: SoakResult): string {
  const c = r.config;
  const v = r.verdicts;
  const m = r.machine;
  const minutes = r.durationSeconds / 60;
  const out: string[] = [
    '# Soak',
    '',
    `Measured by \`npm run soak\` on ${m.cpus} × ${m.model}, ${m.memGiB} GiB, Node ${m.node}, ${r.startedAt}: ` +
      `${n(minutes, 1)} min of load, every process sampled every ${c.sampleSeconds} s. ` +
      `Load average before ${m.loadAvg.join(' / ')}, after ${r.loadAvgAtEnd.join(' / ')}. Figures from bench/results/soak.json.`,
    '',
  ];
  if (minutes < MEANINGFUL_MINUTES) {
    out.push(
      `> A short run (${n(minutes, 1)} min): the memory verdicts mean something from ${MEANINGFUL_MINUTES} min on (ingest's idempotency keys alone fill Redis for 10 min).`,
      '',
    );
  }
  out.push(
    `**Overall: ${v.pass ? 'PASS' : 'FAIL'}**`,
    '',
    ...table(
      ['verdict', 'result', ''],
      [
        ['memory: every service\'s heap after GC flat', ok(v.memory.every((x) => x.pass)), worst(v.memory)],
        ['Redis used_memory flat', ok(v.redis.pass), growthText(v.redis.judgedGrowth)],
        ['no error logged, exit 0 on SIGTERM', ok(v.logs.every((x) => x.pass)), `${n(sum(v.logs.map((l) => l.errors)))} error lines, ${n(sum(v.logs.map((l) => l.warnings)))} warnings`],
        ['no client dropped, all updated to the end', ok(v.clients.pass), `${n(v.clients.dropped)} dropped of ${n(v.clients.connected)}`],
        ['every accepted event applied by both aggregators', ok(v.events.pass), `${n(v.events.accepted)} accepted`],
      ],
    ),
    '',
    '## Setup',
    '',
    'Separate processes on 127.0.0.1, as `npm run bench` starts them: a `redis-server` (no persistence), two ingest nodes, two aggregators',
    '(one leader, one hot standby tailing the same stream) and two gateways, each `node services/<name>/dist/main.js` with `--inspect`.',
    `The simulator (${n(c.rate)} requests/s over ${c.nodes} nodes, ${c.endpoints.length} endpoints × ${c.models.length} models) posts through a fault proxy that answers`,
    `${pct(c.faultShare * 100)} of \`POST /v1/events\` (spread evenly, the same ones every run) with \`503\` + \`Retry-After: 1\` without forwarding, and passes the rest to the`,
    'two ingest nodes in turn; the reporter retries under the same `Idempotency-Key`. The proxy counts, once per key, the `accepted` of each 202:',
    `the events the cluster accepted. ${n(c.clients)} WebSocket clients, half on each gateway, cycle through ${c.clientFilters.length} subscriptions:`,
    `no filter, three endpoints, one model, two metric-type subsets, each at ${c.intervals.join(', ')} s.`,
    '',
    ...table(
      ['variable', 'this run', 'default'],
      [
        ['`PULSE_SOAK_MINUTES`', n(minutes, 2), '30'],
        ['`PULSE_SOAK_SAMPLE_SECONDS`', n(c.sampleSeconds), '30'],
        ['`PULSE_SOAK_RATE`', n(c.rate), '400'],
        ['`PULSE_SOAK_CLIENTS`', n(c.clients), '2000'],
        ['`PULSE_SOAK_FAULT_SHARE`', n(c.faultShare, 3), '0.05'],
      ],
    ),
    '',
    '## Memory',
    '',
    '![heap after GC and RSS of every process over the run](soak-memory.svg)',
    '',
    'Each sample forces a full GC in each service through its V8 inspector (`HeapProfiler.collectGarbage`), then reads',
    '`process.memoryUsage()`: heap used after GC is what the process holds on to, so it is the figure judged. RSS (VmRSS from',
    '/proc) is reported beside it: it also holds freed pages the allocator keeps, so it lags and overshoots. Growth is over the',
    `last two thirds of the run (from ${n(r.judgedFromSeconds / 60, 1)} min): the median of its first three samples against the median of its last three;`,
    `≤ ${GROWTH_LIMIT_PCT} % passes. The least-squares slope over the same span, × its length ÷ the mean, is in brackets.`,
    '',
    ...table(
      ['process', 'role', 'heap after GC, start → end', 'heap growth', 'RSS, start → end', 'RSS growth', 'verdict'],
      v.memory.map((x) => [x.name, roleOf(r, x.name), startEnd(x.start.judged, x.end.judged), growthText(x.judgedGrowth), startEnd(x.start.beside, x.end.beside), growthText(x.besideGrowth), ok(x.pass)]),
    ),
    '',
    ...table(
      ['Redis', 'used_memory, start → end', 'growth', 'used_memory_rss, start → end', 'growth', 'stream length, start → end', 'verdict'],
      [['redis', startEnd(v.redis.start.judged, v.redis.end.judged), growthText(v.redis.judgedGrowth), startEnd(v.redis.start.beside, v.redis.end.beside), growthText(v.redis.besideGrowth), streamEnds(r), ok(v.redis.pass)]],
    ),
    '',
    'Load generators and the harness (reported, not judged), RSS:',
    '',
    ...table(
      ['process', 'RSS, start → end'],
      r.processes.filter((p) => p.kind === 'load').map((p) => [p.name, startEnd(...rssEnds(r, p.name))]),
    ),
    '',
    ...aggregatorStatus(r),
    '## Events',
    '',
    ...table(
      ['count', 'events'],
      [
        ['accepted by the cluster (the proxy, once per Idempotency-Key)', n(v.events.accepted)],
        ...Object.entries(v.events.applied).map(([name, a]) => [`applied by ${name} (${roleOf(r, name)}), final \`eventsApplied\``, a === null ? 'not reported' : n(a)]),
        ["sent according to the simulator's reporter", v.events.reporterSent === null ? 'not logged' : n(v.events.reporterSent)],
      ],
    ),
    '',
    `POSTs ${n(r.proxy.posts)}: ${n(r.proxy.faults)} answered 503 by the proxy, ${n(r.proxy.forwarded)} forwarded (${Object.entries(r.proxy.statuses)
      .map(([s, k]) => `${n(k)} × ${s}`)
      .join(', ')}), ${n(r.proxy.upstreamErrors)} without an answer; ${n(r.proxy.batches)} batches accepted, ${n(r.proxy.replays)} replayed replies. ` +
      `After the simulator stopped, the aggregators ${r.settle.settled ? 'settled' : 'had not settled'} in ${n(r.settle.seconds, 1)} s. Verdict: ${ok(v.events.pass)}.`,
    '',
    '## Clients',
    '',
    ...table(
      ['connected / asked', 'updates', 'dropped', 'errors (clients)', 'stale at the end', 'starved (< 80 % of promised updates)', 'lowest received ÷ promised', 'verdict'],
      [
        [
          `${n(v.clients.connected)} / ${n(v.clients.requested)}`,
          n(v.clients.updates),
          n(v.clients.dropped),
          `${n(v.clients.errors)} (${n(v.clients.clientsWithErrors)})`,
          n(v.clients.stale),
          n(v.clients.starved),
          n(v.clients.minUpdateShare, 2),
          ok(v.clients.pass),
        ],
      ],
    ),
    '',
    '## Logs',
    '',
    'Every process logs NDJSON; a line at level ≥ 50 (error, fatal) fails, warnings (40) are listed. The full logs are in',
    'bench/results/soak-logs/ after a run (not committed).',
    '',
    ...table(
      ['process', 'errors', 'warnings', 'exit on SIGTERM', 'verdict'],
      v.logs.map((l) => [l.name, n(l.errors), n(l.warnings), l.diedEarly ? `died during the run (${l.exit})` : String(l.exit), ok(l.pass)]),
    ),
    '',
  );
  for (const l of v.logs) {
    if (l.errorLines.length + l.warningLines.length === 0) continue;
    out.push(`${l.name}, first lines:`, '', '```', ...l.errorLines, ...l.warningLines, '```', '');
  }
  return out.join('\n');
}

function aggregatorStatus(r: SoakResult): string[] {
  const last = r.samples[r.samples.length - 1];
  const rows = Object.entries(last?.aggregators ?? {});
  if (rows.length === 0) return [];
  const fields = ['role', 'buckets', 'cells', 'nodes', 'inFlight', 'eventsApplied', 'appliedId'];
  return [
    `Aggregators' \`/status\` at the last sample (${n((last?.t ?? 0) / 60, 1)} min):`,
    '',
    ...table(
      ['aggregator', ...fields],
      rows.map(([name, s]) => [name, ...fields.map((k) => (s && k in s ? (typeof s[k] === 'number' ? n(s[k] as number) : String(s[k])) : '–'))]),
    ),
    '',
  ];
}

function roleOf(r: SoakResult, name: string): string {
  return r.processes.find((p) => p.name === name)?.role ?? '–';
}

function rssEnds(r: SoakResult, name: string): [number | null, number | null] {
  const values = r.samples.map((s) => s.procs[name]?.rss ?? null).filter((x): x is number => x !== null);
  return [values[0] ?? null, values[values.length - 1] ?? null];
}

function streamEnds(r: SoakResult): string {
  const lengths = r.samples.map((s) => s.redis?.streamLength).filter((x): x is number => x !== undefined);
  return `${n(lengths[0])} → ${n(lengths[lengths.length - 1])}`;
}

function startEnd(a: number | null, b: number | null): string {
  return `${mib(a)} → ${mib(b)} MiB`;
}

function mib(bytes: number | null): string {
  return bytes === null ? '–' : n(bytes / 2 ** 20, 1);
}

function growthText(g: Growth | null): string {
  return g === null ? 'too few samples' : `${signed(g.pct)} (${signed(g.slopePct)})`;
}

function signed(v: number): string {
  return `${v > 0 ? '+' : ''}${n(v, 1)} %`;
}

function worst(memory: MemoryVerdict[]): string {
  const w = [...memory].sort((a, b) => (b.judgedGrowth?.pct ?? Infinity) - (a.judgedGrowth?.pct ?? Infinity))[0];
  return w ? `largest: ${w.name} ${growthText(w.judgedGrowth)}` : '';
}

function ok(pass: boolean): string {
  return pass ? 'pass' : '**FAIL**';
}

function sum(values: number[]): number {
  return values.reduce((a, b) => a + b, 0);
}
