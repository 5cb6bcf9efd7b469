/**
 * `npm run bench [scenario…]`: starts what each scenario needs (a local
 * redis-server, Pulse's services and the load generators as separate
 * processes), runs it, and writes the results. Not part of `npm test`.
 *
 * A full run writes bench/results/latest.json and docs/PERFORMANCE.md, so
 * every figure there comes from one run; naming scenarios runs only those
 * and writes bench/results/partial.json. `--render` rewrites
 * docs/PERFORMANCE.md from latest.json without measuring anything. Either
 * way PERFORMANCE.md summarizes the last soak (bench/results/soak.json,
 * `npm run soak`) when there is one.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { machineInfo } from './lib/machine.js';
import { renderReport } from './report.js';
import { SCENARIOS } from './scenarios.js';
import type { SoakResult } from './soak/result.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const resultsDir = `${root}bench/results`;
const args = process.argv.slice(2);
const soakFile = `${resultsDir}/soak.json`;
const soak = existsSync(soakFile) ? (JSON.parse(readFileSync(soakFile, 'utf8')) as SoakResult) : undefined;

if (args.includes('--render')) {
  const results = JSON.parse(readFileSync(`${resultsDir}/latest.json`, 'utf8')) as Record<string, unknown>;
  writeFileSync(`${root}docs/PERFORMANCE.md`, renderReport(results, soak));
  console.log('rewrote docs/PERFORMANCE.md from bench/results/latest.json');
  process.exit(0);
}

const unknown = args.filter((a) => !SCENARIOS.some((s) => s.name === a));
if (unknown.length > 0) {
  console.error(`unknown scenario ${unknown.join(', ')}; known: ${SCENARIOS.map((s) => s.name).join(', ')}`);
  process.exit(2);
}
const full = args.length === 0;
const log = (line: string) => console.log(`[${new Date().toISOString().slice(11, 19)}] ${line}`);

const t0 = Date.now();
const failed: string[] = [];
const busy = machineInfo().loadAvg[0]!;
if (busy > 1) {
  // Everything here is measured against a floor or ceiling in the same run, but noise still widens every figure.
  log(`warning: load average ${busy} before the run; the figures of a busy machine are noisier (and worse)`);
}
const results: Record<string, unknown> = { machine: machineInfo(), startedAt: new Date().toISOString() };
for (const scenario of SCENARIOS) {
  if (!full && !args.includes(scenario.name)) continue;
  if (!(await scenario.available())) {
    log(`${scenario.name}: skipped (${scenario.unavailable})`);
    continue;
  }
  const started = Date.now();
  log(`${scenario.name}: start (load average ${machineInfo().loadAvg.join(' ')})`);
  try {
    results[scenario.name] = await scenario.run(log);
    log(`${scenario.name}: done in ${Math.round((Date.now() - started) / 1000)} s`);
  } catch (err) {
    // One broken scenario must not cost the figures of the others.
    results[scenario.name] = { error: String((err as Error)?.stack ?? err) };
    failed.push(scenario.name);
    log(`${scenario.name}: FAILED: ${(err as Error)?.message ?? err}`);
  }
}
results.durationSeconds = Math.round((Date.now() - t0) / 1000);
results.loadAvgAtEnd = machineInfo().loadAvg;

mkdirSync(resultsDir, { recursive: true });
const file = full ? 'latest.json' : 'partial.json';
writeFileSync(`${resultsDir}/${file}`, JSON.stringify(results, null, 2) + '\n');
if (full) writeFileSync(`${root}docs/PERFORMANCE.md`, renderReport(results, soak));
log(`wrote bench/results/${file}${full ? ' and docs/PERFORMANCE.md' : ''} (${results.durationSeconds} s)`);
// Sockets of stopped workers may keep handles alive a moment; the results are written.
process.exit(failed.length === 0 && existsSync(`${resultsDir}/${file}`) ? 0 : 1);
