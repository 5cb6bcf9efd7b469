/**
 * WebSocket client process: holds a few thousand connections, to Pulse's
 * gateway and to the bare-ws floor alike (the same code for both; each
 * connection is labelled with its server), and records, for every
 * `metrics_update`, when it arrived. Per snapshot
 * (keyed by its `timestamp`): how many clients got it, the first and the
 * last arrival (fan-out spread); per message: freshness (arrival − the
 * snapshot's timestamp) and each client's interval since its previous one.
 *
 * Per client it also keeps its own counts (updates, the last one's arrival,
 * an unexpected close, errors), which a soak reads at the end with `records`.
 *
 * Only the frame's head is read (type and timestamp come first in Pulse's
 * frames and the floor's): parsing every 8 KB body would make the clients,
 * not the server, the thing measured.
 */
import WebSocket from 'ws';
import { MsHistogram } from '../lib/histogram.js';
import { serve } from '../lib/rpc.js';

export interface ClientsConfig {
  /** Which server these connections go to: stats are kept per label. */
  label: string;
  /** ws://127.0.0.1:<port>/metrics/stream */
  url: string;
  count: number;
  /** Subscribe messages; client i sends filters[(first + i) % filters.length] and joins that group. */
  filters: Record<string, unknown>[];
  first: number;
  /** Connections opening at once. */
  concurrency: number;
}

export interface SnapshotArrivals {
  /** The snapshot's `timestamp`, as sent. */
  ts: string;
  clients: number;
  firstMs: number;
  lastMs: number;
}

export interface ClientsStats {
  clients: number;
  open: number;
  closed: number;
  messages: number;
  bytes: number;
  snapshots: SnapshotArrivals[];
  freshness: { counts: Uint32Array; max: number };
  intervals: { counts: Uint32Array; max: number };
  /** Size of the last update each filter group got, by group. */
  frameBytes: number[];
  /** Other messages by type (historical_data, subscribed, errors…). */
  other: Record<string, number>;
}

/** One client's own counts since begin(). */
export interface ClientRecord {
  group: number;
  /** metrics_update messages received. */
  updates: number;
  /** Wall-clock ms of the last one (0: none yet). */
  lastUpdateMs: number;
  /** The server closed it (or it broke) while measuring: the bench closes only after end(). */
  closed: boolean;
  /** Socket errors plus `error` messages from the server. */
  errors: number;
}

const HEAD = '{"type":"metrics_update","timestamp":';

interface Client extends ClientRecord {
  ws: WebSocket;
  label: string;
  lastAt: number;
}

type Stats = ReturnType<typeof fresh>;

let clients: Client[] = [];
let measuring = false;
let stats = new Map<string, Stats>();

function statsOf(label: string): Stats {
  let s = stats.get(label);
  if (!s) {
    s = fresh();
    stats.set(label, s);
  }
  return s;
}

function fresh() {
  return {
    messages: 0,
    bytes: 0,
    closed: 0,
    snapshots: new Map<string, SnapshotArrivals>(),
    freshness: new MsHistogram(),
    intervals: new MsHistogram(),
    frameBytes: [] as number[],
    other: {} as Record<string, number>,
  };
}

function onMessage(c: Client, data: Buffer): void {
  const at = Date.now();
  if (!measuring) {
    c.lastAt = 0;
    return;
  }
  const stats = statsOf(c.label);
  stats.messages++;
  stats.bytes += data.length;
  const head = data.toString('latin1', 0, 64);
  if (!head.startsWith(HEAD)) {
    const type = /"type":"([^"]*)"/.exec(head)?.[1] ?? 'unknown';
    stats.other[type] = (stats.other[type] ?? 0) + 1;
    if (type === 'error') c.errors++;
    return;
  }
  c.updates++;
  c.lastUpdateMs = at;
  const ts = head.slice(HEAD.length, head.indexOf(',', HEAD.length));
  let s = stats.snapshots.get(ts);
  if (!s) {
    s = { ts, clients: 0, firstMs: at, lastMs: at };
    stats.snapshots.set(ts, s);
  }
  s.clients++;
  s.lastMs = at;
  stats.freshness.add(at - Number(ts) * 1000);
  if (c.lastAt > 0) stats.intervals.add(at - c.lastAt);
  c.lastAt = at;
  stats.frameBytes[c.group] = data.length;
}

async function connect(cfg: ClientsConfig): Promise<{ open: number; failed: number; ms: number }> {
  const t0 = Date.now();
  let failed = 0;
  let next = 0;
  const open = (i: number) =>
    new Promise<void>((resolve) => {
      const group = (cfg.first + i) % cfg.filters.length;
      // The group rides in the query: the floor server sends by it, Pulse ignores it.
      const ws = new WebSocket(`${cfg.url}?g=${group}`, { perMessageDeflate: false, skipUTF8Validation: true });
      const c: Client = { ws, label: cfg.label, group, lastAt: 0, updates: 0, lastUpdateMs: 0, closed: false, errors: 0 };
      ws.on('message', (data: Buffer) => onMessage(c, data));
      ws.on('error', () => c.errors++);
      ws.once('open', () => {
        ws.send(JSON.stringify({ type: 'subscribe', filters: cfg.filters[group] }));
        clients.push(c);
        resolve();
      });
      ws.once('close', () => {
        if (measuring) {
          statsOf(cfg.label).closed++;
          c.closed = true;
        }
        resolve();
      });
      ws.once('unexpected-response', () => {
        failed++;
        resolve();
      });
    }).catch(() => {
      failed++;
    });
  const lane = async () => {
    while (next < cfg.count) await open(next++);
  };
  await Promise.all(Array.from({ length: cfg.concurrency }, lane));
  const opened = clients.filter((c) => c.label === cfg.label && c.ws.readyState === WebSocket.OPEN).length;
  return { open: opened, failed, ms: Date.now() - t0 };
}

serve({
  connect,
  begin() {
    stats = new Map();
    for (const c of clients) Object.assign(c, { lastAt: 0, updates: 0, lastUpdateMs: 0, closed: false, errors: 0 });
    measuring = true;
  },
  /** Stats since begin(), by label. */
  end(): Record<string, ClientsStats> {
    measuring = false;
    const out: Record<string, ClientsStats> = {};
    for (const label of new Set(clients.map((c) => c.label))) {
      const mine = clients.filter((c) => c.label === label);
      const s = statsOf(label);
      out[label] = {
        clients: mine.length,
        open: mine.filter((c) => c.ws.readyState === WebSocket.OPEN).length,
        closed: s.closed,
        messages: s.messages,
        bytes: s.bytes,
        snapshots: [...s.snapshots.values()],
        freshness: s.freshness.toJSON(),
        intervals: s.intervals.toJSON(),
        frameBytes: s.frameBytes,
        other: s.other,
      };
    }
    return out;
  },
  /** Every client's own counts, by label. */
  records(): Record<string, ClientRecord[]> {
    const out: Record<string, ClientRecord[]> = {};
    for (const c of clients) (out[c.label] ??= []).push({ group: c.group, updates: c.updates, lastUpdateMs: c.lastUpdateMs, closed: c.closed, errors: c.errors });
    return out;
  },
  async close() {
    for (const c of clients) c.ws.terminate();
    clients = [];
  },
});
