import { describe, expect, it } from 'vitest';
import { SAMPLE_DATA } from '@pulse/test-support/snapshot-data';
import { DEFAULT_SLO_TARGETS, parseSloTargets, sloRows } from './slo-rows.js';

describe('parseSloTargets', () => {
  it('defaults to 99 % for every SLO', () => {
    expect(parseSloTargets(null)).toEqual(DEFAULT_SLO_TARGETS);
    expect(parseSloTargets('')).toEqual({ all: 99, byName: new Map() });
  });

  it('reads a target for all, per SLO, or both', () => {
    expect(parseSloTargets('95')).toEqual({ all: 95, byName: new Map() });
    expect(parseSloTargets('interactive:99.9, batch:90')).toEqual({ all: 99, byName: new Map([['interactive', 99.9], ['batch', 90]]) });
    expect(parseSloTargets('95,interactive:99.9')).toEqual({ all: 95, byName: new Map([['interactive', 99.9]]) });
  });

  it.each(['0', '101', 'abc', 'interactive:', ':99', 'interactive:high'])('rejects %j, naming it', (text) => {
    expect(() => parseSloTargets(text)).toThrow(RangeError);
    expect(() => parseSloTargets(text)).toThrow(text);
  });
});

describe('sloRows', () => {
  it('gives each SLO’s attainment and its endpoints’, judged against the target', () => {
    expect(sloRows(SAMPLE_DATA)).toEqual([
      {
        name: 'interactive',
        attainmentPct: 80,
        goodPerSec: 5.6,
        validPerSec: 7,
        targetPct: 99,
        met: false,
        endpoints: [
          { endpoint: '/a', attainmentPct: 50, goodPerSec: 1, validPerSec: 2, met: false },
          { endpoint: '/b', attainmentPct: 92, goodPerSec: 4.6, validPerSec: 5, met: false },
        ],
      },
    ]);
  });

  it('meets a target it reaches exactly; the target may be per SLO', () => {
    const rows = sloRows(SAMPLE_DATA, parseSloTargets('10,interactive:80'));
    expect(rows[0]).toMatchObject({ targetPct: 80, met: true });
    expect(rows[0]!.endpoints.map((e) => e.met)).toEqual([false, true]);
  });

  it('has no verdict while nothing is valid, and no rows without SLO figures', () => {
    const idle = { idle: { good_per_sec: 0, valid_per_sec: 0, by_endpoint: {} } };
    expect(sloRows({ slo: idle })).toEqual([{ name: 'idle', attainmentPct: undefined, goodPerSec: 0, validPerSec: 0, targetPct: 99, met: undefined, endpoints: [] }]);
    expect(sloRows({ latency: {} })).toEqual([]);
  });
});
