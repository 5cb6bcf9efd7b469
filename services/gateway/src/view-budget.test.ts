import { describe, expect, it } from 'vitest';
import type { DeltaBase } from '@pulse/metrics';
import { ClientSession } from './client-session.js';
import { MAX_EVERY, ViewBudget } from './view-budget.js';

/** How often each view is built over `ticks` snapshots, settling each tick with its cost. */
function run(budget: ViewBudget, views: { key: string; ms: number; clients: number }[], ticks: number, from = 0): Map<string, number> {
  const built = new Map<string, number>(views.map((v) => [v.key, 0]));
  for (let seq = from; seq < from + ticks; seq++) {
    const costs = views.filter((v) => budget.builds(v.key, seq));
    for (const v of costs) built.set(v.key, built.get(v.key)! + 1);
    budget.settle(seq, costs);
  }
  return built;
}

describe('ViewBudget', () => {
  it('builds every view every snapshot while they fit', () => {
    const budget = new ViewBudget(100);
    const views = Array.from({ length: 10 }, (_, i) => ({ key: `v${i}`, ms: 5, clients: 1 }));
    expect([...run(budget, views, 40).values()]).toEqual(views.map(() => 40));
    expect(budget.slowed).toBe(0);
  });

  it('over the budget slows the views that cost most per client, keeps a shared view on time, and fits the budget', () => {
    const budget = new ViewBudget(50);
    const shared = { key: 'shared', ms: 5, clients: 1000 };
    const distinct = Array.from({ length: 40 }, (_, i) => ({ key: `d${i}`, ms: 4, clients: 1 }));
    run(budget, [shared, ...distinct], 40);
    const built = run(budget, [shared, ...distinct], 80, 40);
    expect(built.get('shared')).toBe(80);
    expect(budget.everyOf('shared')).toBe(1);
    // 5 + 160 ms of views into a 50 ms budget: only distinct views are slowed, none past every 8th snapshot.
    expect(distinct.filter((d) => budget.everyOf(d.key) > 1).length).toBeGreaterThan(20);
    for (const d of distinct) expect(budget.everyOf(d.key)).toBeLessThanOrEqual(MAX_EVERY);
    let perTick = 0;
    for (const v of [shared, ...distinct]) perTick += (v.ms * built.get(v.key)!) / 80;
    expect(perTick).toBeLessThanOrEqual(50);
  });

  it('never slows a view past every 8th snapshot, and speeds views back up when the load falls', () => {
    const budget = new ViewBudget(10);
    const heavy = Array.from({ length: 20 }, (_, i) => ({ key: `h${i}`, ms: 20, clients: 1 }));
    run(budget, heavy, 64);
    for (const v of heavy) expect(budget.everyOf(v.key)).toBe(MAX_EVERY);
    // Most clients leave: the two views left fit again and return to every snapshot.
    const left = heavy.slice(0, 2).map((v) => ({ ...v, ms: 1 }));
    run(budget, left, 200, 64);
    for (const v of left) expect(budget.everyOf(v.key)).toBe(1);
    expect(budget.slowed).toBe(0);
  });

  it.each([2, 4, 8])('builds a view slowed to one snapshot in %i on those its clients are due for: they get each build', (every) => {
    const TICK = 500;
    const base: DeltaBase = { totalRequestsPerSec: 0, totalTokensPerSec: 0, activeStreams: 0 };
    // Views of different hashes, each alone on a budget that slows it to `every`; clients at two ticks (phased).
    for (let i = 0; i < 8; i++) {
      const s = new ClientSession({ bufferedAmount: 0, sendFrame: () => {} }, 'test', TICK, 0, base);
      expect(s.subscribe({ endpoint: `/e${i}`, interval: 1 }, 0).ok).toBe(true);
      const budget = new ViewBudget(50);
      run(budget, [{ key: s.viewKey, ms: 40 * every, clients: 1 }], 40);
      expect(budget.everyOf(s.viewKey)).toBe(every);
      const sent: number[] = [];
      for (let seq = 40; seq < 120; seq++) {
        if (!s.isDue(seq, seq * TICK) || !budget.builds(s.viewKey, seq)) continue;
        s.markSent(seq, base);
        sent.push(seq);
      }
      // From the second on: the first, long overdue, may come off the phase.
      const gaps = sent.slice(2).map((seq, j) => seq - sent[j + 1]!);
      expect(new Set(gaps), s.viewKey).toEqual(new Set([every]));
    }
  });
});
