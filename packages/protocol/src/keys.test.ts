import { describe, expect, it } from 'vitest';
import { pulseKeys } from '@pulse/protocol';

describe('pulseKeys', () => {
  it('builds every key from the prefix inside one hash tag', () => {
    const keys = pulseKeys('t1');
    for (const k of [keys.events, keys.totals, keys.latestSnapshot, keys.snapshotChannel, keys.idempotency('x')]) {
      expect(k.startsWith('{t1}:')).toBe(true);
    }
    expect(pulseKeys('t2').events).not.toBe(keys.events);
  });
});
