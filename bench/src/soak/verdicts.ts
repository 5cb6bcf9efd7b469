/**
 * The soak's verdicts, pure: memory flat over the last two thirds of the
 * run, no error logged, no client dropped or starved, every accepted event
 * applied by every aggregator.
 */
import type { ClientRecord } from '../workers/ws-clients.js';

/** Growth over the judged span above this fails. */
export const GROWTH_LIMIT_PCT = 5;
/** Samples whose median stands for each end of the judged span (fewer when the span is short). */
const ENDS = 3;
/** A client's last update may be this much older than its interval at the end. */
const STALE_SLACK_MS = 3000;
/** A client must have received at least this share of the updates its interval promises. */
const MIN_UPDATE_SHARE = 0.8;

export interface Point {
  /** Seconds since the load started. */
  t: number;
  v: number;
}

export interface Growth {
  /** Median of the first samples of the span. */
  from: number;
  /** Median of the last samples of the span. */
  to: number;
  /** (to − from) ÷ from, %. */
  pct: number;
  /** Least-squares slope × span ÷ mean, %: the same question answered with every sample. */
  slopePct: number;
  samples: number;
}

/**
 * Growth of a series over the samples at or after `fromT`: median of the
 * first three against median of the last three (robust to one GC-timing
 * outlier at either end), with the least-squares figure beside it. Null with
 * fewer than two samples in the span.
 */
export function growth(points: readonly Point[], fromT: number): Growth | null {
  const span = points.filter((p) => p.t >= fromT && Number.isFinite(p.v));
  if (span.length < 2) return null;
  const k = Math.max(1, Math.min(ENDS, Math.floor(span.length / 2)));
  const from = median(span.slice(0, k).map((p) => p.v));
  const to = median(span.slice(-k).map((p) => p.v));
  const meanT = span.reduce((a, p) => a + p.t, 0) / span.length;
  const meanV = span.reduce((a, p) => a + p.v, 0) / span.length;
  const sxx = span.reduce((a, p) => a + (p.t - meanT) ** 2, 0);
  const slope = sxx === 0 ? 0 : span.reduce((a, p) => a + (p.t - meanT) * (p.v - meanV), 0) / sxx;
  const width = span[span.length - 1]!.t - span[0]!.t;
  return { from, to, pct: round2(((to - from) / from) * 100), slopePct: round2(((slope * width) / meanV) * 100), samples: span.length };
}

export function median(values: readonly number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

export interface MemoryVerdict {
  name: string;
  /** What the verdict judges: heap used after GC for a service, used_memory for Redis. */
  judged: string;
  /** What is reported beside it: RSS, used_memory_rss for Redis. */
  beside: string;
  /** First and last sample of the whole run. */
  start: { judged: number | null; beside: number | null };
  end: { judged: number | null; beside: number | null };
  /** Over the last two thirds of the run. */
  judgedGrowth: Growth | null;
  besideGrowth: Growth | null;
  pass: boolean;
}

export function memoryVerdict(name: string, judged: { label: string; points: Point[] }, beside: { label: string; points: Point[] }, fromT: number): MemoryVerdict {
  const g = growth(judged.points, fromT);
  const ends = (points: Point[]) => ({ first: points[0]?.v ?? null, last: points[points.length - 1]?.v ?? null });
  const j = ends(judged.points);
  const b = ends(beside.points);
  return {
    name,
    judged: judged.label,
    beside: beside.label,
    start: { judged: j.first, beside: b.first },
    end: { judged: j.last, beside: b.last },
    judgedGrowth: g,
    besideGrowth: growth(beside.points, fromT),
    pass: g !== null && g.pct <= GROWTH_LIMIT_PCT,
  };
}

export interface LogVerdict {
  name: string;
  errors: number;
  warnings: number;
  /** The first few error (level ≥ 50) and warning (level 40) lines, for the report. */
  errorLines: string[];
  warningLines: string[];
  /** Exit code (or signal) after the final SIGTERM. */
  exit: number | string | null;
  /** It was gone before the load ended. */
  diedEarly: boolean;
  pass: boolean;
}

export function logVerdict(name: string, levels: LogLevels, exit: number | string | null, diedEarly: boolean): LogVerdict {
  return { name, ...levels, exit, diedEarly, pass: levels.errors === 0 && !diedEarly && exit === 0 };
}

export interface LogLevels {
  errors: number;
  warnings: number;
  errorLines: string[];
  warningLines: string[];
}

const KEEP_LINES = 10;
const LINE_CHARS = 400;

/** pino's levels by label: Pulse's logger writes the label, pino's default the number. */
const LEVELS: Record<string, number> = { trace: 10, debug: 20, info: 30, warn: 40, error: 50, fatal: 60 };

/**
 * NDJSON (pino: 40 warn, 50 error, 60 fatal, as a number or a label); lines
 * that are not JSON objects with a level (the inspector's banner) are not counted.
 */
export function logLevels(text: string): LogLevels {
  const out: LogLevels = { errors: 0, warnings: 0, errorLines: [], warningLines: [] };
  for (const line of text.split('\n')) {
    if (!line.startsWith('{')) continue;
    let raw: unknown;
    try {
      raw = (JSON.parse(line) as { level?: unknown }).level;
    } catch {
      continue;
    }
    const level = typeof raw === 'number' ? raw : typeof raw === 'string' ? (LEVELS[raw] ?? 0) : 0;
    if (level < 40) continue;
    const error = level >= 50;
    if (error) out.errors++;
    else out.warnings++;
    const keep = error ? out.errorLines : out.warningLines;
    if (keep.length < KEEP_LINES) keep.push(line.slice(0, LINE_CHARS));
  }
  return out;
}

export interface ClientsVerdict {
  /** Clients asked for, and open when counting began. */
  requested: number;
  connected: number;
  updates: number;
  /** Closed before the harness ended the run. */
  dropped: number;
  /** Socket errors plus `error` messages, summed; and clients with any. */
  errors: number;
  clientsWithErrors: number;
  /** Last update older than its interval + 3 s at the end. */
  stale: number;
  /** Fewer than 80 % of the updates its interval promises over the run. */
  starved: number;
  /** Lowest received ÷ promised over all clients. */
  minUpdateShare: number;
  pass: boolean;
}

/**
 * `intervalsS[group]` is each filter group's interval; `beginMs`–`endMs` is
 * when the clients were counted.
 */
export function clientsVerdict(
  byLabel: Record<string, ClientRecord[]>,
  intervalsS: readonly number[],
  requested: number,
  beginMs: number,
  endMs: number,
): ClientsVerdict {
  const all = Object.values(byLabel).flat();
  let stale = 0;
  let starved = 0;
  let minShare = Infinity;
  for (const c of all) {
    const intervalMs = (intervalsS[c.group] ?? 1) * 1000;
    if (c.lastUpdateMs === 0 || endMs - c.lastUpdateMs > intervalMs + STALE_SLACK_MS) stale++;
    const share = c.updates / ((endMs - beginMs) / intervalMs);
    if (share < MIN_UPDATE_SHARE) starved++;
    minShare = Math.min(minShare, share);
  }
  const dropped = all.filter((c) => c.closed).length;
  const clientsWithErrors = all.filter((c) => c.errors > 0).length;
  return {
    requested,
    connected: all.length,
    updates: all.reduce((a, c) => a + c.updates, 0),
    dropped,
    errors: all.reduce((a, c) => a + c.errors, 0),
    clientsWithErrors,
    stale,
    starved,
    minUpdateShare: all.length === 0 ? 0 : round2(minShare),
    pass: all.length === requested && dropped === 0 && clientsWithErrors === 0 && stale === 0 && starved === 0,
  };
}

export interface EventsVerdict {
  /** Events the cluster accepted (the proxy's count, once per Idempotency-Key). */
  accepted: number;
  /** Each aggregator's final eventsApplied (null: /status had none). */
  applied: Record<string, number | null>;
  /** The simulator's own count of events its reporter got accepted, when it logged one. */
  reporterSent: number | null;
  pass: boolean;
}

export function eventsVerdict(accepted: number, applied: Record<string, number | null>, reporterSent: number | null): EventsVerdict {
  const counts = Object.values(applied);
  return { accepted, applied, reporterSent, pass: counts.length > 0 && counts.every((n) => n === accepted) };
}

function round2(n: number): number {
  return Math.round(n * 100) / 100;
}
