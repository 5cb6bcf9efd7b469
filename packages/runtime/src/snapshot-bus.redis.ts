/**
 * The snapshot bus on Redis. Publisher side, one script fenced by the lease:
 * a keyframe is `SET latest EX ttl` and `DEL patches`, a patch `RPUSH
 * patches` after the keyframe it follows (refused once the list is full), and either is `PUBLISH`ed;
 * a refresh stores its keyframe like a keyframe and publishes its patch.
 * Feed side: a dedicated subscriber connection, and a reader that fetches the
 * keyframe and the patch list in one transaction. Every payload travels as a
 * Buffer (`messageBuffer`, `getBuffer`): the messages are binary and would
 * not survive a UTF-8 round trip.
 */
import { messageKind, type PulseKeys } from '@pulse/protocol';
import type { Logger } from './logger.js';
import { Cluster, closeRedis, connectRedis, type RedisConnection } from './redis.js';
import type { Fence } from './event-source.js';
import { MAX_STORED_PATCHES, MissingKeyframeError, SNAPSHOT_TTL_SECONDS, type SnapshotFeed, type SnapshotPublisher } from './snapshot-bus.js';

// KEYS: lease, latest keyframe, patches. ARGV: lease value expected ('' = unfenced), payload (broadcast),
// TTL seconds, channel, kind ('k' keyframe, 'p' patch, 'r' a patch broadcast with ARGV[7], its keyframe, stored),
// patches kept, keyframe stored ('r' only).
// Returns 1 published, 0 fenced off, 2 a patch with no keyframe stored or with the patch list full.
const PUBLISH_LUA = `
if ARGV[1] ~= '' and redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
if ARGV[5] == 'k' or ARGV[5] == 'r' then
  redis.call('SET', KEYS[2], ARGV[5] == 'r' and ARGV[7] or ARGV[2], 'EX', ARGV[3])
  redis.call('DEL', KEYS[3])
else
  if redis.call('EXISTS', KEYS[2]) == 0 then return 2 end
  if redis.call('LLEN', KEYS[3]) >= tonumber(ARGV[6]) then return 2 end
  redis.call('RPUSH', KEYS[3], ARGV[2])
  redis.call('EXPIRE', KEYS[3], ARGV[3])
  redis.call('EXPIRE', KEYS[2], ARGV[3])
end
redis.call('PUBLISH', ARGV[4], ARGV[2])
return 1
`;

export class RedisSnapshotPublisher implements SnapshotPublisher {
  private closed = false;

  /** @param redis a connection the caller owns (the aggregator's producer); close() leaves it open. */
  constructor(
    private readonly redis: RedisConnection,
    private readonly keys: PulseKeys,
    private readonly ttlSeconds: number = SNAPSHOT_TTL_SECONDS,
  ) {
    redis.defineCommand('pulsePublish', { numberOfKeys: 3, lua: PUBLISH_LUA });
  }

  async publish(encoded: Buffer, fence?: Fence): Promise<boolean> {
    return this.run(encoded, messageKind(encoded) === 'patch' ? 'p' : 'k', fence);
  }

  async refresh(patch: Buffer, keyframe: Buffer, fence?: Fence): Promise<boolean> {
    return this.run(patch, 'r', fence, keyframe);
  }

  private async run(encoded: Buffer, kind: 'k' | 'p' | 'r', fence?: Fence, keyframe?: Buffer): Promise<boolean> {
    if (this.closed) throw new Error('snapshot publisher is closed');
    const expected = fence ? `${fence.token}|${fence.epoch}` : '';
    const { leaderLease, latestSnapshot, snapshotPatches, snapshotChannel } = this.keys;
    const done = Number(
      await (this.redis as unknown as PublishCommand).pulsePublish(
        leaderLease,
        latestSnapshot,
        snapshotPatches,
        expected,
        encoded,
        this.ttlSeconds,
        snapshotChannel,
        kind,
        MAX_STORED_PATCHES,
        ...(keyframe ? [keyframe] : []),
      ),
    );
    if (done === 2) throw new MissingKeyframeError();
    return done === 1;
  }

  async close(): Promise<void> {
    this.closed = true;
  }
}

interface PublishCommand {
  pulsePublish(...args: (string | number | Buffer)[]): Promise<unknown>;
}

/** How long a Cluster takes to move its subscription to another node, about (ioredis resubscribes at once; the slot map refresh may take a second). */
const CLUSTER_RESUBSCRIBE_MS = 1000;

export interface RedisSnapshotFeedOptions {
  url: string;
  keys: PulseKeys;
  /** Names the connections in `CLIENT LIST` (`pulse:<name>:subscriber`). */
  name: string;
  logger: Logger;
}

export class RedisSnapshotFeed implements SnapshotFeed {
  private readonly sub: RedisConnection;
  /** Patient (offline queue): a catch-up during an outage waits for Redis instead of failing. */
  private readonly reader: RedisConnection;
  private readonly log: Logger;
  private readonly channel: string;
  private onSnapshot: ((encoded: Buffer) => void) | null = null;
  private onStatus: ((connected: boolean) => void) | null = null;
  private connected = false;
  private closed = false;
  /** The catch-up in flight; `again` asks it for one more round (a reconnect happened meanwhile). */
  private catchingUp: Promise<void> | null = null;
  private again = false;

  constructor(private readonly opts: RedisSnapshotFeedOptions) {
    this.log = opts.logger.child({ component: 'snapshot-feed' });
    this.channel = opts.keys.snapshotChannel;
    this.sub = connectRedis(opts.url, 'subscriber', opts.name, opts.logger);
    this.reader = connectRedis(opts.url, 'consumer', opts.name, opts.logger);
  }

  async latest(): Promise<Buffer[]> {
    const { latestSnapshot, snapshotPatches } = this.opts.keys;
    // One transaction: a keyframe published between two reads would pair with the wrong patches.
    const replies = await this.reader.multi().getBuffer(latestSnapshot).lrangeBuffer(snapshotPatches, 0, -1).exec();
    if (!replies) return [];
    const [[keyErr, keyframe], [listErr, patches]] = replies as [[Error | null, Buffer | null], [Error | null, Buffer[]]];
    if (keyErr) throw keyErr;
    if (listErr) throw listErr;
    return keyframe ? [keyframe, ...patches] : [];
  }

  async start(onSnapshot: (encoded: Buffer) => void, onStatus?: (connected: boolean) => void): Promise<void> {
    if (this.onSnapshot) throw new Error('snapshot feed already started');
    this.onSnapshot = onSnapshot;
    this.onStatus = onStatus ?? null;
    this.sub.on('messageBuffer', (channel: Buffer, message: Buffer) => {
      if (!this.closed && channel.toString() === this.channel) onSnapshot(message);
    });
    let lost = false;
    this.sub.on('close', () => {
      lost = true;
      this.setConnected(false);
    });
    // 'ready' follows every reconnect: whatever was published while we were
    // away is lost on pub/sub, so fetch the latest again. (The first 'ready'
    // needs nothing: the catch-up below waits for it.)
    this.sub.on('ready', () => {
      if (!lost) return;
      lost = false;
      this.catchUp().catch((err: unknown) => {
        if (!this.closed) this.log.warn({ err }, 'snapshot catch-up failed; waiting for the next reconnect');
      });
    });
    if (this.sub instanceof Cluster) this.sub.on('-node', () => this.catchUpAfterResubscribe());
    await this.catchUp();
  }

  /**
   * On a Cluster the subscription lives on one node's connection, which the
   * Cluster replaces by itself when that node leaves (a failover): no
   * 'close' or 'ready' reaches this object, and what was published meanwhile
   * is lost. So when a node leaves, catch up once the new subscriber had time
   * to subscribe, rather than wait for the next keyframe.
   */
  private catchUpAfterResubscribe(): void {
    const timer = setTimeout(() => {
      if (this.closed) return;
      this.catchUp().catch((err: unknown) => {
        if (!this.closed) this.log.warn({ err }, 'snapshot catch-up after a cluster node left failed');
      });
    }, CLUSTER_RESUBSCRIBE_MS);
    timer.unref();
  }

  /** Subscribes (idempotent in Redis), then delivers the stored keyframe and patches. */
  catchUp(): Promise<void> {
    this.again = true;
    this.catchingUp ??= (async () => {
      try {
        while (this.again && !this.closed) {
          this.again = false;
          await this.sub.subscribe(this.channel);
          for (const message of await this.latest()) if (!this.closed) this.onSnapshot?.(message);
        }
        if (!this.closed && this.sub.status === 'ready') this.setConnected(true);
      } finally {
        this.catchingUp = null;
      }
    })();
    return this.catchingUp;
  }

  private setConnected(connected: boolean): void {
    if (connected === this.connected || this.closed) return;
    this.connected = connected;
    this.log.info({ connected }, connected ? 'snapshot feed live' : 'snapshot feed lost its connection');
    this.onStatus?.(connected);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.sub.removeAllListeners('messageBuffer');
    await Promise.all([closeRedis(this.sub), closeRedis(this.reader)]);
  }
}
