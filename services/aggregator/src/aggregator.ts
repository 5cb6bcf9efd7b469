/**
 * The aggregator: the one active replica consumes the event log into a
 * MetricsWindow and, every tick, publishes a snapshot; the others stand by
 * and try the lease each tick.
 *
 * Becoming leader: rebuild the window from the log's finished history (so
 * rates and percentiles continue), load the totals, then claim what is left:
 * entries the previous leader left pending, then new ones. Every batch is
 * acknowledged together with its totals, fenced by the lease epoch, so a
 * former leader that wakes up from a pause can neither count nor publish.
 */
import { encodeSnapshot, type InternalSnapshot } from '@pulse/protocol';
import { MetricsWindow } from '@pulse/metrics';
import { idMs, type EventSource, type Fence, type LeaderLease, type LogEntry, type Logger, type SnapshotPublisher } from '@pulse/runtime';
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
}

export type Role = 'standby' | 'starting' | 'leader';

export interface AggregatorStatus {
  role: Role;
  epoch: number | null;
  lastPublishedSeq: number | null;
  lastPublishedAt: number | null;
  cells: number;
  inFlight: number;
  /** ms between the newest applied entry being logged and the last snapshot. */
  lagMs: number | null;
}

export interface Aggregator {
  start(): void;
  close(): Promise<void>;
  status(): AggregatorStatus;
  /** Resolves after the next snapshot is published (for tests and the all-in-one start). */
  nextSnapshot(): Promise<InternalSnapshot>;
}

/** Pause after a failed read or commit before trying again. */
const RETRY_MS = 250;

export function createAggregator(deps: AggregatorDeps): Aggregator {
  const { settings, source, lease, publisher, logger } = deps;
  const log = logger.child({ component: 'aggregator' });
  let role: Role = 'standby';
  let fence: Fence | null = null;
  let window: MetricsWindow | null = null;
  let closing = false;
  let consuming: Promise<void> | null = null;
  let lastPublished: InternalSnapshot | null = null;
  let newestApplied = 0;
  let waiters: ((s: InternalSnapshot) => void)[] = [];

  async function becomeLeader(won: Fence): Promise<void> {
    role = 'starting';
    fence = won;
    const started = Date.now();
    source.takeOver();
    const createdAtMs = await source.createdAt();
    const w = new MetricsWindow({
      windowMs: settings.windowMs,
      bucketMs: settings.tickMs,
      createdAtMs,
      maxEndpoints: settings.maxEndpoints,
      maxModels: settings.maxModels,
    });
    const badTotals = w.loadTotals(await source.loadTotals());
    if (badTotals > 0) log.warn({ fields: badTotals }, 'ignored unreadable totals fields');
    let replayed = 0;
    // A long rebuild must not let the lease lapse under it.
    const keepLease = setInterval(() => void lease.acquireOrRenew().catch(() => undefined), settings.tickMs);
    try {
      await source.history(Date.now() - settings.windowMs - settings.tickMs, (entries) => {
        for (const entry of entries) replayed += applyEntry(w, entry, false);
      });
    } finally {
      clearInterval(keepLease);
    }
    window = w;
    role = 'leader';
    log.info({ epoch: won.epoch, replayedEvents: replayed, ms: Date.now() - started }, 'became the active aggregator');
    consuming ??= consume().finally(() => (consuming = null));
  }

  function stepDown(reason: string): void {
    if (role === 'standby') return;
    log.warn({ epoch: fence?.epoch, reason }, 'no longer the active aggregator');
    role = 'standby';
    fence = null;
    window = null; // rebuilt from the log if this replica leads again
  }

  function applyEntry(w: MetricsWindow, entry: LogEntry, countTotals: boolean): number {
    const at = idMs(entry.id);
    for (const event of entry.events) w.apply(event, at, countTotals);
    if (at > newestApplied) newestApplied = at;
    return entry.events.length;
  }

  /** The leader's loop: claim a batch, apply it, commit it with its totals. */
  async function consume(): Promise<void> {
    while (!closing && role === 'leader') {
      const w = window;
      const f = fence;
      if (!w || !f) return;
      try {
        const entries = await source.claim(settings.batchEntries, Math.max(50, Math.floor(settings.tickMs / 2)));
        if (entries.length === 0 || window !== w) continue;
        for (const entry of entries) applyEntry(w, entry, true);
        const committed = await source.commit(entries.map((e) => e.id), w.takeTotalsDelta(), f);
        if (!committed) stepDown('lease lost: commit fenced off');
      } catch (err) {
        if (closing) return;
        // The batch is still pending: it is claimed again once readable, so nothing is lost.
        log.error({ err }, 'consuming the event log failed; retrying');
        stepDown('consume failed');
        await sleep(RETRY_MS);
      }
    }
  }

  async function tick(tickMs: number): Promise<void> {
    if (closing) return;
    let won: Fence | null;
    try {
      won = await lease.acquireOrRenew();
    } catch (err) {
      log.warn({ err }, 'lease check failed');
      stepDown('lease unreachable');
      return;
    }
    if (!won) return stepDown('lease held by another replica');
    if (role === 'standby' || won.epoch !== fence?.epoch) {
      try {
        await becomeLeader(won);
      } catch (err) {
        log.error({ err }, 'taking over failed; will retry next tick');
        role = 'standby';
        fence = null;
        return;
      }
    }
    if (role !== 'leader' || !window) return;
    await publish(window, tickMs);
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

  const timer = new TickTimer(settings.tickMs, tick);

  return {
    start() {
      timer.start();
    },
    async close() {
      closing = true;
      timer.stop();
      await consuming;
      // Hand the lease over at once so a standby need not wait for it to expire.
      if (role !== 'standby') await lease.release().catch(() => undefined);
      role = 'standby';
    },
    status() {
      return {
        role,
        epoch: fence?.epoch ?? null,
        lastPublishedSeq: lastPublished?.seq ?? null,
        lastPublishedAt: lastPublished?.builtAt ?? null,
        cells: window?.cellCount ?? 0,
        inFlight: window?.inFlight ?? 0,
        lagMs: lastPublished && newestApplied > 0 ? Math.max(0, lastPublished.builtAt * 1000 - newestApplied) : null,
      };
    },
    nextSnapshot() {
      return new Promise((resolve) => waiters.push(resolve));
    },
  };
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
