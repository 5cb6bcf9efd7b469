/**
 * The aggregator. Every replica keeps a hot window: a standby tails the event
 * log (no consumer group) into its MetricsWindow, so the moment it wins the
 * lease it can publish — rates and percentiles continue, whatever the rate.
 * Only the leader publishes, every tick, and only the leader counts the
 * since-creation totals: it claims entries through the consumer group and
 * acknowledges each batch together with its totals, fenced by the lease epoch.
 *
 * Taking over, exactly once for window and totals alike: the tail is caught
 * up to the end of the log, at id P. From then on the leader claims what the
 * old leader never acknowledged — pending entries, then new ones. An entry
 * after P goes into the window and the totals; one at or before P is already
 * in the window, so only its totals are counted, as the standby recorded them
 * when it tailed that entry.
 */
import { encodeSnapshot, type InternalSnapshot } from '@pulse/protocol';
import { MetricsWindow, type TotalsDelta } from '@pulse/metrics';
import {
  compareIds,
  idMs,
  type EventSource,
  type Fence,
  type LeaderLease,
  type LogEntry,
  type Logger,
  type SnapshotPublisher,
} from '@pulse/runtime';
import type { AggregatorSettings } from './config.js';
import { TickTimer } from './tick-timer.js';

export interface AggregatorDeps {
  settings: AggregatorSettings;
  source: EventSource;
  lease: LeaderLease;
  publisher: SnapshotPublisher;
  logger: Logger;
  /** Events in log entries that failed validation (for the self-metrics). */
  droppedEvents?: () => number;
  /** Wall clock in ms (log ids, tick edges, the window's horizon); tests pin it. Default Date.now. */
  now?: () => number;
}

export type Role = 'standby' | 'leader';

export interface AggregatorStatus {
  role: Role;
  epoch: number | null;
  lastPublishedSeq: number | null;
  lastPublishedAt: number | null;
  cells: number;
  /** Time buckets the window holds: at most window ÷ tick + 1 in either role. */
  buckets: number;
  /** Events this replica applied to its window since it (re)built it. */
  eventsApplied: number;
  /** Id of the last log entry this replica read into its window. */
  appliedId: string;
  inFlight: number;
  /** Producing nodes the window tracks (silent ones drop out after 30 s). */
  nodes: number;
  /** Log entries whose totals this standby recorded for a takeover: those of the last window + tick. */
  recordedEntries: number;
  labelsFolded: number;
  /** ms between the newest applied entry being logged and the last snapshot. */
  lagMs: number | null;
}

export interface Aggregator {
  /** Starts the read loop and, unless `ticks` is false (tests drive `tick` themselves), the tick timer. */
  start(options?: { ticks?: boolean }): void;
  /** One tick at `tickMs`: renew or win the lease, then publish (what the timer calls). */
  tick(tickMs: number): Promise<void>;
  close(): Promise<void>;
  status(): AggregatorStatus;
  /** Resolves with the next snapshot this replica publishes (for tests). */
  nextSnapshot(): Promise<InternalSnapshot>;
}

/** Pause after a failed read or commit before trying again. */
const RETRY_MS = 250;
/** How long a read may wait for new entries: short, so a role change is seen quickly. */
const BLOCK_MS = 100;
/** Events applied per read at most (about 50–100 ms of work), whatever the entry sizes. */
const EVENTS_PER_READ = 20_000;
/** Log entries whose totals a standby records for a takeover, at most (besides the horizon). */
const MAX_RECORDED = 1_000_000;

export function createAggregator(deps: AggregatorDeps): Aggregator {
  const { settings, source, lease, publisher, logger } = deps;
  const now = deps.now ?? Date.now;
  const log = logger.child({ component: 'aggregator' });
  const horizonMs = settings.windowMs + settings.tickMs;

  let role: Role = 'standby';
  let fence: Fence | null = null;
  /** A lease won by the tick, for the loop to take over with (the loop alone changes the window). */
  let won: Fence | null = null;
  let window: MetricsWindow | null = null;
  /** Last entry applied through the tail; after a takeover, the watermark P. */
  let tailId = '';
  /** Totals of tailed entries, by entry id, oldest first: what a takeover counts for entries ≤ P. */
  const recorded = new Map<string, TotalsDelta>();
  let closing = false;
  let loop: Promise<void> | null = null;
  let lastPublished: InternalSnapshot | null = null;
  let newestApplied = 0;
  /** Id of the last entry read from the log, in either role. */
  let readId = '';
  let waiters: ((s: InternalSnapshot) => void)[] = [];

  /**
   * Entries per read, so one read holds about EVENTS_PER_READ events: a read is
   * applied in one go, and a huge one would block the event loop past the
   * lease (batches of 1,000 events × 500 entries took ~2 s).
   */
  // Start as if entries were big, so the very first read cannot be huge; it adapts at once.
  let eventsPerEntry = 1000;
  function readCount(): number {
    return Math.max(1, Math.min(settings.batchEntries, Math.floor(EVENTS_PER_READ / eventsPerEntry)));
  }
  function noteSizes(entries: readonly LogEntry[]): void {
    if (entries.length === 0) return;
    readId = entries[entries.length - 1]!.id;
    let events = 0;
    for (const e of entries) events += e.events.length;
    eventsPerEntry = Math.max(1, 0.5 * eventsPerEntry + (0.5 * events) / entries.length);
  }

  /** A fresh window, tailing from the start of the horizon. */
  async function rebuild(): Promise<MetricsWindow> {
    const w = new MetricsWindow({
      windowMs: settings.windowMs,
      bucketMs: settings.tickMs,
      createdAtMs: await source.createdAt(),
      maxEndpoints: settings.maxEndpoints,
      maxModels: settings.maxModels,
      maxCells: settings.maxCells,
    });
    tailId = `${now() - horizonMs}-0`;
    recorded.clear();
    return w;
  }

  function apply(w: MetricsWindow, entry: LogEntry): void {
    const at = idMs(entry.id);
    for (const event of entry.events) w.apply(event, at, true);
    if (at > newestApplied) newestApplied = at;
  }

  /** Standby: follow the log into the window, recording each entry's totals for a takeover; true when the read was full. */
  async function follow(w: MetricsWindow, blockMs: number): Promise<boolean> {
    const count = readCount();
    const entries = await source.tail(tailId, count, blockMs);
    noteSizes(entries);
    for (const entry of entries) {
      apply(w, entry);
      const delta = w.takeTotalsDelta();
      if (delta.size > 0) recorded.set(entry.id, delta);
      tailId = entry.id;
    }
    forgetRecorded(now() - horizonMs);
    return entries.length === count;
  }

  /**
   * Drops recorded totals older than the horizon (entries that old are not
   * waiting to be claimed), and the oldest beyond MAX_RECORDED: a takeover
   * then counts such an entry from its events alone.
   */
  function forgetRecorded(beforeMs: number): void {
    for (const id of recorded.keys()) {
      if (idMs(id) >= beforeMs && recorded.size <= MAX_RECORDED) break;
      recorded.delete(id);
    }
  }

  async function takeOver(w: MetricsWindow, f: Fence): Promise<void> {
    const started = now();
    // Catch the tail up to the end of the log: that position is P.
    while ((await follow(w, 0)) && !closing);
    const bad = w.loadTotals(await source.loadTotals());
    if (bad > 0) log.warn({ fields: bad }, 'ignored unreadable totals fields');
    source.takeOver();
    // Count what the old leader left unacknowledged before the first snapshot,
    // so that snapshot's totals already match its window (bounded by a tick).
    while (now() - started < settings.tickMs && !closing) {
      const { claimed, afterWatermark } = await lead(w, f, 0);
      if (claimed === 0 || afterWatermark > 0) break;
    }
    fence = f;
    role = 'leader';
    log.info({ epoch: f.epoch, watermark: tailId, cells: w.cellCount, ms: now() - started }, 'became the active aggregator');
  }

  /** Leader: claim a batch, apply it, commit it with its totals. */
  async function lead(w: MetricsWindow, f: Fence, blockMs = BLOCK_MS): Promise<{ claimed: number; afterWatermark: number }> {
    const entries = await source.claim(readCount(), blockMs);
    noteSizes(entries);
    let afterWatermark = 0;
    for (const entry of entries) {
      if (compareIds(entry.id, tailId) > 0) {
        apply(w, entry);
        afterWatermark++;
        continue;
      }
      // Already in the window since standby days: count its totals only.
      const delta = recorded.get(entry.id);
      if (delta) {
        w.addTotals(delta);
        recorded.delete(entry.id);
      } else {
        for (const event of entry.events) w.countTotalsOnly(event);
      }
    }
    if (entries.length > 0 && !(await source.commit(entries.map((e) => e.id), w.takeTotalsDelta(), f))) {
      stepDown('lease lost: commit fenced off');
    }
    return { claimed: entries.length, afterWatermark };
  }

  function stepDown(reason: string): void {
    won = null;
    if (role === 'standby') return;
    log.warn({ epoch: fence?.epoch, reason }, 'no longer the active aggregator');
    role = 'standby';
    fence = null;
    // Its window may hold entries whose commit failed: start over from the log.
    window = null;
  }

  /** The one loop that reads the log and changes the window, in either role. */
  async function run(): Promise<void> {
    while (!closing) {
      try {
        window ??= await rebuild();
        const w = window;
        if (role === 'standby' && won) await takeOver(w, won);
        if (role === 'leader' && fence) await lead(w, fence);
        else await follow(w, BLOCK_MS);
      } catch (err) {
        if (closing) return;
        // Whatever was claimed stays pending in the group and is claimed again: nothing is lost.
        log.error({ err }, 'reading the event log failed; retrying');
        stepDown('event log unreachable');
        window = null;
        await sleep(RETRY_MS);
      }
    }
  }

  async function tick(tickMs: number): Promise<void> {
    if (closing) return;
    let f: Fence | null;
    try {
      f = await lease.acquireOrRenew();
    } catch (err) {
      log.warn({ err }, 'lease check failed');
      return standBy('lease unreachable', tickMs);
    }
    if (!f) return standBy('lease held by another replica', tickMs);
    if (role === 'leader' && f.epoch !== fence?.epoch) stepDown('lease epoch changed');
    if (role === 'standby') {
      // The loop takes over (it alone changes the window); publish this very tick if it is quick.
      won = f;
      await until(() => role === 'leader' || closing, settings.tickMs / 2);
      if ((role as Role) !== 'leader') return; // role changes across the await
    }
    if (window) await publish(window, tickMs);
  }

  /**
   * A standby's tick: its window expires buckets and silent nodes on the
   * leader's schedule, so its memory is the leader's and a takeover finds
   * the window the leader had.
   */
  function standBy(reason: string, tickMs: number): void {
    stepDown(reason);
    window?.advance(tickMs);
  }

  async function publish(w: MetricsWindow, tickMs: number): Promise<void> {
    w.advance(tickMs);
    const snapshot = w.snapshot(tickMs, fence!.epoch, Math.floor(tickMs / settings.tickMs), deps.droppedEvents?.() ?? 0);
    try {
      if (!(await publisher.publish(encodeSnapshot(snapshot), fence!))) return stepDown('lease lost: publish fenced off');
      lastPublished = snapshot;
      const done = waiters;
      waiters = [];
      for (const resolve of done) resolve(snapshot);
    } catch (err) {
      log.warn({ err, seq: snapshot.seq }, 'publishing a snapshot failed');
    }
  }

  const timer = new TickTimer(settings.tickMs, tick, now);

  return {
    start({ ticks = true } = {}) {
      loop ??= run();
      if (ticks) timer.start();
    },
    tick,
    async close() {
      closing = true;
      timer.stop();
      await loop;
      // Hand the lease over at once so a standby need not wait for it to expire.
      if (role === 'leader') await lease.release().catch(() => undefined);
      role = 'standby';
    },
    status() {
      const snap = lastPublished;
      return {
        role,
        epoch: fence?.epoch ?? null,
        lastPublishedSeq: snap?.seq ?? null,
        lastPublishedAt: snap?.builtAt ?? null,
        cells: window?.cellCount ?? 0,
        buckets: window?.bucketCount ?? 0,
        eventsApplied: window?.eventsApplied ?? 0,
        appliedId: readId,
        inFlight: window?.inFlight ?? 0,
        nodes: window?.nodeCount ?? 0,
        recordedEntries: recorded.size,
        labelsFolded: window?.labelsFolded ?? 0,
        lagMs: snap && newestApplied > 0 ? Math.max(0, snap.builtAt * 1000 - newestApplied) : null,
      };
    },
    nextSnapshot() {
      return new Promise((resolve) => waiters.push(resolve));
    },
  };
}

/** Resolves once `done()` holds, checking every few ms, or after `ms` regardless. */
async function until(done: () => boolean, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  while (!done() && Date.now() < deadline) await sleep(5);
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
