/**
 * Scenario 3, end to end: an event POSTed to ingest → visible in a client's
 * `metrics_update`, at the default 0.5 s tick and a 0.5 s interval, while
 * the deployment carries background traffic (events through ingest and a
 * thousand other clients on the same gateway). Expected: half a tick of
 * waiting on average (the event waits for the next snapshot), plus the
 * pipeline's own latency.
 */
import { ClientFleet } from '../lib/client-fleet.js';
import { Pipeline } from '../lib/pipeline.js';
import { sleep } from '../lib/ports.js';
import { CpuMeter, type CpuWindow } from '../lib/proc-stats.js';
import { WorkerProcess } from '../lib/rpc.js';
import { percentile, round, type Quantiles } from '../timing.js';
import type { ProbeResult, ProbeRun } from '../workers/e2e-probe.js';

const TICK_MS = 500;
const BACKGROUND_EVENTS_PER_SEC = 20_000;
const BACKGROUND_CLIENTS = 1000;
const DURATION_MS = 30_000;
const PROBE_EVERY_MS = 100;

export interface EndToEndResult {
  tickMs: number;
  backgroundEventsPerSec: number;
  backgroundClients: number;
  probes: number;
  lost: number;
  visibleMs: Quantiles;
  /** POST → build time of the snapshot that showed it (mostly waiting for the tick), and snapshot → client. */
  toSnapshotMs: { p50: number; p99: number };
  snapshotToClientMs: { p50: number; p99: number };
  ackMs: { p50: number; p99: number };
  cpu: CpuWindow;
}

export async function benchEndToEnd(log: (line: string) => void): Promise<EndToEndResult> {
  const pipeline = await Pipeline.start({ tickMs: TICK_MS, feedPerSec: BACKGROUND_EVENTS_PER_SEC });
  const fleet = await ClientFleet.start(BACKGROUND_CLIENTS);
  const probe = await WorkerProcess.start('probe', 'e2e-probe');
  try {
    const gateway = await pipeline.startGateway();
    const wsUrl = `ws://127.0.0.1:${gateway.port}`;
    await fleet.connect('background', `${wsUrl}/metrics/stream`, BACKGROUND_CLIENTS, [{ interval: 0.5 }]);
    await sleep(2000);
    const meter = new CpuMeter(() => [...pipeline.pids(), ...fleet.pids(), { name: 'probe', pid: probe.pid }]);
    meter.begin();
    const r = await probe.call<ProbeResult>('run', {
      ingestUrl: pipeline.ingest.url,
      gatewayUrl: wsUrl,
      durationMs: DURATION_MS,
      everyMs: PROBE_EVERY_MS,
      intervalSeconds: TICK_MS / 1000,
    } satisfies ProbeRun);
    const cpu = meter.end();
    const q = (p: number) => round(percentile(r.visibleMs, p), 0);
    const result: EndToEndResult = {
      tickMs: TICK_MS,
      backgroundEventsPerSec: BACKGROUND_EVENTS_PER_SEC,
      backgroundClients: BACKGROUND_CLIENTS,
      probes: r.sent,
      lost: r.lost,
      visibleMs: { p50: q(0.5), p90: q(0.9), p99: q(0.99), max: r.visibleMs[r.visibleMs.length - 1] ?? NaN },
      toSnapshotMs: { p50: round(percentile(r.toSnapshotMs, 0.5), 0), p99: round(percentile(r.toSnapshotMs, 0.99), 0) },
      snapshotToClientMs: { p50: round(percentile(r.snapshotToClientMs, 0.5), 0), p99: round(percentile(r.snapshotToClientMs, 0.99), 0) },
      ackMs: { p50: round(percentile(r.ackMs, 0.5), 1), p99: round(percentile(r.ackMs, 0.99), 1) },
      cpu,
    };
    log(`e2e: ${r.sent} probes, visible p50 ${result.visibleMs.p50} p99 ${result.visibleMs.p99} ms, ${r.lost} lost; ${JSON.stringify(cpu.cpuPct)}`);
    return result;
  } finally {
    await probe.stop();
    await fleet.stop();
    await pipeline.stop();
  }
}
