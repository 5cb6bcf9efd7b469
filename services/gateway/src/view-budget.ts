/**
 * The per-tick time budget for building views (PULSE_GATEWAY_VIEW_BUDGET_MS,
 * docs/PROTOCOL.md §5.9). A gateway builds each distinct view once per
 * snapshot; when every client has a view of its own, those builds can take
 * longer than a tick and every client falls behind, the ones sharing common
 * views included. So each view's build time is measured, and when a tick's
 * views cost more than the budget, the views that cost most per client they
 * serve are built only every 2nd, 4th or 8th snapshot (their clients get
 * updates that much less often, never stale ones), until the estimate fits;
 * when there is room again they are sped back up, cheapest first. Views
 * shared by many clients cost little per client, so they stay on time.
 */
import { fnv1a } from '@pulse/protocol';
import { UNFILTERED_VIEW } from './client-session.js';

/** The slowest cadence: a view is built at least every this many snapshots. */
export const MAX_EVERY = 8;
/** Speed views back up only while the estimate stays under this share of the budget (no flapping). */
const RECOVER_SHARE = 0.7;
/** A view not built for this many of its periods is forgotten (its clients left). */
const FORGET_PERIODS = 4;

interface Cadence {
  /** Build time, ms: a moving average. */
  costMs: number;
  /** Built every this many snapshots: 1, 2, 4 or 8. */
  every: number;
  /**
   * Which snapshots of the period: the view's hash, as its clients' phase
   * (client-session.ts), so a slowed view is built on the snapshots its
   * clients are due for; views slowed alike hash to different ones.
   */
  readonly phase: number;
  clients: number;
  lastSeq: number;
}

export interface ViewCost {
  key: string;
  ms: number;
  clients: number;
}

export class ViewBudget {
  private readonly views = new Map<string, Cadence>();

  constructor(readonly budgetMs: number) {}

  /** Whether view `key` is built for snapshot `seq`. */
  builds(key: string, seq: number): boolean {
    const c = this.views.get(key);
    return !c || c.every === 1 || (seq - c.phase) % c.every === 0;
  }

  /** Views on a slower cadence than every snapshot. */
  get slowed(): number {
    let n = 0;
    for (const c of this.views.values()) if (c.every > 1) n++;
    return n;
  }

  /** The cadence of view `key` (1 when it is built every snapshot). */
  everyOf(key: string): number {
    return this.views.get(key)?.every ?? 1;
  }

  /** After the views of snapshot `seq` were built: records their cost and adjusts cadences to the budget. */
  settle(seq: number, built: readonly ViewCost[]): void {
    for (const { key, ms, clients } of built) {
      if (key === UNFILTERED_VIEW) continue; // built for every snapshot anyway (history, REST)
      const c = this.views.get(key);
      if (c) {
        c.costMs = (c.costMs + ms) / 2;
        c.clients = clients;
        c.lastSeq = seq;
      } else {
        this.views.set(key, { costMs: ms, every: 1, phase: fnv1a(key) % MAX_EVERY, clients, lastSeq: seq });
      }
    }
    for (const [key, c] of this.views) if (seq - c.lastSeq > FORGET_PERIODS * c.every) this.views.delete(key);
    let load = 0;
    for (const c of this.views.values()) load += c.costMs / c.every;
    if (load > this.budgetMs) this.slowDown(load);
    else if (load < RECOVER_SHARE * this.budgetMs) this.speedUp(load);
  }

  private slowDown(load: number): void {
    const costliest = [...this.views.values()].filter((c) => c.every < MAX_EVERY).sort((a, b) => perClient(b) - perClient(a));
    // The costliest per client goes down to the slowest cadence before the next is touched.
    for (const c of costliest) {
      while (load > this.budgetMs && c.every < MAX_EVERY) {
        load -= c.costMs / c.every / 2;
        c.every *= 2;
      }
      if (load <= this.budgetMs) return;
    }
  }

  private speedUp(load: number): void {
    const cheapest = [...this.views.values()].filter((c) => c.every > 1).sort((a, b) => perClient(a) - perClient(b));
    for (const c of cheapest) {
      const more = c.costMs / c.every; // halving `every` doubles its share
      if (load + more > RECOVER_SHARE * this.budgetMs) return;
      load += more;
      c.every /= 2;
    }
  }
}

function perClient(c: Cadence): number {
  return c.costMs / Math.max(1, c.clients);
}
