/** Renders docs/PERFORMANCE.md from the results of one bench run. */
import type { CellsResult } from './snapshot-views.js';
import type { SketchResult } from './sketch-merge.js';

export function renderReport(results: Record<string, unknown>): string {
  const machine = results.machine as { cpus: number; model: string; memGiB: number; node: string };
  const out: string[] = [
    '# Performance',
    '',
    `Measured by \`npm run bench\` on ${machine.cpus} × ${machine.model}, ${machine.memGiB} GiB, Node ${machine.node}, ${results.startedAt as string}.`,
    'Every figure below comes from that one run (bench/results/latest.json); ratios compare figures measured side by side in it.',
    '',
  ];
  const sketch = results.sketch as SketchResult | undefined;
  if (sketch) {
    out.push(
      '## Quantile sketch: DDSketch vs Pulse\'s log-bucket histogram',
      '',
      `Same samples (lognormal latencies), relative accuracy 1 %, ${sketch.samplesPerSketch} samples per sketch.`,
      '',
      '| | @datadog/sketches-js | Pulse LogHistogram |',
      '|---|---|---|',
      `| add, ns/sample | ${sketch.addNs.ddsketch} | ${sketch.addNs.pulse} |`,
      `| merge, µs/sketch | ${sketch.mergeUs.ddsketch} | ${sketch.mergeUs.pulse} |`,
      '',
      `Merging is ${sketch.mergeSpeedup}× faster, and a gateway merges one histogram per cell per view per tick.`,
      '',
    );
  }
  const cells = results.snapshot as CellsResult[] | undefined;
  if (cells) {
    out.push(
      '## Snapshot build and view build',
      '',
      'Each cell saw two requests per 500 ms tick over a full 60 s window. Snapshot build = expire + build + encode',
      'on the aggregator; view build = decode once, then build and JSON-serialize each distinct view on a gateway.',
      '',
      '| cells | events in window | snapshot build p50 / p99 ms | payload bytes | 1 view ms/tick | 10 views ms/tick | 100 views ms/tick | ms per view (100) |',
      '|---|---|---|---|---|---|---|---|',
      ...cells.map((c) => {
        const v = (n: number) => c.views.find((x) => x.views === n)!;
        return `| ${c.cells} | ${c.eventsInWindow} | ${c.snapshotBuildMs.p50} / ${c.snapshotBuildMs.p99} | ${c.payloadBytes} | ${v(1).perTickMs.p50} | ${v(10).perTickMs.p50} | ${v(100).perTickMs.p50} | ${v(100).perViewMs} |`;
      }),
      '',
    );
  }
  return out.join('\n') + '\n';
}
