import { afterEach, describe, expect, it } from 'vitest';
import { silentLogger } from '@pulse/runtime';
import { UpstreamPool } from './upstream-pool.js';

const pools: UpstreamPool[] = [];
function pool(n: number): UpstreamPool {
  const p = new UpstreamPool(Array.from({ length: n }, (_, i) => `http://127.0.0.1:${9000 + i}`), { connectTimeoutMs: 1000, idleTimeoutMs: 1000 }, silentLogger());
  pools.push(p);
  return p;
}
afterEach(() => Promise.all(pools.splice(0).map((p) => p.close())));

const port = (p: UpstreamPool) => Number(new URL(p.pick().url).port) - 9000;

describe('UpstreamPool', () => {
  it('takes equally busy upstreams in turn', () => {
    const p = pool(3);
    expect(Array.from({ length: 6 }, () => port(p))).toEqual([0, 1, 2, 0, 1, 2]);
  });

  it('picks the one with the fewest requests in flight', () => {
    const p = pool(3);
    p.upstreams[0]!.inFlight = 4;
    p.upstreams[1]!.inFlight = 1;
    p.upstreams[2]!.inFlight = 2;
    expect(Array.from({ length: 3 }, () => port(p))).toEqual([1, 1, 1]);
  });

  it('skips ejected upstreams until they are healthy again', () => {
    const p = pool(2);
    p.eject(p.upstreams[0]!, 'connection failed: ECONNREFUSED');
    expect(p.upstreams[0]!.status()).toMatchObject({ healthy: false, lastError: 'connection failed: ECONNREFUSED' });
    expect(Array.from({ length: 4 }, () => port(p))).toEqual([1, 1, 1, 1]);
    p.setHealth(p.upstreams[0]!, true, null);
    expect(p.upstreams[0]!.status()).toMatchObject({ healthy: true, lastError: null });
    expect(new Set(Array.from({ length: 4 }, () => port(p)))).toEqual(new Set([0, 1]));
  });

  it('with none healthy, still picks the least busy of all rather than refusing', () => {
    const p = pool(2);
    for (const u of p.upstreams) p.eject(u, 'down');
    p.upstreams[0]!.inFlight = 3;
    expect(p.anyHealthy()).toBe(false);
    expect(port(p)).toBe(1);
  });
});
