/** The end-to-end section. */
import type { EndToEndResult } from '../scenarios/end-to-end.js';
import { machineLoad, n, pct } from './format.js';

export function endToEndSection(r: EndToEndResult): string[] {
  return [
    '## 3. End to end: event POSTed → visible in a client\'s `metrics_update`',
    '',
    `Tick ${r.tickMs} ms, client interval 0.5 s. A probe process POSTs a start/end pair every ~100 ms (jittered, so probes land at`,
    'every phase of the tick) with a growing `latency_ms`, and watches its own client, subscribed to the probe endpoint, for the',
    `first update whose exact latency \`max\` reaches it. Background: ${n(r.backgroundEventsPerSec)} events/s through ingest and`,
    `${n(r.backgroundClients)} other clients at 0.5 s on the same gateway.`,
    '',
    `**${n(r.probes)} probes: p50 ${n(r.visibleMs.p50)} ms, p90 ${n(r.visibleMs.p90)} ms, p99 ${n(r.visibleMs.p99)} ms, max ${n(r.visibleMs.max)} ms**` +
      ` (${r.lost} lost; POST → 202 p50 ${n(r.ackMs.p50, 1)} ms, p99 ${n(r.ackMs.p99, 1)} ms).`,
    `Where the time goes: POST → the build time of the snapshot that shows the event p50 ${n(r.toSnapshotMs?.p50)} ms, p99 ${n(r.toSnapshotMs?.p99)} ms`,
    `(waiting for the next tick: half a tick on average, a whole one at most, more when the event missed a tick); that snapshot's`,
    `build time → the client p50 ${n(r.snapshotToClientMs?.p50)} ms, p99 ${n(r.snapshotToClientMs?.p99)} ms (build, publish, decode, views, sends).`,
    '',
    `CPU meanwhile: ${Object.entries(r.cpu.cpuPct).map(([k, v]) => `${k} ${pct(v)}`).join(', ')} (${machineLoad(r.cpu)}).`,
    '',
  ];
}
