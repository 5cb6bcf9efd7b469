/**
 * One aggregator replica, as a state machine. Every replica keeps a hot
 * window: a standby tails the event log into it, so the moment it wins the
 * lease it can publish. Only the leader publishes, every tick, and only the
 * leader counts the since-creation totals, claiming entries through the
 * consumer group and acknowledging each batch with its totals, fenced by the
 * lease epoch (takeover.ts has how a takeover counts each entry once).
 *
 *   starting ──build──▶ standby ──takeOver──▶ leading
 *                         ▲  │                   │ stepDown: lease lost, a fenced-off
 *                         │  └─restart─▶ starting│ commit or publish, the log unreachable
 *                         └───build─── stepping-down ◀┘
 *   any state ──close──▶ closed
 *
 * Each arrow is a method. Two activities drive them, coordinated by promises:
 * the read loop (`run`) alone reads the log and changes the window, taking
 * the step of the current state; the tick (`tick`, on every tick edge of the
 * clock) renews the lease and publishes. A tick that wins the lease asks the
 * loop to take over and awaits it (for half a tick at most); a lost lease is
 * a synchronous step down that the loop acts on after its current read. A
 * leader also renews on a keep-alive timer (every third of the lease), so a
 * late tick does not cost it the lease.
 */
import { encodePatch, encodeSnapshot, type BusMessage, type InternalSnapshot } from '@pulse/protocol';
import { MetricsWindow, takePatch, type ExponentialCounts } from '@pulse/metrics';
import { idMs, type EventSource, type Fence, type LeaderLease, type LogEntry, type Logger, type SnapshotPublisher } from '@pulse/runtime';
import type { HistoryRecorder } from '@pulse/history';
import type { AlertsOnSnapshots } from './alerts.js';
import type { AggregatorSettings } from './config.js';
import { ReadSize } from './read-size.js';
import { TakeoverLedger } from './takeover.js';
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
  /** Alert evaluation on each published message, when PULSE_ALERT_RULES is set (alerts.ts). */
  alerts?: AlertsOnSnapshots;
  /** The durable history (@pulse/history, docs/HISTORY.md): captured every tick in either role, written while leading. */
  history?: HistoryRecorder;
  /** How often a keyframe is stored for feeds that start or catch up; default KEYFRAME_EVERY_MS (tests shorten it). */
  keyframeEveryMs?: number;
}

export type AggregatorState = 'starting' | 'standby' | 'leading' | 'stepping-down' | 'closed';

/** What a replica is to the cluster: the one publishing, or one ready to. */
export type Role = 'standby' | 'leader';

export interface AggregatorStatus {
  role: Role;
  state: AggregatorState;
  epoch: number | null;
  lastPublishedSeq: number | null;
  lastPublishedAt: number | null;
  cells: number;
  /** Time buckets the window holds: at most window ÷ tick + 1 in either role. */
  buckets: number;
  /** Events this replica applied to its window since it (re)built it. */
  eventsApplied: number;
  /** Id of the last log entry this replica read, in either role. */
  appliedId: string;
  inFlight: number;
  /** Producing nodes the window tracks (silent ones drop out after 30 s). */
  nodes: number;
  /** Log entries whose stream hints this standby recorded for a takeover (takeover.ts): within the last window + tick. */
  recordedEntries: number;
  labelsFolded: number;
  /** ms between the newest applied entry being logged and the last snapshot. */
  lagMs: number | null;
  /** Tick edges that passed without a tick (one ran past them, or the event loop was blocked), since start. */
  ticksSkipped: number;
  /** How long the last tick took, ms. */
  lastTickMs: number;
}

/** Skipped ticks are logged at most this often, each line counting those since the one before. */
const SKIP_LOG_MS = 10_000;

/** Pause after a failed read or commit before trying again. */
const RETRY_MS = 250;
/** How long a read may wait for new entries: short, so a role change is seen quickly. */
const BLOCK_MS = 100;
/** Keyframes at most this far apart: a gateway that starts or misses a patch catches up from the last one. */
const KEYFRAME_EVERY_MS = 10_000;
/** Events applied per read at most (about 50–100 ms of work), whatever the entry sizes. */
const EVENTS_PER_READ = 20_000;

export class Aggregator {
  private state: AggregatorState = 'starting';
  private window: MetricsWindow | null = null;
  /** When the metrics store the window counts from was created (the OTLP points' start). */
  private createdAtMs = 0;
  private ledger: TakeoverLedger | null = null;
  /** Held while leading: what commits and publishes carry. */
  private fence: Fence | null = null;
  /** A lease won by a tick, for the loop to take over with. */
  private won: { fence: Fence; settled: Promise<void>; settle: () => void } | null = null;
  private loop: Promise<void> | null = null;
  private closing: Promise<void> | null = null;
  /** The last message published in this leadership. */
  private lastPublished: { seq: number; builtAt: number } | null = null;
  /** When the last keyframe went out; set when the next must be one (a publish failed). */
  private keyframeAt = -Infinity;
  private keyframeDue = true;
  private waiters: ((s: InternalSnapshot) => void)[] = [];
  private newestApplied = 0;
  private readId = '';
  private readonly readSize: ReadSize;
  private readonly timer: TickTimer;
  private keepAlive: NodeJS.Timeout | null = null;
  private renewing = false;
  /** Skipped ticks not yet logged, and when the last line went out. */
  private skipLog = { at: -Infinity, edges: 0, slowestMs: 0 };
  private readonly now: () => number;
  private readonly log: Logger;

  constructor(private readonly deps: AggregatorDeps) {
    this.now = deps.now ?? Date.now;
    this.log = deps.logger.child({ component: 'aggregator' });
    this.readSize = new ReadSize(deps.settings.batchEntries, EVENTS_PER_READ);
    this.timer = new TickTimer(deps.settings.tickMs, (t) => this.tick(t), this.now, (...skip) => this.skippedTicks(...skip));
  }

  /** Tick edges passed without a tick: a warning, at most every SKIP_LOG_MS, naming how many since the last. */
  private skippedTicks(edges: number, tookMs: number, tickTimeMs: number): void {
    const log = this.skipLog;
    log.edges += edges;
    log.slowestMs = Math.max(log.slowestMs, tookMs);
    const now = this.now();
    if (now - log.at < SKIP_LOG_MS) return;
    this.log.warn(
      { skipped: log.edges, slowestTickMs: log.slowestMs, tick: tickTimeMs, tickMs: this.deps.settings.tickMs, state: this.state },
      'ticks skipped: a tick ran past the next edge or started late (CPU starved or event loop blocked); the snapshots after it cover the gap',
    );
    this.skipLog = { at: now, edges: 0, slowestMs: 0 };
  }

  /** The current state; a method, not a field, so that it is read afresh after every await. */
  current(): AggregatorState {
    return this.state;
  }

  /** Starts the read loop and, unless `ticks` is false (tests drive `tick` themselves), the tick timer. */
  start({ ticks = true }: { ticks?: boolean } = {}): void {
    this.loop ??= this.run();
    if (!ticks) return;
    this.timer.start();
    const { leaseMs } = this.deps.settings;
    if (leaseMs !== undefined && !this.keepAlive) this.keepAlive = setInterval(() => void this.renew(), leaseMs / 3);
  }

  /** Stops ticking and reading; a leader hands its lease over at once so a standby need not wait for it to expire. */
  close(): Promise<void> {
    return (this.closing ??= (async () => {
      const was = this.state;
      this.state = 'closed';
      this.timer.stop();
      if (this.keepAlive) clearInterval(this.keepAlive);
      this.won?.settle();
      await this.loop;
      if (was === 'leading') await this.deps.lease.release().catch(() => undefined);
    })());
  }

  // ---- transitions ----

  /** starting | stepping-down → standby: a fresh window, tailing from the start of the window's horizon. */
  async build(): Promise<void> {
    const { settings } = this.deps;
    const createdAtMs = await this.deps.source.createdAt();
    if (this.state !== 'starting' && this.state !== 'stepping-down') return;
    this.createdAtMs = createdAtMs;
    this.window = new MetricsWindow({
      windowMs: settings.windowMs,
      bucketMs: settings.tickMs,
      createdAtMs,
      maxEndpoints: settings.maxEndpoints,
      maxModels: settings.maxModels,
      maxNodes: settings.maxNodes,
      maxCells: settings.maxCells,
      slos: settings.slos,
    });
    this.window.totals.exponential = settings.exponentialHistograms === true;
    this.ledger = new TakeoverLedger(`${this.now() - this.horizonMs()}-0`);
    this.fence = null;
    this.state = 'standby';
  }

  /** Standby: tails the next entries into the window, recording their totals for a takeover. True when the read was full. */
  async follow(blockMs: number): Promise<boolean> {
    const { window, ledger } = this.standing();
    const count = this.readSize.count;
    const entries = await this.deps.source.tail(ledger.position, count, blockMs);
    if (this.current() !== 'standby' || this.window !== window) return false; // rebuilt or taken over meanwhile
    this.noteRead(entries);
    for (const entry of entries) {
      if (!ledger.continues(entry)) return this.rolledBack(`entry ${entry.id} follows ${entry.prev}, not ${ledger.position}`);
      ledger.tail(entry, window);
      this.noteApplied(entry);
    }
    ledger.forget(this.now() - this.horizonMs());
    return entries.length === count;
  }

  /** standby → leading with `fence`, by the takeover protocol (takeover.ts). */
  async takeOver(fence: Fence): Promise<void> {
    const { window, ledger } = this.standing();
    const started = this.now();
    // Catch the tail up to the end of the log: that position is the watermark.
    while ((await this.follow(0)) && this.current() === 'standby');
    if (this.current() !== 'standby') return;
    if (ledger.positionIsEntry && !(await this.deps.source.has(ledger.position))) return void this.rolledBack(`entry ${ledger.position} is gone`);
    if (this.current() !== 'standby') return;
    const bad = window.totals.load(await this.deps.source.loadTotals());
    if (bad > 0) this.log.warn({ fields: bad }, 'ignored unreadable totals fields');
    if (this.current() !== 'standby') return;
    this.deps.source.takeOver();
    this.fence = fence;
    this.lastPublished = null; // a leadership starts with a keyframe
    this.deps.history?.reset();
    this.state = 'leading';
    // Count what the old leader left unacknowledged before the first snapshot, so that
    // snapshot's totals already match its window (for a tick at most).
    while (this.now() - started < this.deps.settings.tickMs && this.current() === 'leading') {
      const { claimed, applied } = await this.lead(0);
      if (claimed === 0 || applied > 0) break;
    }
    if (this.current() !== 'leading') return;
    this.log.info({ epoch: fence.epoch, watermark: ledger.position, cells: window.cellCount, ms: this.now() - started }, 'became the active aggregator');
  }

  /** Leading: claims a batch, counts each entry once, commits the batch with its totals. */
  async lead(blockMs: number): Promise<{ claimed: number; applied: number }> {
    const { window, ledger } = this.standing();
    const entries = await this.deps.source.claim(this.readSize.count, blockMs);
    const fence = this.fence;
    // Stepped down while waiting: leave them pending for whoever leads next.
    if (this.current() !== 'leading' || !fence || this.window !== window) return { claimed: 0, applied: 0 };
    this.noteRead(entries);
    let applied = 0;
    for (const entry of entries) {
      if (ledger.claimed(entry, window, idMs(entry.id))) {
        applied++;
        this.noteApplied(entry);
      }
    }
    if (entries.length > 0 && !(await this.deps.source.commit(entries.map((e) => e.id), window.totals.takeDelta(), fence))) {
      this.stepDown('lease lost: commit fenced off');
    }
    return { claimed: entries.length, applied };
  }

  /** leading → stepping-down. Its window may hold entries whose commit failed: it is rebuilt from the log. */
  stepDown(reason: string): void {
    this.dropWin();
    if (this.state !== 'leading') return;
    this.log.warn({ epoch: this.fence?.epoch, reason }, 'no longer the active aggregator');
    this.state = 'stepping-down';
    this.fence = null;
    this.deps.alerts?.stoodDown();
  }

  /**
   * The log no longer holds what the window was read from (takeover.ts): a
   * promoted replica that missed the old primary's last writes, or a Redis
   * restarted empty. Counting on from here would count those writes' retries
   * twice, so the window is rebuilt from the log as it is. Returns false (no
   * full read) for `follow`.
   */
  private rolledBack(what: string): false {
    this.log.warn({ what }, 'the event log lost entries this window holds (failover or restart): rebuilding the window');
    this.restart();
    return false;
  }

  /** standby → starting: the log failed under the window; rebuild it. */
  restart(): void {
    this.dropWin();
    if (this.state === 'standby') this.state = 'starting';
  }

  /** One tick at `tickMs`: renew or win the lease, then publish — or, standing by, expire what left the window. */
  async tick(tickMs: number): Promise<void> {
    if (this.state === 'closed') return;
    let fence: Fence | null;
    try {
      fence = await this.deps.lease.acquireOrRenew();
    } catch (err) {
      this.log.warn({ err }, 'lease check failed');
      return this.standBy('lease unreachable', tickMs);
    }
    if (!fence) return this.standBy('lease held by another replica', tickMs);
    if (this.current() === 'leading' && fence.epoch !== this.fence?.epoch) this.stepDown('lease epoch changed');
    if (this.current() === 'standby') await this.askToTakeOver(fence, this.deps.settings.tickMs / 2);
    // Leading but still counting what the old leader left unacknowledged (takeOver's claims, a tick at most):
    // publish after them, or the first snapshot's totals would trail its window.
    if (this.current() === 'leading' && this.won) await this.won.settled;
    if (this.current() === 'leading') await this.publish(tickMs);
    else this.expire(tickMs);
  }

  /**
   * Leading: renews the lease between ticks. A renewal that finds the lease
   * gone or re-won steps down; one that fails to reach the store changes
   * nothing (the next tick decides, as it does for every replica).
   */
  async renew(): Promise<void> {
    if (this.state !== 'leading' || this.renewing) return;
    const epoch = this.fence?.epoch;
    this.renewing = true;
    try {
      const fence = await this.deps.lease.acquireOrRenew();
      if (this.current() === 'leading' && fence?.epoch !== epoch) this.stepDown('lease lost between ticks');
    } catch (err) {
      this.log.warn({ err }, 'renewing the lease failed');
    } finally {
      this.renewing = false;
    }
  }

  // ---- the loop ----

  /** One step of the read loop in the current state. */
  async step(blockMs: number): Promise<void> {
    switch (this.state) {
      case 'starting':
      case 'stepping-down':
        return this.build();
      case 'standby': {
        const won = this.won;
        if (!won) return void (await this.follow(blockMs));
        try {
          await this.takeOver(won.fence);
        } finally {
          won.settle();
          if (this.won === won) this.won = null;
        }
        return;
      }
      case 'leading':
        return void (await this.lead(blockMs));
      case 'closed':
        return;
    }
  }

  private async run(): Promise<void> {
    while (this.state !== 'closed') {
      try {
        await this.step(BLOCK_MS);
      } catch (err) {
        if (this.current() === 'closed') return;
        // Whatever was claimed stays pending in the group and is claimed again: nothing is lost.
        this.log.error({ err }, 'reading the event log failed; retrying');
        this.stepDown('event log unreachable');
        this.restart();
        await sleep(RETRY_MS);
      }
    }
  }

  // ---- ticks ----

  /** Not the leader this tick: step down if leading, and expire the window on the leader's schedule. */
  private standBy(reason: string, tickMs: number): void {
    this.stepDown(reason);
    this.expire(tickMs);
  }

  /**
   * A standby's window expires buckets and silent nodes on the leader's
   * schedule, so its memory is the leader's and a takeover finds the window
   * the leader had.
   */
  private expire(tickMs: number): void {
    if (this.state !== 'standby' || !this.window) return;
    this.window.advance(tickMs);
    this.deps.history?.capture(this.window, tickMs);
    // What advancing moved between cells (a retired node's totals) is the leader's to persist,
    // and what changed is never published from here: a takeover starts with a whole snapshot.
    this.window.totals.takeDelta();
    this.window.discardChanges();
  }

  /** Hands the won lease to the loop, which takes over; resolves when it did, or after `waitMs`. */
  private async askToTakeOver(fence: Fence, waitMs: number): Promise<void> {
    if (!this.won) {
      let settle = () => {};
      const settled = new Promise<void>((resolve) => (settle = resolve));
      this.won = { fence, settled, settle };
    }
    await within(this.won.settled, waitMs);
  }

  private dropWin(): void {
    this.won?.settle();
    this.won = null;
  }

  /**
   * Publishes the window at `tickMs`: a keyframe (the whole snapshot) on the
   * first tick of a leadership and after a failed publish; a patch (what
   * changed since the last one) otherwise, and every KEYFRAME_EVERY_MS with
   * the keyframe stored beside it for feeds that start or catch up
   * (SnapshotPublisher.refresh), not broadcast to gateways that follow on.
   */
  private async publish(tickMs: number): Promise<void> {
    const window = this.window;
    const fence = this.fence;
    if (!window || !fence) return;
    window.advance(tickMs);
    this.deps.history?.capture(window, tickMs);
    const seq = Math.floor(tickMs / this.deps.settings.tickMs);
    const dropped = this.deps.droppedEvents?.() ?? 0;
    const keyframe = this.lastPublished === null || this.keyframeDue;
    const stored = !keyframe && tickMs - this.keyframeAt >= (this.deps.keyframeEveryMs ?? KEYFRAME_EVERY_MS);
    let encoded: Buffer;
    let message: BusMessage;
    if (keyframe) {
      const snapshot = window.snapshot(tickMs, fence.epoch, seq, dropped);
      encoded = encodeSnapshot(snapshot);
      message = { keyframe: snapshot };
      window.reportedAll();
    } else {
      const patch = takePatch(window, tickMs, fence.epoch, seq, this.lastPublished!.seq, dropped);
      encoded = encodePatch(patch);
      message = { patch };
    }
    try {
      const { publisher } = this.deps;
      // After takePatch the window is what the patch leaves a follower with: that is the keyframe stored.
      const published = stored
        ? await publisher.refresh(encoded, encodeSnapshot(window.snapshot(tickMs, fence.epoch, seq, dropped)), fence)
        : await publisher.publish(encoded, fence);
      if (!published) return this.stepDown('lease lost: publish fenced off');
    } catch (err) {
      // What this message carried is gone with it: the next one must be whole.
      this.keyframeDue = true;
      return void this.log.warn({ err, seq, keyframe, stored }, 'publishing a snapshot failed');
    }
    this.keyframeDue = false;
    if (keyframe || stored) this.keyframeAt = tickMs;
    this.lastPublished = { seq, builtAt: tickMs / 1000 };
    this.deps.alerts?.published(message, fence.epoch, tickMs);
    // Not awaited: a slow store delays history, never the next snapshot (a flush still running is skipped, the next catches up).
    void this.deps.history?.flush(window, tickMs, fence)?.then((ok) => {
      if (!ok && this.fence === fence) this.stepDown('lease lost: history write fenced off');
    });
    if (this.waiters.length === 0) return;
    const snapshot = window.snapshot(tickMs, fence.epoch, seq, dropped);
    const waiting = this.waiters;
    this.waiters = [];
    for (const resolve of waiting) resolve(snapshot);
  }

  // ---- bookkeeping ----

  /** The window and ledger of a standing replica (standby or leading); a transition called out of turn is a bug. */
  private standing(): { window: MetricsWindow; ledger: TakeoverLedger } {
    if (!this.window || !this.ledger) throw new Error(`no window in state ${this.state}: build() first`);
    return { window: this.window, ledger: this.ledger };
  }

  private horizonMs(): number {
    return this.deps.settings.windowMs + this.deps.settings.tickMs;
  }

  private noteApplied(entry: LogEntry): void {
    const at = idMs(entry.id);
    if (at > this.newestApplied) this.newestApplied = at;
  }

  private noteRead(entries: readonly LogEntry[]): void {
    this.readSize.observe(entries);
    const last = entries[entries.length - 1];
    if (last) this.readId = last.id;
  }

  /** What this replica is and holds (bound: handed around as a function, e.g. to the health server). */
  readonly status = (): AggregatorStatus => {
    const snap = this.lastPublished;
    const window = this.window;
    return {
      role: this.state === 'leading' ? 'leader' : 'standby',
      state: this.state,
      epoch: this.fence?.epoch ?? null,
      lastPublishedSeq: snap?.seq ?? null,
      lastPublishedAt: snap?.builtAt ?? null,
      cells: window?.cellCount ?? 0,
      buckets: window?.bucketCount ?? 0,
      eventsApplied: window?.eventsApplied ?? 0,
      appliedId: this.readId,
      inFlight: window?.inFlight ?? 0,
      nodes: window?.nodeCount ?? 0,
      recordedEntries: this.ledger?.size ?? 0,
      labelsFolded: window?.labelsFolded ?? 0,
      lagMs: snap && this.newestApplied > 0 ? Math.max(0, snap.builtAt * 1000 - this.newestApplied) : null,
      ticksSkipped: this.timer.skipped,
      lastTickMs: this.timer.lastTickMs,
    };
  };

  /**
   * The leader's window now, for the OTLP push (@pulse/otel-export), with the
   * store's creation time its totals count from; null unless leading (and
   * published in this leadership, so the totals match the window gateways
   * see), so only the leader pushes. A whole snapshot: for a push every few seconds or more.
   * With the cells' exponential histograms, which no snapshot carries.
   */
  exportState(): { snapshot: InternalSnapshot; createdAtMs: number; exponential: ReadonlyMap<string, readonly ExponentialCounts[]> } | null {
    const { window, fence, lastPublished } = this;
    if (this.state !== 'leading' || !window || !fence || !lastPublished) return null;
    return { snapshot: window.snapshot(this.now(), fence.epoch, lastPublished.seq, 0), createdAtMs: this.createdAtMs, exponential: window.totals.exponentialByCell() };
  }

  /** Resolves with the next snapshot this replica publishes (for tests). */
  nextSnapshot(): Promise<InternalSnapshot> {
    return new Promise((resolve) => this.waiters.push(resolve));
  }
}

export function createAggregator(deps: AggregatorDeps): Aggregator {
  return new Aggregator(deps);
}

/** Resolves when `promise` does or after `ms`, whichever comes first, leaving no timer behind. */
async function within(promise: Promise<void>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([promise, new Promise<void>((resolve) => (timer = setTimeout(resolve, ms)))]);
  clearTimeout(timer);
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
