import { describe, expect, it } from 'vitest';
import { SnapshotHistory, SPAN_SECONDS, STEP_SECONDS } from './history.js';

const timestamps = (h: SnapshotHistory) => (JSON.parse(h.responseBody(0)) as { points: { timestamp: number }[] }).points.map((p) => p.timestamp);

describe('SnapshotHistory', () => {
  it('keeps a point a step apart, and builds a point’s JSON only when it keeps it', () => {
    const h = new SnapshotHistory();
    let built = 0;
    for (let t = 100; t < 100 + 3 * STEP_SECONDS; t += 0.5) h.offer(t, () => `{"n":${++built}}`);
    expect(timestamps(h)).toEqual([100, 100 + STEP_SECONDS, 100 + 2 * STEP_SECONDS]);
    expect(built).toBe(3);
    expect(JSON.parse(h.responseBody(42))).toEqual({
      timestamp: 42,
      points: [1, 2, 3].map((n, i) => ({ timestamp: 100 + i * STEP_SECONDS, data: { n } })),
    });
  });

  it('forgets points older than its span', () => {
    const h = new SnapshotHistory();
    for (let t = 0; t <= 2 * SPAN_SECONDS; t += STEP_SECONDS) h.offer(t, () => '{}');
    const kept = timestamps(h);
    expect(kept[0]).toBe(SPAN_SECONDS + STEP_SECONDS);
    expect(kept[kept.length - 1]).toBe(2 * SPAN_SECONDS);
  });

  it('holds at most 4 MiB of figures, the oldest going first', () => {
    const h = new SnapshotHistory();
    const big = `{"pad":"${'x'.repeat(1024 * 1024 - 20)}"}`; // just under 1 MiB: four fit
    for (let i = 0; i < 6; i++) h.offer(i * STEP_SECONDS, () => big);
    expect(timestamps(h)).toEqual([2, 3, 4, 5].map((i) => i * STEP_SECONDS));
  });
});
