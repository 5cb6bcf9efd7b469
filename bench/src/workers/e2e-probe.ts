/**
 * End-to-end probe process: POSTs one probe request (a start and an end) to
 * ingest every few hundred ms, and watches one WebSocket client subscribed
 * to the probe's endpoint at 0.5 s for the update that first shows it. Each
 * probe carries a larger `latency_ms` than the last, and a view's latency
 * `max` is exact, so "the update's max ≥ this probe's latency" means "this
 * probe is in the figures".
 */
import { Agent, request } from 'node:http';
import WebSocket from 'ws';
import { serve } from '../lib/rpc.js';

export const PROBE_ENDPOINT = '/v1/bench/probe';
const PROBE_MODEL = 'bench-probe';
/** Probes not seen this long after the run are reported lost. */
const GRACE_MS = 3000;

export interface ProbeRun {
  ingestUrl: string;
  gatewayUrl: string;
  durationMs: number;
  /** Mean gap between probes; each gap is jittered ±50 % so probes fall at every phase of the tick. */
  everyMs: number;
  intervalSeconds: number;
}

export interface ProbeResult {
  sent: number;
  /** POST sent → first metrics_update showing it, ms, sorted. */
  visibleMs: number[];
  /** The two parts of each: POST sent → the build time (`timestamp`) of the snapshot showing it, and that → arrival; sorted. */
  toSnapshotMs: number[];
  snapshotToClientMs: number[];
  /** POST round trips (until the 202), ms, sorted. */
  ackMs: number[];
  lost: number;
}

function post(url: URL, agent: Agent, body: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(
      { agent, hostname: url.hostname, port: url.port, path: '/v1/events', method: 'POST', headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

async function run(cfg: ProbeRun): Promise<ProbeResult> {
  const pending = new Map<number, number>(); // latency value → sent at
  const visible: number[] = [];
  const toSnapshot: number[] = [];
  const snapshotToClient: number[] = [];
  const acks: number[] = [];
  const ws = new WebSocket(`${cfg.gatewayUrl}/metrics/stream`, { perMessageDeflate: false });
  ws.on('error', () => undefined);
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  const subscribed = new Promise<void>((resolve) => {
    ws.on('message', (data: Buffer) => {
      const at = Date.now();
      const msg = JSON.parse(data.toString()) as { type: string; timestamp: number; data?: { latency?: Record<string, { max: number }> } };
      if (msg.type === 'subscribed') resolve();
      if (msg.type !== 'metrics_update') return;
      const max = msg.data?.latency?.[PROBE_ENDPOINT]?.max;
      if (max === undefined) return;
      for (const [value, sentAt] of pending) {
        if (value > max) continue;
        visible.push(at - sentAt);
        toSnapshot.push(msg.timestamp * 1000 - sentAt);
        snapshotToClient.push(at - msg.timestamp * 1000);
        pending.delete(value);
      }
    });
  });
  ws.send(JSON.stringify({ type: 'subscribe', filters: { endpoint: PROBE_ENDPOINT, interval: cfg.intervalSeconds } }));
  await subscribed;

  const url = new URL(cfg.ingestUrl);
  const agent = new Agent({ keepAlive: true, maxSockets: 4 });
  const t0 = Date.now();
  let sent = 0;
  while (Date.now() - t0 < cfg.durationMs) {
    await new Promise((r) => setTimeout(r, cfg.everyMs * (0.5 + Math.random())));
    const value = 1000 + ++sent;
    const sentAt = Date.now();
    const ts = sentAt / 1000;
    const common = { ts, node: 'bench-probe', request_id: `probe-${t0}-${sent}`, endpoint: PROBE_ENDPOINT, model: PROBE_MODEL };
    const body = JSON.stringify([
      { type: 'request.start', ...common },
      { type: 'request.end', ...common, status: 200, latency_ms: value },
    ]);
    pending.set(value, sentAt);
    void post(url, agent, body).then(
      (status) => {
        acks.push(Date.now() - sentAt);
        if (status !== 202) pending.delete(value);
      },
      () => pending.delete(value),
    );
  }
  const deadline = Date.now() + GRACE_MS;
  while (pending.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  ws.terminate();
  agent.destroy();
  const sorted = (xs: number[]) => xs.sort((a, b) => a - b);
  return { sent, visibleMs: sorted(visible), toSnapshotMs: sorted(toSnapshot), snapshotToClientMs: sorted(snapshotToClient), ackMs: sorted(acks), lost: pending.size };
}

serve({ run });
