import { describe, expect, it } from 'vitest';
import { alertCells, alertKey, deliveryCells, labelText, parseAlerts, parseDeliveries, replyProblem, trackFiring, visibleSpans, type ActiveAlert, type FiringBand } from './alerts.js';

const LIMITS = { spanSeconds: 300, maxBands: 100 };
const T0 = Date.parse('2026-01-01T12:00:00.000Z') / 1000;

function alert(name: string, state: ActiveAlert['state'], activeAt: number, labels: Record<string, string> = { alertname: name }): ActiveAlert {
  return { name, labels, state, activeAt, value: 1 };
}

describe('parseAlerts', () => {
  it('reads GET /v1/alerts as PROTOCOL §8 defines it, times in epoch seconds', () => {
    const body = {
      alerts: [{ name: 'Busy', labels: { alertname: 'Busy', endpoint: '/v1/x' }, state: 'firing', active_at: '2026-01-01T12:00:00.000Z', value: 12.5 }],
    };
    expect(parseAlerts(body)).toEqual([{ name: 'Busy', labels: { alertname: 'Busy', endpoint: '/v1/x' }, state: 'firing', activeAt: T0, value: 12.5 }]);
  });

  it('leaves out malformed entries and non-string labels, and reads anything else as no alerts', () => {
    const body = {
      alerts: [
        { name: 'NoTime', state: 'firing', active_at: 'yesterday', value: 1 },
        { name: 'Odd', state: 'resolved', active_at: '2026-01-01T12:00:00Z', value: 1 },
        null,
        { name: 'Ok', labels: { a: 'x', n: 5 }, state: 'pending', active_at: '2026-01-01T12:00:00Z' },
      ],
    };
    expect(parseAlerts(body)).toEqual([{ name: 'Ok', labels: { a: 'x' }, state: 'pending', activeAt: T0, value: NaN }]);
    expect(parseAlerts(null)).toEqual([]);
    expect(parseAlerts({ alerts: 'none' })).toEqual([]);
  });
});

describe('parseDeliveries', () => {
  it('reads GET /v1/alerts/deliveries?state=failed', () => {
    const body = {
      deliveries: [
        { id: 'f-1', receiver: 'oncall', status: 'firing', labels: { alertname: 'Busy' }, attempts: 1, last_error: 'HTTP 400', created_at: '2026-01-01T11:59:59Z', failed_at: '2026-01-01T12:00:00Z' },
        { id: 7, receiver: 'oncall', failed_at: '2026-01-01T12:00:00Z' },
      ],
    };
    expect(parseDeliveries(body)).toEqual([{ id: 'f-1', receiver: 'oncall', status: 'firing', labels: { alertname: 'Busy' }, attempts: 1, lastError: 'HTTP 400', failedAt: T0 }]);
  });
});

describe('cells', () => {
  it('an alert: name, its other labels sorted, state, since when, value', () => {
    const a: ActiveAlert = { name: 'Busy', labels: { severity: 'page', alertname: 'Busy', endpoint: '/v1/x' }, state: 'firing', activeAt: T0, value: 12.345 };
    const [name, labels, state, since, value] = alertCells(a, T0 + 90);
    expect([name, labels, state, value]).toEqual(['Busy', 'endpoint=/v1/x, severity=page', 'firing', '12.3']);
    expect(since).toMatch(/^\d\d:\d\d:\d\d \(90 s ago\)$/);
  });

  it('a delivery keeps every label, alertname included (it has no name column)', () => {
    const cells = deliveryCells({ id: 'f-1', receiver: 'oncall', status: 'firing', labels: { alertname: 'Busy' }, attempts: 3, lastError: 'HTTP 400', failedAt: T0 }, T0 + 5);
    expect(cells.slice(0, 6)).toEqual(['f-1', 'oncall', 'firing', 'alertname=Busy', '3', 'HTTP 400']);
    expect(cells[6]).toMatch(/\(5 s ago\)$/);
    expect(labelText({})).toBe('');
  });

  it('says why a reply is not the list', () => {
    expect(replyProblem(null)).toMatch(/does not answer/);
    expect(replyProblem({ status: 401, body: { error: 'the token is not valid', code: 'unauthorized' } })).toBe('Pulse answered 401: the token is not valid');
    expect(replyProblem({ status: 502, body: null })).toBe('Pulse answered 502');
  });
});

describe('alertKey', () => {
  it('is the same whatever order the labels come in, and tells names apart', () => {
    expect(alertKey('A', { x: '1', y: '2' })).toBe(alertKey('A', { y: '2', x: '1' }));
    expect(alertKey('A', { x: '1' })).not.toBe(alertKey('B', { x: '1' }));
    expect(alertKey('A', { x: '1' })).not.toBe(alertKey('A', { x: '2' }));
  });
});

describe('trackFiring', () => {
  it('opens a band from active_at when an alert is seen firing, not while it is pending', () => {
    let bands = trackFiring([], [alert('A', 'pending', T0)], T0 + 2, LIMITS);
    expect(bands).toEqual([]);
    bands = trackFiring(bands, [alert('A', 'firing', T0)], T0 + 4, LIMITS);
    expect(bands).toEqual([{ key: alertKey('A', { alertname: 'A' }), name: 'A', start: T0, end: null }]);
    // Seen again: the same band, still open.
    expect(trackFiring(bands, [alert('A', 'firing', T0)], T0 + 6, LIMITS)).toEqual(bands);
  });

  it('ends a band at the poll that no longer sees its alert firing: gone, or back to pending', () => {
    const open = trackFiring([], [alert('A', 'firing', T0), alert('B', 'firing', T0 + 1)], T0 + 2, LIMITS);
    const next = trackFiring(open, [alert('B', 'pending', T0 + 1)], T0 + 10, LIMITS);
    expect(next.map((b) => [b.name, b.start, b.end])).toEqual([
      ['A', T0, T0 + 10],
      ['B', T0 + 1, T0 + 10],
    ]);
  });

  it('a new episode between two polls (another active_at) ends the old band where the new one starts', () => {
    const first = trackFiring([], [alert('A', 'firing', T0)], T0 + 2, LIMITS);
    const next = trackFiring(first, [alert('A', 'firing', T0 + 20)], T0 + 22, LIMITS);
    expect(next.map((b) => [b.start, b.end])).toEqual([
      [T0, T0 + 20],
      [T0 + 20, null],
    ]);
  });

  it('drops bands that ended before the charts’ span', () => {
    const bands: FiringBand[] = [
      { key: 'old', name: 'old', start: T0, end: T0 + 10 },
      { key: 'recent', name: 'recent', start: T0 + 100, end: T0 + 400 },
      { key: 'long', name: 'long', start: T0, end: null },
    ];
    expect(trackFiring(bands, [], T0 + 500, LIMITS).map((b) => [b.key, b.end])).toEqual([
      ['long', T0 + 500],
      ['recent', T0 + 400],
    ]);
  });

  it('keeps at most maxBands, dropping those that ended first and keeping the ones still open', () => {
    let bands: FiringBand[] = [];
    // 50 alerts flapping: each poll the even or odd ones fire, so every poll closes and opens 25 bands.
    for (let poll = 0; poll < 40; poll++) {
      const firing = Array.from({ length: 50 }, (_, i) => i)
        .filter((i) => i % 2 === poll % 2)
        .map((i) => alert('Flap', 'firing', T0 + poll, { alertname: 'Flap', n: String(i) }));
      bands = trackFiring(bands, firing, T0 + poll + 0.5, { spanSeconds: 300, maxBands: 60 });
      expect(bands.length).toBeLessThanOrEqual(60);
    }
    expect(bands.filter((b) => b.end === null)).toHaveLength(25);
    // What is left of the closed ones are the latest to end.
    const ends = bands.flatMap((b) => (b.end === null ? [] : [b.end]));
    expect(Math.min(...ends)).toBeGreaterThanOrEqual(T0 + 37);
    expect(bands.map((b) => b.start)).toEqual([...bands.map((b) => b.start)].sort((a, b) => a - b));
  });
});

describe('visibleSpans', () => {
  it('clips bands to the chart’s range; an open band runs to its end', () => {
    const bands: FiringBand[] = [
      { key: 'a', name: 'a', start: 0, end: 5 },
      { key: 'b', name: 'b', start: 8, end: 12 },
      { key: 'c', name: 'c', start: 15, end: null },
      { key: 'd', name: 'd', start: 30, end: null },
    ];
    expect(visibleSpans(bands, 10, 20)).toEqual([
      [10, 12],
      [15, 20],
    ]);
  });
});
