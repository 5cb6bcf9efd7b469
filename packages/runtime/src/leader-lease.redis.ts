/**
 * The aggregators' lease in Redis: `SET NX PX` semantics in one script that
 * also hands out the next fencing epoch. The lease value is `token|epoch`;
 * only its holder can renew it, commit (event-source.redis.ts) or publish.
 */
import { randomUUID } from 'node:crypto';
import type { PulseKeys } from '@pulse/protocol';
import type { RedisConnection } from './redis.js';
import type { Fence } from './event-source.js';
import type { LeaderLease } from './leader-lease.js';

// KEYS: lease, epoch counter. ARGV: token, ttl ms.
const ACQUIRE_LUA = `
local cur = redis.call('GET', KEYS[1])
if cur then
  local tok, ep = string.match(cur, '^(.*)|(%d+)$')
  if tok == ARGV[1] then
    redis.call('PEXPIRE', KEYS[1], ARGV[2])
    return tonumber(ep)
  end
  return 0
end
-- A new epoch is at least Redis time in ms, not just the counter plus one:
-- gateways drop snapshots of an epoch below the one they hold, so epochs must
-- keep rising across a counter that went back — a Redis that restarted empty,
-- or a replica promoted before the last INCRs of the old primary reached it.
-- A promotion takes seconds, so the new primary's clock is past any epoch the
-- old one handed out (unless their clocks are that far apart).
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local ep = redis.call('INCR', KEYS[2])
if ep < now then
  ep = now
  redis.call('SET', KEYS[2], string.format('%d', ep))
end
redis.call('SET', KEYS[1], ARGV[1] .. '|' .. string.format('%d', ep), 'PX', ARGV[2])
return ep
`;

// KEYS: lease. ARGV: the exact value held.
const RELEASE_LUA = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`;

export class RedisLeaderLease implements LeaderLease {
  readonly token = randomUUID();
  private held: Fence | null = null;

  /** @param redis a fail-fast connection: a renewal that hangs must not look like a renewal. */
  constructor(
    private readonly redis: RedisConnection,
    private readonly keys: PulseKeys,
    private readonly ttlMs: number,
  ) {
    redis.defineCommand('pulseAcquire', { numberOfKeys: 2, lua: ACQUIRE_LUA });
    redis.defineCommand('pulseRelease', { numberOfKeys: 1, lua: RELEASE_LUA });
  }

  async acquireOrRenew(): Promise<Fence | null> {
    const epoch = Number(
      await (this.redis as unknown as LeaseCommands).pulseAcquire(this.keys.leaderLease, this.keys.leaderEpoch, this.token, this.ttlMs),
    );
    this.held = epoch > 0 ? { token: this.token, epoch } : null;
    return this.held;
  }

  async release(): Promise<void> {
    if (!this.held) return;
    const value = `${this.held.token}|${this.held.epoch}`;
    this.held = null;
    await (this.redis as unknown as LeaseCommands).pulseRelease(this.keys.leaderLease, value);
  }
}

interface LeaseCommands {
  pulseAcquire(lease: string, epoch: string, token: string, ttlMs: number): Promise<unknown>;
  pulseRelease(lease: string, value: string): Promise<unknown>;
}
