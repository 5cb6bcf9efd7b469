import { describe, expect, it } from 'vitest';
import { AcceptedLedger, FaultPlan } from './faults.js';

const draws = (plan: FaultPlan, n: number) => Array.from({ length: n }, () => plan.next());

describe('FaultPlan', () => {
  it('fails exactly the share, evenly: every 20th request at 5 %', () => {
    const failed = draws(new FaultPlan(0.05), 1000)
      .map((f, i) => (f ? i : -1))
      .filter((i) => i >= 0);
    expect(failed).toHaveLength(50);
    expect(failed.slice(0, 3)).toEqual([19, 39, 59]);
  });

  it('is the same sequence every time', () => {
    expect(draws(new FaultPlan(0.13), 500)).toEqual(draws(new FaultPlan(0.13), 500));
  });

  it('never fails twice in a row below one half', () => {
    const d = draws(new FaultPlan(0.37), 10_000);
    expect(d.some((f, i) => f && d[i + 1])).toBe(false);
    expect(d.filter(Boolean)).toHaveLength(3700);
  });

  it('takes 0 (nothing fails) and 1 (everything does), refuses the rest', () => {
    expect(draws(new FaultPlan(0), 100).some(Boolean)).toBe(false);
    expect(draws(new FaultPlan(1), 100).every(Boolean)).toBe(true);
    expect(() => new FaultPlan(-0.1)).toThrow(RangeError);
    expect(() => new FaultPlan(1.5)).toThrow(RangeError);
    expect(() => new FaultPlan(NaN)).toThrow(RangeError);
  });
});

describe('AcceptedLedger', () => {
  it('counts each key once, a replayed reply not again', () => {
    const ledger = new AcceptedLedger();
    ledger.record('a', 202, '{"accepted":10,"rejected":[]}');
    ledger.record('b', 202, '{"accepted":5,"rejected":[]}');
    ledger.record('a', 202, '{"accepted":10,"rejected":[]}');
    expect(ledger.stats()).toEqual({ accepted: 15, batches: 2, replays: 1, unreadable: 0 });
  });

  it('ignores anything but a 202, so a key refused first counts when accepted later', () => {
    const ledger = new AcceptedLedger();
    ledger.record('a', 503, '{"error":"unavailable"}');
    ledger.record('a', 400, '{"accepted":0}');
    ledger.record('a', 202, '{"accepted":7}');
    expect(ledger.stats()).toMatchObject({ accepted: 7, batches: 1, replays: 0 });
  });

  it('counts every keyless 202, and flags bodies without a count', () => {
    const ledger = new AcceptedLedger();
    ledger.record(undefined, 202, '{"accepted":3}');
    ledger.record(undefined, 202, '{"accepted":3}');
    ledger.record('x', 202, 'not json');
    ledger.record('y', 202, '{"accepted":-1}');
    expect(ledger.stats()).toEqual({ accepted: 6, batches: 2, replays: 0, unreadable: 2 });
  });
});
