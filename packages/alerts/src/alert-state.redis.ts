/**
 * Alert state in Redis, for a cluster of Pulse services: two hashes in the
 * deployment's hash-tag slot (keys.ts), `…:alerts:state` (fingerprint →
 * AlertState) and `…:alerts:outbox` (notification id → Notification).
 *
 * A commit is one Lua script: it checks the fence, then writes the state
 * change and the outbox entries together. Redis runs a script atomically,
 * so a leader that dies mid-evaluation leaves either all of an evaluation
 * or none of it, and a former leader (paused, then waking up after a
 * standby took the lease) writes nothing at all.
 */
import type { Cluster, Redis } from 'ioredis';
import {
  byCreation,
  decodeAlertState,
  decodeNotification,
  type AlertCommit,
  type AlertFence,
  type AlertState,
  type AlertStateStore,
} from './alert-state.js';
import type { AlertKeys } from './keys.js';
import type { Notification } from './notification.js';

// KEYS: the lease (fence key), the state hash, the outbox hash.
// ARGV: epoch, #puts, #removes, then #puts (fingerprint, state) pairs,
//       #removes fingerprints, then (id, notification) pairs to the end.
// The lease's value is `token|epoch` (@pulse/runtime leader-lease.redis.ts);
// the `|` in the suffix keeps epoch 5 from matching a lease of epoch 15.
const COMMIT_LUA = `
local lease = redis.call('GET', KEYS[1])
local suffix = '|' .. ARGV[1]
if not lease or string.sub(lease, -string.len(suffix)) ~= suffix then return 0 end
local puts = tonumber(ARGV[2])
local removes = tonumber(ARGV[3])
local i = 4
for _ = 1, puts do
  redis.call('HSET', KEYS[2], ARGV[i], ARGV[i + 1])
  i = i + 2
end
for _ = 1, removes do
  redis.call('HDEL', KEYS[2], ARGV[i])
  i = i + 1
end
while i < #ARGV do
  redis.call('HSET', KEYS[3], ARGV[i], ARGV[i + 1])
  i = i + 2
end
return 1
`;

export class RedisAlertStateStore implements AlertStateStore {
  /**
   * @param redis a fail-fast connection (@pulse/runtime's 'producer' role):
   *   an evaluation during an outage should fail at once and be retried on
   *   the next snapshot, not queue up behind a reconnect.
   * @param onBadEntry told of each entry that does not decode (dropped, never a crash).
   */
  constructor(
    private readonly redis: Redis | Cluster,
    private readonly keys: AlertKeys,
    private readonly onBadEntry: (key: string, field: string) => void = () => {},
  ) {
    redis.defineCommand('pulseAlertCommit', { numberOfKeys: 3, lua: COMMIT_LUA });
  }

  async load(): Promise<AlertState[]> {
    const all = await this.redis.hgetall(this.keys.state);
    const states: AlertState[] = [];
    for (const [field, text] of Object.entries(all)) {
      const state = decodeAlertState(text);
      if (state && state.fingerprint === field) states.push(state);
      else this.onBadEntry(this.keys.state, field);
    }
    return states;
  }

  listAlerts(): Promise<AlertState[]> {
    return this.load();
  }

  async commit(change: AlertCommit, fence: AlertFence): Promise<boolean> {
    const args: string[] = [String(Math.trunc(fence.epoch)), String(change.put.length), String(change.remove.length)];
    for (const state of change.put) args.push(state.fingerprint, JSON.stringify(state));
    args.push(...change.remove);
    for (const n of change.notifications) args.push(n.id, JSON.stringify(n));
    const written = await (this.redis as unknown as CommitCommand).pulseAlertCommit(fence.key, this.keys.state, this.keys.outbox, ...args);
    return Number(written) === 1;
  }

  async outbox(): Promise<Notification[]> {
    const all = await this.redis.hgetall(this.keys.outbox);
    const out: Notification[] = [];
    const bad: string[] = [];
    for (const [field, text] of Object.entries(all)) {
      const n = decodeNotification(text);
      if (n && n.id === field) out.push(n);
      else bad.push(field);
    }
    // An entry nobody can deliver would be read again on every drain: drop it for good.
    if (bad.length > 0) {
      for (const field of bad) this.onBadEntry(this.keys.outbox, field);
      await this.redis.hdel(this.keys.outbox, ...bad);
    }
    return out.sort(byCreation);
  }

  async acknowledge(ids: readonly string[]): Promise<void> {
    if (ids.length > 0) await this.redis.hdel(this.keys.outbox, ...ids);
  }
}

interface CommitCommand {
  pulseAlertCommit(fenceKey: string, stateKey: string, outboxKey: string, ...args: string[]): Promise<unknown>;
}
