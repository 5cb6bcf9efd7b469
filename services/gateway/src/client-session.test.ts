import { describe, expect, it } from 'vitest';
import type { DeltaBase } from '@pulse/metrics';
import { ClientSession, UNFILTERED_VIEW, viewKeyOf } from './client-session.js';
import { ALL_TYPES_MASK, typeBit } from './metric-types.js';

const TICK = 100;
const BASE: DeltaBase = { totalRequestsPerSec: 0, totalTokensPerSec: 0, activeStreams: 0 };
const socket = { bufferedAmount: 0, sendFrame: () => {} };

function session(nowMs = 0): ClientSession {
  return new ClientSession(socket, '127.0.0.1:1', TICK, nowMs, BASE);
}

describe('ClientSession schedule', () => {
  // Default interval: 1 s = 10 ticks. Connected at t = 0.
  it.each([
    { what: 'nothing sooner than one interval after connect', at: 999, seq: 5, due: false },
    { what: 'the first snapshot one interval after connect', at: 1000, seq: 5, due: true },
    { what: 'any later snapshot while waiting for the first', at: 4000, seq: 5, due: true },
  ])('$what', ({ at, seq, due }) => {
    expect(session().isDue(seq, at)).toBe(due);
  });

  it.each([
    { what: 'not before interval/tick snapshots', seq: 109, due: false },
    { what: 'exactly interval/tick snapshots later', seq: 110, due: true },
    { what: 'later still, after a gap in snapshots', seq: 117, due: true },
    { what: 'the same snapshot again', seq: 100, due: false },
    { what: 'a seq behind the last one sent (new leader, clock behind)', seq: 60, due: true },
  ])('after an update at seq 100: $what', ({ seq, due }) => {
    const s = session();
    s.markSent(100, BASE);
    // Arrival time no longer matters once the first update went out: seq does.
    expect(s.isDue(seq, 1_000_000)).toBe(due);
  });

  it('counts the next interval from the seq actually sent, so a late send does not bunch updates', () => {
    const s = session();
    s.markSent(117, BASE);
    expect(s.isDue(126, 0)).toBe(false);
    expect(s.isDue(127, 0)).toBe(true);
  });

  it.each([
    { interval: 0.7, seqs: [106, 107], due: [false, true] },
    { interval: 0.05, seqs: [100, 101], due: [false, true] },
    { interval: 2, seqs: [119, 120], due: [false, true] },
  ])('uses the subscribed interval $interval s, rounded to ticks', ({ interval, seqs, due }) => {
    const s = session();
    expect(s.subscribe({ interval }, 0).ok).toBe(true);
    expect(s.isDue(seqs[0]!, 100_000)).toBe(true); // first update: by clock
    s.markSent(100, BASE);
    expect(seqs.map((q) => s.isDue(q, 100_000))).toEqual(due);
  });

  it.each([
    { what: 'subscribe', act: (s: ClientSession, t: number) => void s.subscribe({ endpoint: '/a' }, t) },
    { what: 'unsubscribe', act: (s: ClientSession, t: number) => s.unsubscribe(t) },
  ])('restarts the schedule on $what: nothing sooner than one interval later', ({ act }) => {
    const s = session();
    s.markSent(100, BASE);
    act(s, 5000);
    expect(s.isDue(110, 5999)).toBe(false);
    expect(s.isDue(110, 6000)).toBe(true);
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
