import { describe, expect, it } from 'vitest';
import type { DeltaBase } from '@pulse/metrics';
import { fnv1a } from '@pulse/protocol';
import { ClientSession, PHASED_MS, UNFILTERED_VIEW, viewKeyOf } from './client-session.js';
import { ALL_TYPES_MASK, typeBit } from './metric-types.js';

const TICK = 100;
const BASE: DeltaBase = { totalRequestsPerSec: 0, totalTokensPerSec: 0, activeStreams: 0 };
const socket = { bufferedAmount: 0, sendFrame: () => {} };

function session(nowMs = 0): ClientSession {
  return new ClientSession(socket, '127.0.0.1:1', TICK, nowMs, BASE);
}

/** The seq residue mod its interval in ticks that a view's updates fall on (docs/PROTOCOL.md §5.5). */
const phaseOf = (s: ClientSession) => fnv1a(s.viewKey) % (s.filter.intervalMs / TICK);

/** The first seq from `from` on that is on the phase of `s`. */
function onPhase(s: ClientSession, from: number): number {
  let seq = from;
  while (seq % (s.filter.intervalMs / TICK) !== phaseOf(s)) seq++;
  return seq;
}

/** Seqs 0 … last arriving one a tick apart (seq × TICK ms), `before` called ahead of each; the seqs each session was sent. */
function run(sessions: ClientSession[], last: number, before: (seq: number, nowMs: number) => void = () => {}): number[][] {
  const sent = sessions.map(() => [] as number[]);
  for (let seq = 0; seq <= last; seq++) {
    before(seq, seq * TICK);
    sessions.forEach((s, i) => {
      if (!s.isDue(seq, seq * TICK)) return;
      s.markSent(seq, BASE);
      sent[i]!.push(seq);
    });
  }
  return sent;
}

describe('ClientSession schedule', () => {
  // Default interval: 1 s = 10 ticks. Connected at t = 0.
  const A = onPhase(session(), 100);
  it.each([
    { what: 'nothing sooner than one interval after connect', at: 999, seq: A, due: false },
    { what: 'the first snapshot on its phase once one interval passed', at: 1000, seq: A, due: true },
    { what: 'not one off its phase', at: 1500, seq: A + 1, due: false },
    { what: 'any snapshot once two intervals passed (seqs that never land on the phase)', at: 2000, seq: A + 1, due: true },
    { what: 'any later snapshot on its phase while waiting for the first', at: 4000, seq: A + 10, due: true },
  ])('$what', ({ at, seq, due }) => {
    expect(session().isDue(seq, at)).toBe(due);
  });

  it.each([
    { what: 'not before interval/tick snapshots', seq: A + 9, due: false },
    { what: 'exactly interval/tick snapshots later', seq: A + 10, due: true },
    { what: 'later still, after a gap in snapshots', seq: A + 17, due: true },
    { what: 'the same snapshot again', seq: A, due: false },
    { what: 'a seq behind the last one sent (new leader, clock behind)', seq: A - 40, due: true },
  ])('after an update on its phase: $what', ({ seq, due }) => {
    const s = session();
    s.markSent(A, BASE);
    // Arrival time no longer matters once the first update went out: seq does.
    expect(s.isDue(seq, 1_000_000)).toBe(due);
  });

  it('after an update off its phase (late), the next is back on it, never sooner than one interval', () => {
    const s = session();
    s.markSent(A + 7, BASE);
    expect(s.isDue(A + 19, 0)).toBe(false);
    expect(s.isDue(A + 20, 0)).toBe(true);
  });

  it.each([
    { interval: 0.7, ticks: 7 },
    { interval: 0.05, ticks: 1 },
    { interval: 2, ticks: 20 },
  ])('uses the subscribed interval $interval s, rounded to $ticks ticks, on its phase', ({ interval, ticks }) => {
    const s = session();
    expect(s.subscribe({ interval }, 0).ok).toBe(true);
    const first = onPhase(s, 100);
    expect(s.isDue(first, 100_000)).toBe(true);
    s.markSent(first, BASE);
    expect([s.isDue(first + ticks - 1, 0), s.isDue(first + ticks, 0)]).toEqual([false, true]);
  });

  it(`keeps the clock's schedule for intervals over ${PHASED_MS} ms: a first update at any seq, then every interval from it`, () => {
    const s = session();
    expect(s.subscribe({ interval: (PHASED_MS + TICK) / 1000 }, 0).ok).toBe(true);
    const [sent] = run([s], 100);
    expect(sent).toEqual([21, 42, 63, 84]);
  });

  it('gives the clients of one view with one interval the same snapshots, whenever they connected', () => {
    const early = session();
    const late = session();
    expect(early.subscribe({ endpoint: '/a' }, 0).ok).toBe(true);
    // Three ticks apart: without phases one would be sent the odd snapshots, the other the even ones.
    const [a, b] = run([early, late], 60, (seq, nowMs) => seq === 3 && late.subscribe({ endpoint: '/a' }, nowMs));
    expect(b!.length).toBeGreaterThan(3);
    expect(a!.filter((seq) => seq >= b![0]!)).toEqual(b);
    for (let i = 1; i < a!.length; i++) expect(a![i]! - a![i - 1]!).toBe(10);
  });

  it('spreads distinct views over the ticks of their interval', () => {
    const sessions = Array.from({ length: 1000 }, (_, i) => {
      const s = session();
      expect(s.subscribe({ endpoint: `/e${i}`, interval: 0.2 }, 0).ok).toBe(true);
      return s;
    });
    const firsts = run(sessions, 5).map((seqs) => seqs[0]!);
    const odd = firsts.filter((seq) => seq % 2 === 1).length;
    expect(odd).toBeGreaterThan(400);
    expect(odd).toBeLessThan(600);
  });

  it.each([
    { what: 'subscribe', act: (s: ClientSession, t: number) => void s.subscribe({ endpoint: '/a' }, t) },
    { what: 'unsubscribe', act: (s: ClientSession, t: number) => s.unsubscribe(t) },
  ])('restarts the schedule on $what: nothing sooner than one interval later', ({ act }) => {
    const s = session();
    s.markSent(A, BASE);
    act(s, 5000);
    const next = onPhase(s, A + 10);
    expect(s.isDue(next, 5999)).toBe(false);
    expect(s.isDue(next, 6000)).toBe(true);
  });

  it('leaves filter and schedule alone on an invalid subscribe', () => {
    const s = session();
    s.subscribe({ endpoint: '/a', metric_type: 'latency', interval: 3 }, 0);
    s.markSent(100, BASE);
    const before = { filter: s.filter, key: s.viewKey, mask: s.typesMask };
    const result = s.subscribe({ endpoint: '/b', metric_type: 'nope' }, 5000);
    expect(result.ok).toBe(false);
    expect({ filter: s.filter, key: s.viewKey, mask: s.typesMask }).toEqual(before);
    expect(s.isDue(130, 5001)).toBe(true); // still on the old schedule
  });

  it('keeps the base it was given until an update is sent', () => {
    const s = session();
    expect(s.base).toBe(BASE);
    const next = { totalRequestsPerSec: 1, totalTokensPerSec: 2, activeStreams: 3 };
    s.markSent(1, next);
    expect(s.base).toBe(next);
  });
});

describe('ClientSession filter', () => {
  it('starts unfiltered with every metric type', () => {
    const s = session();
    expect(s.viewKey).toBe(UNFILTERED_VIEW);
    expect(s.typesMask).toBe(ALL_TYPES_MASK);
    expect(s.filter.intervalMs).toBe(1000);
  });

  it.each([
    { filters: { metric_type: 'latency' }, mask: typeBit('latency') },
    { filters: { metric_types: ['latency', 'error'] }, mask: typeBit('latency') | typeBit('error') },
    { filters: { metric_type: 'all' }, mask: ALL_TYPES_MASK },
    { filters: { endpoint: '/a' }, mask: ALL_TYPES_MASK },
  ])('masks metric types of $filters', ({ filters, mask }) => {
    const s = session();
    s.subscribe(filters, 0);
    expect(s.typesMask).toBe(mask);
  });

  it('resets everything on unsubscribe', () => {
    const s = session();
    s.subscribe({ endpoint: '/a', model: 'm', metric_type: 'cache', interval: 5 }, 0);
    s.unsubscribe(1);
    expect(s.viewKey).toBe(UNFILTERED_VIEW);
    expect(s.typesMask).toBe(ALL_TYPES_MASK);
    expect(s.filter.intervalMs).toBe(1000);
    expect(s.filter.endpoints.size + s.filter.models.size).toBe(0);
  });
});

describe('viewKeyOf', () => {
  const f = (endpoints: string[], models: string[], nodes: string[] = []) => ({ endpoints: new Set(endpoints), models: new Set(models), nodes: new Set(nodes) });
  it.each([
    { a: f([], []), b: f([], []), same: true },
    { a: f(['/a', '/b'], ['m']), b: f(['/b', '/a'], ['m']), same: true },
    { a: f(['x'], []), b: f([], ['x']), same: false },
    { a: f(['/a'], []), b: f(['/a', '/b'], []), same: false },
    { a: f(['a,b'], []), b: f(['a', 'b'], []), same: false },
    { a: f([], [], ['n1']), b: f([], []), same: false },
    { a: f([], [], ['n1', 'n2']), b: f([], [], ['n2', 'n1']), same: true },
    { a: f(['n1'], []), b: f([], [], ['n1']), same: false },
  ])('$a.endpoints/$a.models vs $b.endpoints/$b.models: same = $same', ({ a, b, same }) => {
    expect(viewKeyOf(a) === viewKeyOf(b)).toBe(same);
  });

  it('is the unfiltered key without filters', () => {
    expect(viewKeyOf(f([], []))).toBe(UNFILTERED_VIEW);
  });
});
