/**
 * The tail's continuity check (TakeoverLedger.continues): what tells a
 * standby the log was rolled back under its window. The whole path against
 * a real Redis is in aggregator.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { MetricsWindow } from '@pulse/metrics';
import type { LogEntry } from '@pulse/runtime';
import { TakeoverLedger } from './takeover.js';

const window = () => new MetricsWindow({ windowMs: 60_000, bucketMs: 500, createdAtMs: 0, maxEndpoints: 10, maxModels: 10, maxNodes: 10, maxCells: 100, slos: [] });
const entry = (id: string, prev?: string): LogEntry => (prev === undefined ? { id, events: [] } : { id, events: [], prev });

describe('TakeoverLedger.continues', () => {
  it('from the horizon, takes an entry whose predecessor is at or before it', () => {
    const ledger = new TakeoverLedger('1000-0');
    expect(ledger.positionIsEntry).toBe(false);
    expect(ledger.continues(entry('1500-0', '0-0'))).toBe(true);
    expect(ledger.continues(entry('1500-0', '999-3'))).toBe(true);
    expect(ledger.continues(entry('1500-0', '1000-0'))).toBe(true);
    // Its predecessor lies after the horizon, yet the tail never saw it.
    expect(ledger.continues(entry('1500-0', '1200-0'))).toBe(false);
  });

  it('after an entry, takes only the entry whose predecessor is that entry', () => {
    const ledger = new TakeoverLedger('1000-0');
    const w = window();
    ledger.tail(entry('1500-0', '900-0'), w);
    expect(ledger.positionIsEntry).toBe(true);
    expect(ledger.continues(entry('1600-0', '1500-0'))).toBe(true);
    // A promoted replica whose last entry is older than the one read: the log lost 1500-0.
    expect(ledger.continues(entry('1600-0', '1400-0'))).toBe(false);
    expect(ledger.continues(entry('1600-0', '0-0'))).toBe(false); // a Redis restarted empty
    expect(ledger.continues(entry('1600-0', '1550-0'))).toBe(false); // one skipped
  });

  it('takes an entry that does not name its predecessor (a log without the field)', () => {
    const ledger = new TakeoverLedger('1000-0');
    ledger.tail(entry('1500-0', '900-0'), window());
    expect(ledger.continues(entry('1600-0'))).toBe(true);
  });
});
