/**
 * What one measured fan-out window says, from the clients' arrivals and the
 * server's CPU and memory: delivery completeness, spread, freshness,
 * intervals, throughput per core.
 */
import type { FleetStats } from '../lib/client-fleet.js';
import { percentile, round } from '../timing.js';

export interface FanoutFigures {
  clients: number;
  seconds: number;
  /** Snapshots wholly inside the window, and how many of them every client got. */
  snapshots: number;
  complete: number;
  /** Updates missing across those snapshots (clients × snapshots − received). */
  missing: number;
  messagesPerSec: number;
  serverCpuPct: number;
  /** messagesPerSec per core of server CPU. */
  messagesPerSecPerCore: number;
  spreadMs: { p50: number; p99: number; max: number };
  freshnessMs: { p50: number; p99: number; max: number };
  intervalMs: { p50: number; p99: number; max: number };
  /** Server RSS: before any client, at the end, and (end − before) per client. */
  rssMiB: { before: number; end: number };
  rssPerClientKiB: number;
  frameBytes: number[];
  clientCpuPct: Record<string, number>;
}

export function fanoutFigures(
  stats: FleetStats,
  tickMs: number,
  window: { startMs: number; endMs: number; seconds: number },
  clients: number,
  serverCpuPct: number,
  rss: { before: number; end: number },
  clientCpuPct: Record<string, number>,
): FanoutFigures {
  // A snapshot sent near either edge of the window may be partly outside it.
  const inside = [...stats.snapshots.entries()]
    .filter(([ts]) => ts * 1000 >= window.startMs + 500 && ts * 1000 <= window.endMs - 2000)
    .map(([, s]) => s);
  const spreads = inside.map((s) => s.lastMs - s.firstMs).sort((a, b) => a - b);
  // Delivered per second of snapshots: the clients' own begin/end may straddle one more snapshot than the CPU window.
  const messagesPerSec = inside.length > 0 ? (inside.reduce((n, s) => n + s.clients, 0) / inside.length) * (1000 / tickMs) : NaN;
  return {
    clients,
    seconds: window.seconds,
    snapshots: inside.length,
    complete: inside.filter((s) => s.clients >= clients).length,
    missing: inside.reduce((n, s) => n + Math.max(0, clients - s.clients), 0),
    messagesPerSec: Math.round(messagesPerSec),
    serverCpuPct,
    messagesPerSecPerCore: serverCpuPct > 0 ? Math.round(messagesPerSec / (serverCpuPct / 100)) : NaN,
    spreadMs: { p50: round(percentile(spreads, 0.5), 1), p99: round(percentile(spreads, 0.99), 1), max: spreads[spreads.length - 1] ?? NaN },
    freshnessMs: { p50: round(stats.freshness.quantile(0.5), 1), p99: round(stats.freshness.quantile(0.99), 1), max: stats.freshness.max },
    intervalMs: { p50: round(stats.intervals.quantile(0.5), 1), p99: round(stats.intervals.quantile(0.99), 1), max: stats.intervals.max },
    rssMiB: { before: round(rss.before / 2 ** 20, 1), end: round(rss.end / 2 ** 20, 1) },
    rssPerClientKiB: round((rss.end - rss.before) / 1024 / clients, 2),
    frameBytes: stats.frameBytes,
    clientCpuPct,
  };
}
