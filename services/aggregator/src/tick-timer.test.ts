/**
 * The tick timer on the real clock: ticks on the edges, one at a time, and
 * counts exactly the edges that got no tick.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { TickTimer } from './tick-timer.js';


/** Runs a timer for `runMs`; `work(i)` is how long the i-th tick takes. */
async function run(tickMs: number, runMs: number, work: (i: number) => number) {
  const ticks: number[] = [];
  /** What the timer counted as skipped when each tick began: all the edges before it. */
  const skippedBefore: number[] = [];
  const reports: { edges: number; tookMs: number; tickTimeMs: number }[] = [];
  let running = 0;
  let overlapped = false;
  const timer = new TickTimer(
    tickMs,
    async (t) => {
      overlapped ||= running > 0;
      running++;
      ticks.push(t);
      skippedBefore.push(timer.skipped);
      await sleep(work(ticks.length - 1));
      running--;
    },
    Date.now,
    (edges, tookMs, tickTimeMs) => reports.push({ edges, tookMs, tickTimeMs }),
  );
  timer.start();
  await sleep(runMs);
  timer.stop();
  // A tick running when stopped may count edges no tick after it shows: compare up to the last tick's start.
  return { timer, ticks, reports, overlapped, skipped: skippedBefore.at(-1) ?? 0 };
}

/** Edges between consecutive ticks that got no tick of their own. */
function gaps(ticks: readonly number[], tickMs: number): number {
  let missed = 0;
  for (let i = 1; i < ticks.length; i++) missed += (ticks[i]! - ticks[i - 1]!) / tickMs - 1;
  return missed;
}

describe('TickTimer', () => {
  it('ticks on multiples of the tick, one at a time', async () => {
    const { ticks, skipped, overlapped } = await run(50, 400, () => 0);
    expect(ticks.length).toBeGreaterThanOrEqual(3);
    for (const t of ticks) expect(t % 50).toBe(0);
    expect(overlapped).toBe(false);
    // However late this machine fired them, what it counts as skipped is exactly what the tick times leave out.
    expect(skipped).toBe(gaps(ticks, 50));
  });

  it('counts and reports the edges a slow tick ran past, and how long it took', async () => {
    // The second tick takes 130 ms of a 40 ms tick: at least three edges pass while it runs.
    const { ticks, timer, reports, skipped } = await run(40, 500, (i) => (i === 1 ? 130 : 0));
    expect(ticks.length).toBeGreaterThanOrEqual(4);
    expect(skipped).toBe(gaps(ticks, 40));
    const slow = reports.find((r) => r.tickTimeMs === ticks[1]);
    expect(slow?.edges).toBeGreaterThanOrEqual(3);
    expect(slow?.tookMs).toBeGreaterThanOrEqual(125);
    expect(ticks[2]! - ticks[1]!).toBe(40 * (slow!.edges + 1));
    expect(reports.reduce((n, r) => n + r.edges, 0)).toBe(timer.skipped);
    expect(timer.lastTickMs).toBeLessThan(125);
  });
});
