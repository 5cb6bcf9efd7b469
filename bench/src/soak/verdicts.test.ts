import { describe, expect, it } from 'vitest';
import type { ClientRecord } from '../workers/ws-clients.js';
import { clientsVerdict, eventsVerdict, growth, logLevels, logVerdict, median, memoryVerdict, type Point } from './verdicts.js';

const series = (values: number[], every = 30): Point[] => values.map((v, i) => ({ t: i * every, v }));

describe('growth', () => {
  it('compares the medians of the first and last three samples of the span', () => {
    // t = 0 … 270 s; the span from 90 s holds 100, 101, 99, 102, 100, 103, 104.
    const g = growth(series([50, 80, 90, 100, 101, 99, 102, 100, 103, 104]), 90)!;
    expect(g.samples).toBe(7);
    expect(g.from).toBe(100);
    expect(g.to).toBe(103);
    expect(g.pct).toBe(3);
  });

  it('shrugs off one outlier at either end', () => {
    const g = growth(series([100, 160, 100, 100, 101, 100, 99, 140, 100]), 0)!;
    expect(g.pct).toBe(0);
  });

  it('gives the least-squares growth beside: a steady climb is its full height', () => {
    const g = growth(series([100, 110, 120, 130, 140]), 0)!;
    // slope 1/3 per s over 120 s = 40, over the mean 120.
    expect(g.slopePct).toBeCloseTo(33.33, 1);
    expect(g.from).toBe(105);
    expect(g.to).toBe(135);
  });

  it('needs two samples in the span, and skips missing values', () => {
    expect(growth(series([1, 2, 3]), 60)).toBeNull();
    expect(growth([{ t: 0, v: NaN }, { t: 1, v: 10 }, { t: 2, v: 11 }], 0)).toMatchObject({ from: 10, to: 11, samples: 2 });
  });

  it('median of odd and even counts', () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 3, 2])).toBe(2.5);
  });
});

describe('memoryVerdict', () => {
  const rss = series([200, 210, 220, 230, 240, 250]);
  it('passes on a flat heap whatever RSS does, and reports both', () => {
    const v = memoryVerdict('gateway-1', { label: 'heap', points: series([10, 20, 20, 20.2, 20.1, 20.3]) }, { label: 'RSS', points: rss }, 50);
    expect(v.pass).toBe(true);
    expect(v.start).toEqual({ judged: 10, beside: 200 });
    expect(v.end).toEqual({ judged: 20.3, beside: 250 });
    expect(v.besideGrowth!.pct).toBeGreaterThan(5);
  });

  it('fails above 5 %, and without enough samples', () => {
    expect(memoryVerdict('a', { label: 'heap', points: series([10, 10, 10, 10.6, 10.6, 10.6]) }, { label: 'RSS', points: rss }, 0).pass).toBe(false);
    expect(memoryVerdict('a', { label: 'heap', points: series([10]) }, { label: 'RSS', points: rss }, 0).pass).toBe(false);
  });
});

describe('logLevels and logVerdict', () => {
  const text = [
    'Debugger listening on ws://127.0.0.1:9229/abc',
    '{"level":"info","msg":"listening"}',
    '{"level":"warn","msg":"slow"}',
    '{"level":50,"msg":"numeric error"}',
    '{"level":"fatal","msg":"gone"}',
    '{"level":"error", broken',
    '',
  ].join('\n');

  it('counts errors and fatals, lists warnings, ignores other lines', () => {
    const l = logLevels(text);
    expect(l).toMatchObject({ errors: 2, warnings: 1 });
    expect(l.errorLines).toEqual(['{"level":50,"msg":"numeric error"}', '{"level":"fatal","msg":"gone"}']);
    expect(l.warningLines).toEqual(['{"level":"warn","msg":"slow"}']);
  });

  it('passes with warnings only, exit 0 and alive throughout', () => {
    const warnOnly = logLevels('{"level":40,"msg":"w"}\n');
    expect(logVerdict('x', warnOnly, 0, false).pass).toBe(true);
    expect(logVerdict('x', warnOnly, 1, false).pass).toBe(false);
    expect(logVerdict('x', warnOnly, 0, true).pass).toBe(false);
    expect(logVerdict('x', logLevels(text), 0, false).pass).toBe(false);
  });
});

describe('clientsVerdict', () => {
  const intervals = [0.5, 5];
  const begin = 0;
  const end = 60_000;
  const client = (over: Partial<ClientRecord> = {}): ClientRecord => ({ group: 0, updates: 120, lastUpdateMs: 59_800, closed: false, errors: 0, ...over });

  it('passes when every client kept receiving until the end', () => {
    const v = clientsVerdict({ a: [client(), client({ group: 1, updates: 12, lastUpdateMs: 57_000 })] }, intervals, 2, begin, end);
    expect(v).toMatchObject({ connected: 2, updates: 132, dropped: 0, stale: 0, starved: 0, minUpdateShare: 1, pass: true });
  });

  it('fails on a drop, an error, a stale or a starved client, or one that never connected', () => {
    const fails = (c: ClientRecord, requested = 1) => clientsVerdict({ a: [c] }, intervals, requested, begin, end);
    expect(fails(client({ closed: true }))).toMatchObject({ dropped: 1, pass: false });
    expect(fails(client({ errors: 2 }))).toMatchObject({ errors: 2, clientsWithErrors: 1, pass: false });
    expect(fails(client({ lastUpdateMs: 56_000 }))).toMatchObject({ stale: 1, pass: false });
    expect(fails(client({ lastUpdateMs: 0, updates: 0 }))).toMatchObject({ stale: 1, starved: 1, pass: false });
    expect(fails(client({ updates: 80 }))).toMatchObject({ starved: 1, minUpdateShare: 0.67, pass: false });
    expect(fails(client(), 2)).toMatchObject({ connected: 1, requested: 2, pass: false });
  });
});

describe('eventsVerdict', () => {
  it('passes only when every aggregator applied exactly what was accepted', () => {
    expect(eventsVerdict(100, { 'aggregator-1': 100, 'aggregator-2': 100 }, 100).pass).toBe(true);
    expect(eventsVerdict(100, { 'aggregator-1': 100, 'aggregator-2': 99 }, 100).pass).toBe(false);
    expect(eventsVerdict(100, { 'aggregator-1': 100, 'aggregator-2': null }, null).pass).toBe(false);
    expect(eventsVerdict(100, {}, null).pass).toBe(false);
  });
});
