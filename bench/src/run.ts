/**
 * `npm run bench`: runs every scenario in this process or as child
 * processes, writes bench/results/latest.json and the tables of
 * docs/PERFORMANCE.md. Not part of `npm test`.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { fileURLToPath } from 'node:url';
import { benchCells } from './snapshot-views.js';
import { benchSketches } from './sketch-merge.js';
import { renderReport } from './report.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const only = process.argv.slice(2);
const wants = (name: string) => only.length === 0 || only.includes(name);

const results: Record<string, unknown> = {
  machine: { cpus: cpus().length, model: cpus()[0]?.model, memGiB: Math.round(totalmem() / 2 ** 30), node: process.version },
  startedAt: new Date().toISOString(),
};

if (wants('sketch')) {
  console.log('sketch: DDSketch vs Pulse histogram');
  results.sketch = benchSketches();
  console.log(results.sketch);
}
if (wants('snapshot')) {
  results.snapshot = [10, 100, 1000].map((cells) => {
    console.log(`snapshot and views: ${cells} cells`);
    const r = benchCells(cells);
    console.log(JSON.stringify(r));
    return r;
  });
}

mkdirSync(`${root}bench/results`, { recursive: true });
writeFileSync(`${root}bench/results/latest.json`, JSON.stringify(results, null, 2) + '\n');
writeFileSync(`${root}docs/PERFORMANCE.md`, renderReport(results));
console.log('wrote bench/results/latest.json and docs/PERFORMANCE.md');
