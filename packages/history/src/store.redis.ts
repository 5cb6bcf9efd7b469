/**
 * History records on Redis: `<tag>:history:<tier>:<bucket>` strings under
 * each partition's hash tag (`{prefix}`, `{prefix:p<i>}`: keys.ts), so one
 * fenced script writes them with the lease in the same Cluster slot, and
 * `PXAT` (bucket end + retention) trims them with no job at all.
 */
import type { PulseKeys } from '@pulse/protocol';
import type { Fence, RedisConnection } from '@pulse/runtime';
import type { HistoryStore, StoredRecord } from './store.js';
import type { Tier } from './tiers.js';

// KEYS: the lease, then one key per record. ARGV: lease value expected ('' = unfenced), then per record
// its blob and when it expires (ms since the epoch). Returns 1 written, 0 fenced off.
const WRITE_LUA = `
if ARGV[1] ~= '' and redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
for i = 2, #KEYS do
  redis.call('SET', KEYS[i], ARGV[2 * i - 2], 'PXAT', ARGV[2 * i - 1])
end
return 1
`;

const LEASE_SUFFIX = ':leader:lease';

/** The hash tag of a partition's keys (`{prefix}` or `{prefix:p<i>}`), as keys.ts names them. */
function tagOf(keys: PulseKeys): string {
  if (!keys.leaderLease.endsWith(LEASE_SUFFIX)) throw new Error(`unexpected lease key ${keys.leaderLease}`);
  return keys.leaderLease.slice(0, -LEASE_SUFFIX.length);
}

export function historyKey(keys: PulseKeys, tier: Tier, bucket: number): string {
  return `${tagOf(keys)}:history:${tier.name}:${bucket}`;
}

export class RedisHistoryStore implements HistoryStore {
  readonly partitions: number;

  /**
   * @param redis a connection the caller owns.
   * @param keys every partition's keys, in order (partitionKeys).
   */
  constructor(
    private readonly redis: RedisConnection,
    private readonly keys: readonly PulseKeys[],
    private readonly now: () => number = Date.now,
  ) {
    this.partitions = keys.length;
    redis.defineCommand('pulseHistoryWrite', { lua: WRITE_LUA });
  }

  async write(partition: number, records: readonly StoredRecord[], fence?: Fence): Promise<boolean> {
    const keys = this.keys[partition]!;
    const now = this.now();
    const live = records.filter((r) => expiresAt(r) > now);
    if (live.length === 0) return true;
    const args: (string | Buffer | number)[] = [1 + live.length, keys.leaderLease, ...live.map((r) => historyKey(keys, r.tier, r.bucket))];
    args.push(fence ? `${fence.token}|${fence.epoch}` : '');
    for (const r of live) args.push(r.blob, expiresAt(r));
    return Number(await (this.redis as unknown as WriteCommand).pulseHistoryWrite(...args)) === 1;
  }

  async read(tier: Tier, buckets: readonly number[], partition?: number): Promise<Buffer[][]> {
    const out: Buffer[][] = buckets.map(() => []);
    if (buckets.length === 0) return out;
    const parts = partition === undefined ? this.keys : [this.keys[partition]!];
    // MGETs per partition (its keys share a slot), in chunks so one reply stays a few MB (a 1,000-cell
    // 5-s record is ~150 KB) and within a fail-fast connection's command timeout.
    const CHUNK = 32;
    await Promise.all(
      parts.map(async (keys) => {
        for (let from = 0; from < buckets.length; from += CHUNK) {
          const slice = buckets.slice(from, from + CHUNK);
          const blobs = await this.redis.mgetBuffer(...slice.map((b) => historyKey(keys, tier, b)));
          blobs.forEach((blob, i) => {
            if (blob) out[from + i]!.push(blob);
          });
        }
      }),
    );
    // Promise.all may finish partitions in any order: keep partition order within each bucket.
    return out;
  }
}

export function expiresAt(r: StoredRecord): number {
  return (r.bucket + 1) * r.tier.stepMs + r.tier.retentionMs;
}

interface WriteCommand {
  pulseHistoryWrite(...args: (string | number | Buffer)[]): Promise<unknown>;
}
