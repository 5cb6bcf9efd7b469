/** The node dimension's budget (issue 13): today's shape and a fleet's, side by side from one run. */
import type { FleetResult, FleetRun } from '../fleet.js';
import { n, table } from './format.js';

const kb = (bytes: number) => `${n(bytes / 1024, 1)} KB`;

export function fleetSection(r: FleetResult): string[] {
  const head = ['', ...r.runs.map((x) => `**${x.shape.name}**: ${x.shape.nodes} nodes × ${x.shape.endpoints} endpoints × ${x.shape.models} models, ${n(x.shape.requestsPerSec)} requests/s`)];
  const row = (label: string, f: (x: FleetRun) => string) => [label, ...r.runs.map(f)];
  const kinds = Object.keys(r.runs[0]?.viewMs ?? {});
  return [
    '## Node dimension: a fleet\'s shape beside today\'s',
    '',
    'One process (bench/src/fleet.ts): a window fed two windows\' worth of simulated traffic, then per tick of',
    `${r.tickMs} ms what the aggregator publishes and what it costs, and what a gateway spends applying it and building views.`,
    'Every tick a patch of what changed goes out; a full snapshot is stored as a keyframe every 10 s for gateways that start',
    'or catch up, and broadcast only on a takeover (docs/ARCHITECTURE.md says why). CPU figures are wall time of the one',
    'thread, p50 (p99) over the ticks measured.',
    '',
    ...table(head, [
      row('cells', (x) => n(x.cells)),
      row('patch bytes per tick, p50 (max)', (x) => `${kb(x.bytesPerTick.patch.p50)} (${kb(x.bytesPerTick.patch.max)})`),
      row('whole snapshot (a keyframe; every tick before patches)', (x) => kb(x.bytesPerTick.snapshot)),
      row('bytes published to every gateway per tick, on average', (x) => kb(x.bytesPerTick.published)),
      row('bytes written to Redis per tick, on average (keyframes stored included)', (x) => kb(x.bytesPerTick.written)),
      row('aggregator ms per tick with a patch', (x) => `${n(x.aggregatorMs.patch.p50, 1)} (${n(x.aggregatorMs.patch.p99, 1)})`),
      row('aggregator ms per tick with a keyframe', (x) => `${n(x.aggregatorMs.snapshot.p50, 1)} (${n(x.aggregatorMs.snapshot.p99, 1)})`),
      row('gateway ms per tick: decode and apply the patch', (x) => `${n(x.applyMs.p50, 1)} (${n(x.applyMs.p99, 1)})`),
      ...kinds.map((k) => row(`view build + JSON, ${k}: first after a patch (again at once)`, (x) => `${n(x.viewMs[k]?.p50, 2)} (${n(x.viewMs[k]?.p99, 2)}); ${n(x.viewWarmMs?.[k]?.p50, 2)} (${n(x.viewWarmMs?.[k]?.p99, 2)})`)),
    ]),
    '',
    ...partitionedSection(r),
  ];
}

/** The fleet shape split over partitions: what one partition's leader spends per tick, and a gateway per partition. */
function partitionedSection(r: FleetResult): string[] {
  if (!r.partitioned?.length) return [];
  return [
    'The fleet shape with the node dimension split by `PULSE_PARTITIONS` (bench/src/partitions-cost.ts, `fleetPartition`): one',
    'partition\'s leader per tick, and a gateway\'s decode and apply of that partition\'s patch (a gateway applies every partition\'s).',
    '',
    ...table(
      ['partitions', 'cells per partition', 'leader ms per tick, p50 (p99)', 'gateway ms per partition per tick, p50 (p99)'],
      r.partitioned.map((p) => [n(p.partitions), n(p.cells), `${n(p.tickMs.p50, 1)} (${n(p.tickMs.p99, 1)})`, `${n(p.gatewayApplyMs.p50, 1)} (${n(p.gatewayApplyMs.p99, 1)})`]),
    ),
    '',
  ];
}
