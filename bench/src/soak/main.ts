/**
 * `npm run soak`: the whole cluster as separate processes (redis-server, 2 ×
 * ingest, aggregator, gateway) under the simulator's load through a fault
 * proxy and thousands of WebSocket clients, for PULSE_SOAK_MINUTES; every
 * process sampled (RSS, heap after GC, aggregator /status, Redis memory).
 * Then the verdicts: memory flat, no error logged, no client dropped, every
 * accepted event applied by both aggregators. Writes bench/results/soak.json,
 * docs/SOAK.md and docs/soak-memory.svg; exits 0 only when all pass.
 * `--render` rewrites the two docs from soak.json without running anything.
 * Not part of `npm test`.
 */
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { pulseKeys } from '@pulse/protocol';
import { machineInfo } from '../lib/machine.js';
import { sleep } from '../lib/ports.js';
import { SoakCluster } from './cluster.js';
import { clientFilters, soakConfig } from './config.js';
import { SoakLoad } from './load.js';
import { renderSoakMarkdown } from './markdown.js';
import { soakPlot } from './plot.js';
import type { SoakProcessInfo, SoakResult } from './result.js';
import { takeSample, type Sample } from './sample.js';
import { settle } from './settle.js';
import { clientsVerdict, eventsVerdict, logLevels, logVerdict, memoryVerdict, type Point } from './verdicts.js';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const logDir = join(root, 'bench/results/soak-logs');
const log = (line: string) => console.log(`[${new Date().toISOString().slice(11, 19)}] ${line}`);

const resultFile = join(root, 'bench/results/soak.json');

if (process.argv.includes('--render')) {
  writeDocs(JSON.parse(readFileSync(resultFile, 'utf8')) as SoakResult);
  log('rewrote docs/SOAK.md and docs/soak-memory.svg from bench/results/soak.json');
  process.exit(0);
}

const cfg = soakConfig(process.env);
const durationS = cfg.minutes * 60;
const machine = machineInfo();
const startedAt = new Date().toISOString();
rmSync(logDir, { recursive: true, force: true });
mkdirSync(logDir, { recursive: true });
log(
  `soak: ${cfg.minutes} min, sample every ${cfg.sampleSeconds} s, ${cfg.rate} req/s, ${cfg.clients} clients, fault share ${cfg.faultShare}; ` +
    `load average ${machine.loadAvg.join(' ')}; logs in bench/results/soak-logs/`,
);

const cluster = await SoakCluster.start(logDir);
const redis = new Redis(cluster.redis.url);
let load: SoakLoad | null = null;
let exits: Record<string, number | string | null> = {};
let run: Awaited<ReturnType<typeof soak>>;
try {
  load = await SoakLoad.start(cfg, cluster.of('ingest').map((s) => s.service.url));
  run = await soak(load);
} finally {
  redis.disconnect();
  await load?.stop();
  exits = { simulator: (await load?.stopSimulator()) ?? null, ...(await cluster.stop()) };
  await Promise.all(cluster.services.map((s) => s.service.logWritten));
}
const result = verdicts(run);

mkdirSync(join(root, 'bench/results'), { recursive: true });
writeFileSync(resultFile, JSON.stringify(result, null, 2) + '\n');
writeDocs(result);
printSummary(result);
log(`wrote bench/results/soak.json, docs/SOAK.md and docs/soak-memory.svg: ${result.verdicts.pass ? 'PASS' : 'FAIL'}`);
// Sockets of stopped workers may keep handles alive a moment; the results are written.
process.exit(result.verdicts.pass ? 0 : 1);

/** The run itself: clients, load, samples, then the simulator stopped and the aggregators settled. */
async function soak(load: SoakLoad) {
  const connected = await load.connectClients(cluster.of('gateway').map((g) => ({ name: g.name, port: g.service.port })));
  log(`${connected.open} clients open (${connected.failed} failed); simulator starting through the fault proxy at ${load.proxyUrl}`);
  const beginMs = Date.now();
  load.startSimulator(logDir);

  const t0 = performance.now();
  const samples: Sample[] = [];
  const sample = async () => {
    const s = await takeSample((performance.now() - t0) / 1000, cluster, load, redis, pulseKeys().events, (w) => log(`warning: ${w}`));
    samples.push(s);
    log(sampleLine(s));
  };
  await sample();
  for (let k = 1; ; k++) {
    const dueS = Math.min(k * cfg.sampleSeconds, durationS);
    await sleep(t0 + dueS * 1000 - performance.now());
    await sample();
    if (dueS >= durationS) break;
  }
  const gone = (c: { exitCode: number | null; signalCode: string | null }) => c.exitCode !== null || c.signalCode !== null;
  const diedEarly = new Set(cluster.services.filter((s) => gone(s.service.child)).map((s) => s.name));
  if (!load.pids().some((p) => p.name === 'simulator')) diedEarly.add('simulator');

  log('load done: stopping the simulator (it flushes), then waiting for both aggregators to settle');
  await load.stopSimulator();
  const proxy = await load.proxyStats();
  const settled = await settle(cluster, proxy.accepted);
  log(`settled: ${settled.settled} in ${settled.seconds} s; accepted ${proxy.accepted}, applied ${JSON.stringify(settled.applied)}`);
  const endMs = Date.now();
  await load.fleet.end();
  const records = await load.fleet.records();
  return { samples, diedEarly, proxy, settled, records, beginMs, endMs, fleet: load.fleet.pids().map((p) => p.name) };
}

function verdicts(r: Awaited<ReturnType<typeof soak>>): SoakResult {
  const filters = clientFilters(cfg);
  const { samples, diedEarly, proxy, settled } = r;
  const judgedFromS = durationS / 3;
  const points = (pick: (s: Sample) => number | null | undefined): Point[] =>
    samples.flatMap((s) => {
      const v = pick(s);
      return typeof v === 'number' && Number.isFinite(v) ? [{ t: s.t, v }] : [];
    });
  const memory = cluster.services.map(({ name }) =>
    memoryVerdict(
      name,
      { label: 'heap used after GC', points: points((s) => s.procs[name]?.heapUsed) },
      { label: 'RSS', points: points((s) => s.procs[name]?.rss) },
      judgedFromS,
    ),
  );
  const redisVerdict = memoryVerdict(
    'redis',
    { label: 'used_memory', points: points((s) => s.redis?.usedMemory) },
    { label: 'used_memory_rss', points: points((s) => s.redis?.usedMemoryRss) },
    judgedFromS,
  );
  const simulatorLog = readFileSync(join(logDir, 'simulator.log'), 'utf8');
  const logs = [
    ...cluster.services.map(({ name }) => logVerdict(name, logLevels(readFileSync(join(logDir, `${name}.log`), 'utf8')), exits[name] ?? null, diedEarly.has(name))),
    logVerdict('simulator', logLevels(simulatorLog), exits.simulator ?? null, diedEarly.has('simulator')),
  ];
  const clients = clientsVerdict(r.records, filters.map((f) => f.interval as number), cfg.clients, r.beginMs, r.endMs);
  const events = eventsVerdict(proxy.accepted, settled.applied, reporterSent(simulatorLog));
  const processes: SoakProcessInfo[] = [
    ...cluster.services.map(({ name }) => ({ name, kind: 'service' as const, ...(name.startsWith('aggregator') ? { role: roles(samples, name) } : {}) })),
    { name: 'redis', kind: 'redis' },
    ...['simulator', 'fault-proxy', ...r.fleet, 'harness'].map((name) => ({ name, kind: 'load' as const })),
  ];
  return {
    machine,
    startedAt,
    loadAvgAtEnd: machineInfo().loadAvg,
    config: { ...cfg, clientFilters: filters },
    durationSeconds: durationS,
    judgedFromSeconds: judgedFromS,
    processes,
    samples,
    settle: { seconds: settled.seconds, settled: settled.settled },
    proxy,
    verdicts: {
      memory,
      redis: redisVerdict,
      logs,
      clients,
      events,
      pass: memory.every((m) => m.pass) && redisVerdict.pass && logs.every((l) => l.pass) && clients.pass && events.pass,
    },
  };
}

function writeDocs(r: SoakResult): void {
  writeFileSync(join(root, 'docs/SOAK.md'), renderSoakMarkdown(r));
  writeFileSync(join(root, 'docs/soak-memory.svg'), soakPlot(r));
}

function sampleLine(s: Sample): string {
  const mib = (b: number | null | undefined) => (typeof b === 'number' ? (b / 2 ** 20).toFixed(1) : '–');
  const services = cluster.services.map(({ name }) => `${name} ${mib(s.procs[name]?.heapUsed)}/${mib(s.procs[name]?.rss)}`).join(', ');
  const applied = Object.entries(s.aggregators)
    .map(([name, st]) => `${name} ${String(st?.role ?? '?')} ${String(st?.eventsApplied ?? '?')}`)
    .join(', ');
  return (
    `t=${s.t.toFixed(0)} s heap/RSS MiB: ${services}; redis ${mib(s.redis?.usedMemory)}/${mib(s.redis?.usedMemoryRss)} xlen ${s.redis?.streamLength ?? '–'}; ` +
    `accepted ${s.proxy?.accepted ?? '–'}; applied ${applied}`
  );
}

/** An aggregator's roles over the samples, repeats folded: 'leader', or 'standby → leader' after a takeover. */
function roles(samples: Sample[], name: string): string {
  const seen: string[] = [];
  for (const s of samples) {
    const role = s.aggregators[name]?.role;
    if (typeof role === 'string' && seen[seen.length - 1] !== role) seen.push(role);
  }
  return seen.join(' → ') || 'unknown';
}

/** The simulator's last words: `reporter.sent` of its 'simulator stopped' line. */
function reporterSent(text: string): number | null {
  for (const line of text.split('\n').reverse()) {
    if (!line.includes('"simulator stopped"')) continue;
    try {
      const sent = (JSON.parse(line) as { reporter?: { sent?: unknown } }).reporter?.sent;
      return typeof sent === 'number' ? sent : null;
    } catch {
      return null;
    }
  }
  return null;
}

function printSummary(r: SoakResult): void {
  const mib = (b: number | null) => (b === null ? '–' : (b / 2 ** 20).toFixed(1));
  const v = r.verdicts;
  for (const m of [...v.memory, v.redis]) {
    log(
      `${m.name}: ${m.judged} ${mib(m.start.judged)} → ${mib(m.end.judged)} MiB (growth ${m.judgedGrowth?.pct ?? '–'} %, slope ${m.judgedGrowth?.slopePct ?? '–'} %), ` +
        `${m.beside} ${mib(m.start.beside)} → ${mib(m.end.beside)} MiB (growth ${m.besideGrowth?.pct ?? '–'} %): ${m.pass ? 'pass' : 'FAIL'}`,
    );
  }
  for (const l of v.logs) log(`${l.name}: ${l.errors} errors, ${l.warnings} warnings, exit ${l.exit}${l.diedEarly ? ', died during the run' : ''}: ${l.pass ? 'pass' : 'FAIL'}`);
  const c = v.clients;
  log(
    `clients: ${c.connected}/${c.requested} connected, ${c.updates} updates, ${c.dropped} dropped, ${c.errors} errors on ${c.clientsWithErrors} clients, ` +
      `${c.stale} stale, ${c.starved} starved (lowest share ${c.minUpdateShare}): ${c.pass ? 'pass' : 'FAIL'}`,
  );
  log(`events: accepted ${v.events.accepted}, applied ${JSON.stringify(v.events.applied)}, reporter sent ${v.events.reporterSent}: ${v.events.pass ? 'pass' : 'FAIL'}`);
}
