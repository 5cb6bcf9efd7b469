/** The in-process sections: snapshot build and views, and the quantile sketch comparison. */
import type { CellsResult } from '../snapshot-views.js';
import type { SketchResult } from '../sketch-merge.js';
import type { ValidateResult } from '../validate-events.js';
import { n, table } from './format.js';

export function cellsSection(cells: CellsResult[]): string[] {
  return [
    '## 4. Snapshot build and view build',
    '',
    'In one process, no I/O. Each cell saw two requests per 500 ms tick over a full 60 s window. Snapshot build = expire + build +',
    'encode on the aggregator, every tick. On a gateway, per snapshot: decode once, then build and JSON-serialize each distinct view.',
    'The "1 view" column is the unfiltered view (every cell: the costliest view, built once per snapshot and shared by every',
    'unfiltered client, `historical_data` and REST); the 10 and 100 add views filtered by random endpoint and model subsets.',
    '',
    ...table(
      ['cells', 'events in window', 'snapshot build p50 / p99 ms', 'payload bytes', 'decode p50 ms', '1 view ms', '10 views ms', '100 views ms', 'ms per view (100)'],
      cells.map((c) => {
        const v = (k: number) => c.views.find((x) => x.views === k)!;
        return [
          n(c.cells),
          n(c.eventsInWindow),
          `${n(c.snapshotBuildMs.p50, 2)} / ${n(c.snapshotBuildMs.p99, 2)}`,
          n(c.payloadBytes),
          n(c.decodeMs?.p50, 2),
          n(v(1).perTickMs.p50, 2),
          n(v(10).perTickMs.p50, 2),
          n(v(100).perTickMs.p50, 2),
          n(v(100).perViewMs, 3),
        ];
      }),
    ),
    '',
  ];
}

export function sketchSection(s: SketchResult): string[] {
  return [
    "## Quantile sketch: DDSketch vs Pulse's log-bucket histogram",
    '',
    `Same samples (lognormal latencies), relative accuracy 1 %, ${s.samplesPerSketch} samples per sketch.`,
    '',
    ...table(
      ['', '@datadog/sketches-js', 'Pulse LogHistogram'],
      [
        ['add, ns/sample', s.addNs.ddsketch, s.addNs.pulse],
        ['merge, µs/sketch', s.mergeUs.ddsketch, s.mergeUs.pulse],
      ],
    ),
    '',
    `Merging is ${s.mergeSpeedup}× faster, and a gateway merges one histogram per cell per view per tick.`,
    '',
  ];
}

export function validateSection(v: ValidateResult): string[] {
  return [
    '## Event validation',
    '',
    `Ingest validates every event it accepts and the aggregator again when it reads the stream. The same parsed batch of ${n(v.eventsPerBatch)}`,
    'FakeAI-like events through Pulse\'s validator (compiled from the one event schema in packages/protocol/src/events.ts) and through',
    'ajv compiled from the same rules as a JSON Schema, alternated four times; JSON.parse not included.',
    '',
    ...table(['', 'µs per event'], [
      ['Pulse (compiled schema)', n(v.usPerEvent.pulse, 3)],
      ['ajv (compiled JSON Schema)', n(v.usPerEvent.ajv, 3)],
    ]),
    '',
  ];
}
