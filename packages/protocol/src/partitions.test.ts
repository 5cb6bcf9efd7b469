import { describe, expect, it } from 'vitest';
import { fnv1a, MAX_PARTITIONS, partitionKeys, partitionOf, pulseKeys } from '@pulse/protocol';

describe('partitions', () => {
  it('route a node by FNV-1a, stably', () => {
    expect(fnv1a('')).toBe(0x811c9dc5);
    expect(fnv1a('a')).toBe(0xe40c292c);
    expect(fnv1a('foobar')).toBe(0xbf9cf968);
    expect(partitionOf('anything', 1)).toBe(0);
    for (const n of [2, 3, 4, 7, MAX_PARTITIONS]) {
      for (const node of ['fakeai-0', 'fakeai-1', 'n1', '__other__', 'ü-node']) {
        const p = partitionOf(node, n);
        expect(p).toBe(fnv1a(node) % n);
        expect(p).toBeGreaterThanOrEqual(0);
        expect(p).toBeLessThan(n);
      }
    }
  });

  it('spread a fleet of nodes over the partitions', () => {
    const counts = new Array<number>(4).fill(0);
    for (let i = 0; i < 200; i++) counts[partitionOf(`fakeai-${i}`, 4)]!++;
    for (const c of counts) expect(c).toBeGreaterThan(30);
  });

  it('keep the one-partition key names, and give every other partition a hash tag of its own', () => {
    const one = pulseKeys('t1');
    expect(one.events).toBe('{t1}:events');
    expect(one.idempotency('k')).toBe('{t1}:idem:k');
    expect(one.allEvents).toEqual(['{t1}:events']);
    const keys = partitionKeys('t1', 3);
    expect(keys.map((k) => k.events)).toEqual(['{t1}:events', '{t1:p1}:events', '{t1:p2}:events']);
    expect(keys[0]!.leaderLease).toBe(one.leaderLease);
    for (const [i, k] of keys.entries()) {
      const tag = i === 0 ? '{t1}' : `{t1:p${i}}`;
      for (const key of [k.events, k.totals, k.latestSnapshot, k.snapshotPatches, k.snapshotChannel, k.leaderLease, k.leaderEpoch, k.idempotency('x')]) {
        expect(key.startsWith(`${tag}:`), key).toBe(true);
      }
      // The deployment's meta stays with partition 0.
      expect(k.meta).toBe('{t1}:meta');
      expect(k.allEvents).toEqual(keys.map((x) => x.events));
      expect(k.partition).toBe(i);
      expect(k.partitions).toBe(3);
    }
    expect(() => pulseKeys('t1', 3, 3)).toThrow(RangeError);
    expect(() => pulseKeys('t1', 0, MAX_PARTITIONS + 1)).toThrow(RangeError);
  });
});
