/**
 * Several WebSocket client processes acting as one fleet (each process holds
 * at most PER_PROCESS sockets, far below the 20,000 open files a process may
 * have), connections labelled by server, and their stats merged per label:
 * arrivals per snapshot across processes, histograms added.
 */
import { MsHistogram } from './histogram.js';
import type { NamedPid } from './proc-stats.js';
import { WorkerProcess } from './rpc.js';
import type { ClientRecord, ClientsConfig, ClientsStats } from '../workers/ws-clients.js';

const PER_PROCESS = 2500;
const CONNECT_CONCURRENCY = 100;

export interface FleetStats {
  clients: number;
  open: number;
  closed: number;
  messages: number;
  bytes: number;
  /** Per snapshot timestamp (seconds): clients that got it, first and last arrival. */
  snapshots: Map<number, { clients: number; firstMs: number; lastMs: number }>;
  freshness: MsHistogram;
  intervals: MsHistogram;
  frameBytes: number[];
  other: Record<string, number>;
}

export class ClientFleet {
  private constructor(readonly workers: WorkerProcess[]) {}

  /** Enough processes for `clients` sockets in all. */
  static async start(clients: number): Promise<ClientFleet> {
    const n = Math.max(1, Math.ceil(clients / PER_PROCESS));
    return new ClientFleet(await Promise.all(Array.from({ length: n }, (_, i) => WorkerProcess.start(`clients-${i}`, 'ws-clients'))));
  }

  pids(): NamedPid[] {
    return this.workers.map((w) => ({ name: w.name, pid: w.pid }));
  }

  /** Opens `clients` sockets labelled `label` to `url`, spread evenly over the processes; resolves once all are open (or failed). */
  async connect(label: string, url: string, clients: number, filters: Record<string, unknown>[]): Promise<{ open: number; failed: number; ms: number }> {
    const per = Math.ceil(clients / this.workers.length);
    const results = await Promise.all(
      this.workers.map((w, i) =>
        w.call<{ open: number; failed: number; ms: number }>('connect', {
          label,
          url,
          count: Math.min(per, clients - i * per),
          filters,
          first: i * per,
          concurrency: CONNECT_CONCURRENCY,
        } satisfies ClientsConfig),
      ),
    );
    return {
      open: results.reduce((a, r) => a + r.open, 0),
      failed: results.reduce((a, r) => a + r.failed, 0),
      ms: Math.max(...results.map((r) => r.ms)),
    };
  }

  async begin(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.call('begin')));
  }

  /** Stats since begin(), merged across processes, by label. */
  async end(): Promise<Record<string, FleetStats>> {
    const parts = await Promise.all(this.workers.map((w) => w.call<Record<string, ClientsStats>>('end')));
    const out: Record<string, FleetStats> = {};
    for (const byLabel of parts) {
      for (const [label, p] of Object.entries(byLabel)) mergeInto((out[label] ??= emptyStats()), p);
    }
    return out;
  }

  /** Every client's own counts (see ClientRecord), by label, across processes. */
  async records(): Promise<Record<string, ClientRecord[]>> {
    const parts = await Promise.all(this.workers.map((w) => w.call<Record<string, ClientRecord[]>>('records')));
    const out: Record<string, ClientRecord[]> = {};
    for (const byLabel of parts) for (const [label, list] of Object.entries(byLabel)) (out[label] ??= []).push(...list);
    return out;
  }

  /** Drops every socket (the processes stay, for the next connect). */
  async disconnect(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.call('close')));
  }

  async stop(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.stop()));
  }
}

function emptyStats(): FleetStats {
  return {
    clients: 0,
    open: 0,
    closed: 0,
    messages: 0,
    bytes: 0,
    snapshots: new Map(),
    freshness: new MsHistogram(),
    intervals: new MsHistogram(),
    frameBytes: [],
    other: {},
  };
}

function mergeInto(out: FleetStats, p: ClientsStats): void {
  out.clients += p.clients;
  out.open += p.open;
  out.closed += p.closed;
  out.messages += p.messages;
  out.bytes += p.bytes;
  out.freshness.merge(p.freshness);
  out.intervals.merge(p.intervals);
  p.frameBytes.forEach((b, g) => (out.frameBytes[g] = b ?? out.frameBytes[g]));
  for (const [type, n] of Object.entries(p.other)) out.other[type] = (out.other[type] ?? 0) + n;
  for (const s of p.snapshots) {
    const ts = Number(s.ts);
    const m = out.snapshots.get(ts);
    if (!m) {
      out.snapshots.set(ts, { clients: s.clients, firstMs: s.firstMs, lastMs: s.lastMs });
    } else {
      m.clients += s.clients;
      m.firstMs = Math.min(m.firstMs, s.firstMs);
      m.lastMs = Math.max(m.lastMs, s.lastMs);
    }
  }
}
