/**
 * One suite, every snapshot bus backend: what the aggregator and the gateway
 * rely on must hold in one process and across Redis alike.
 */
import { once } from 'node:events';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { pulseKeys, type PulseKeys } from '@pulse/protocol';
import { startTestRedis, testClient, uniquePrefix, type TestRedis } from '@pulse/test-support/redis';
import { stopTopologies, TOPOLOGIES, topologyUrl } from '@pulse/test-support/redis-topologies';
import { silentLogger } from './logger.js';
import { connectRedis, type RedisConnection } from './redis.js';
import { MAX_STORED_PATCHES, MissingKeyframeError, SNAPSHOT_TTL_SECONDS, type SnapshotFeed, type SnapshotPublisher } from './snapshot-bus.js';
import { MemorySnapshotBus } from './snapshot-bus.memory.js';
import { RedisSnapshotFeed, RedisSnapshotPublisher } from './snapshot-bus.redis.js';

interface Bus {
  publisher: SnapshotPublisher;
  /** A new feed on the same bus, as another gateway would have. */
  feed(): SnapshotFeed;
}

let redis: TestRedis;
let admin: RedisConnection;
const producers: RedisConnection[] = [];
beforeAll(async () => {
  redis = await startTestRedis();
  admin = testClient(redis.url);
});
afterAll(async () => {
  for (const p of producers) p.disconnect();
  admin?.disconnect();
  await Promise.all([redis?.stop(), stopTopologies()]);
});

let feedNames = 0;
const backends: { name: string; make(): Promise<Bus & { keys?: PulseKeys }> }[] = [
  {
    name: 'MemorySnapshotBus',
    async make() {
      const bus = new MemorySnapshotBus();
      return { publisher: bus, feed: () => bus };
    },
  },
  redisBackend('Redis', async () => redis.url),
  // Sentinel and Cluster (docs/REDIS.md): classic pub/sub is broadcast over a Cluster, so a feed may listen on any node.
  ...TOPOLOGIES.map((t) => redisBackend(`Redis on ${t}`, () => topologyUrl(t))),
];

function redisBackend(name: string, url: () => Promise<string>): { name: string; make(): Promise<Bus & { keys?: PulseKeys }> } {
  return {
    name,
    async make() {
      const at = await url();
      const keys = pulseKeys(uniquePrefix());
      const producer = connectRedis(at, 'producer', 'bus-contract', silentLogger());
      producers.push(producer);
      // A fail-fast connection refuses commands until it is ready.
      await once(producer, 'ready');
      return {
        keys,
        publisher: new RedisSnapshotPublisher(producer, keys),
        feed: () => new RedisSnapshotFeed({ url: at, keys, name: `bus-feed-${++feedNames}-${keys.snapshotChannel}`, logger: silentLogger() }),
      };
    },
  };
}

/** Bytes that do not survive a UTF-8 round trip, to prove the path is binary-safe; a keyframe by its first byte. */
function payload(n: number): Buffer {
  return Buffer.from([0x50, 0x00, 0xff, 0xfe, 0xc3, 0x28, n & 0xff, (n >> 8) & 0xff]);
}

/** A patch, by its first byte. */
function patch(n: number): Buffer {
  return Buffer.from([0x51, 0x00, 0xff, 0xc3, 0x28, n & 0xff]);
}

function recorder() {
  const got: Buffer[] = [];
  const status: boolean[] = [];
  return { got, status, onSnapshot: (b: Buffer) => got.push(b), onStatus: (c: boolean) => status.push(c) };
}

describe.each(backends)('snapshot bus contract: $name', ({ make }) => {
  const feeds: SnapshotFeed[] = [];
  const track = (f: SnapshotFeed) => (feeds.push(f), f);
  afterAll(async () => {
    await Promise.all(feeds.map((f) => f.close()));
  });

  it('stores nothing before the first publish', async () => {
    const bus = await make();
    expect(await track(bus.feed()).latest()).toEqual([]);
  });

  it('stores the latest keyframe and the patches after it, byte for byte', async () => {
    const bus = await make();
    const feed = track(bus.feed());
    for (const m of [payload(1), patch(1), payload(2), patch(2), patch(3)]) expect(await bus.publisher.publish(m)).toBe(true);
    expect(await feed.latest()).toEqual([payload(2), patch(2), patch(3)]);
  });

  it('refuses a patch when no keyframe is stored for it to follow', async () => {
    const bus = await make();
    await expect(bus.publisher.publish(patch(1))).rejects.toBeInstanceOf(MissingKeyframeError);
    expect(await track(bus.feed()).latest()).toEqual([]);
  });

  it('refuses a patch beyond MAX_STORED_PATCHES, keeping every patch stored, until the next keyframe', async () => {
    const bus = await make();
    await bus.publisher.publish(payload(1));
    for (let i = 0; i < MAX_STORED_PATCHES; i++) await bus.publisher.publish(patch(i));
    await expect(bus.publisher.publish(patch(MAX_STORED_PATCHES))).rejects.toBeInstanceOf(MissingKeyframeError);
    const stored = await track(bus.feed()).latest();
    expect(stored).toHaveLength(MAX_STORED_PATCHES + 1);
    expect(stored[1]).toEqual(patch(0));
    expect(await bus.publisher.publish(payload(2))).toBe(true);
    expect(await bus.publisher.publish(patch(1))).toBe(true);
    expect(await track(bus.feed()).latest()).toEqual([payload(2), patch(1)]);
  });

  it('on a refresh stores its keyframe in place of what was stored and broadcasts only its patch; later patches follow that keyframe', async () => {
    const bus = await make();
    const feed = track(bus.feed());
    const r = recorder();
    await feed.start(r.onSnapshot);
    for (const m of [payload(1), patch(1)]) await bus.publisher.publish(m);
    expect(await bus.publisher.refresh(patch(2), payload(2))).toBe(true);
    expect(await bus.publisher.publish(patch(3))).toBe(true);
    await vi.waitFor(() => expect(r.got).toHaveLength(4));
    expect(r.got).toEqual([payload(1), patch(1), patch(2), patch(3)]);
    expect(await feed.latest()).toEqual([payload(2), patch(3)]);
  });

  it('takes a refresh with no keyframe stored, or with the patch list full', async () => {
    const bus = await make();
    expect(await bus.publisher.refresh(patch(1), payload(1))).toBe(true);
    for (let i = 0; i < MAX_STORED_PATCHES; i++) await bus.publisher.publish(patch(i));
    expect(await bus.publisher.refresh(patch(2), payload(2))).toBe(true);
    expect(await track(bus.feed()).latest()).toEqual([payload(2)]);
  });

  it('delivers the stored keyframe and patches again on catchUp', async () => {
    const bus = await make();
    const feed = track(bus.feed());
    const r = recorder();
    await feed.start(r.onSnapshot);
    for (const m of [payload(1), patch(1), patch(2)]) await bus.publisher.publish(m);
    await vi.waitFor(() => expect(r.got).toHaveLength(3));
    await feed.catchUp();
    await vi.waitFor(() => expect(r.got).toEqual([payload(1), patch(1), patch(2), payload(1), patch(1), patch(2)]));
  });

  it('delivers the latest on start, then every broadcast in order, and reports itself live', async () => {
    const bus = await make();
    await bus.publisher.publish(payload(1));
    const feed = track(bus.feed());
    const r = recorder();
    await feed.start(r.onSnapshot, r.onStatus);
    expect(r.got).toEqual([payload(1)]);
    expect(r.status).toEqual([true]);
    for (let i = 2; i <= 20; i++) await bus.publisher.publish(payload(i));
    await vi.waitFor(() => expect(r.got).toHaveLength(20));
    expect(r.got).toEqual(Array.from({ length: 20 }, (_, i) => payload(i + 1)));
  });

  it('starts with nothing to deliver when nothing was published', async () => {
    const bus = await make();
    const r = recorder();
    await track(bus.feed()).start(r.onSnapshot, r.onStatus);
    expect(r.got).toEqual([]);
    expect(r.status).toEqual([true]);
  });

  it('broadcasts to every feed', async () => {
    const bus = await make();
    const [a, b] = [recorder(), recorder()];
    await track(bus.feed()).start(a.onSnapshot);
    await track(bus.feed()).start(b.onSnapshot);
    await bus.publisher.publish(payload(7));
    await vi.waitFor(() => {
      expect(a.got).toEqual([payload(7)]);
      expect(b.got).toEqual([payload(7)]);
    });
  });

  it('delivers nothing after close', async () => {
    const bus = await make();
    const r = recorder();
    const feed = bus.feed();
    await feed.start(r.onSnapshot);
    await feed.close();
    await feed.close(); // idempotent
    await bus.publisher.publish(payload(9));
    // A marker feed proves the broadcast went out before the closed one is checked.
    const marker = recorder();
    await track(bus.feed()).start(marker.onSnapshot);
    await bus.publisher.publish(payload(10));
    await vi.waitFor(() => expect(marker.got.at(-1)).toEqual(payload(10)));
    expect(r.got).toEqual([]);
  });
});

describe('snapshot bus on Redis only', () => {
  it('expires the stored keyframe and patches after the TTL', async () => {
    const keys = pulseKeys(uniquePrefix());
    const producer = connectRedis(redis.url, 'producer', 'bus-ttl', silentLogger());
    producers.push(producer);
    await once(producer, 'ready');
    const publisher = new RedisSnapshotPublisher(producer, keys);
    await publisher.publish(payload(1));
    await publisher.publish(patch(1));
    for (const key of [keys.latestSnapshot, keys.snapshotPatches]) {
      const ttl = await admin.ttl(key);
      expect(ttl).toBeGreaterThan(SNAPSHOT_TTL_SECONDS - 5);
      expect(ttl).toBeLessThanOrEqual(SNAPSHOT_TTL_SECONDS);
    }
  });

  it('publishes under a fence only while the fence holds the lease', async () => {
    const keys = pulseKeys(uniquePrefix());
    const producer = connectRedis(redis.url, 'producer', 'bus-fence', silentLogger());
    producers.push(producer);
    await once(producer, 'ready');
    const publisher = new RedisSnapshotPublisher(producer, keys);
    await admin.set(keys.leaderLease, 'tok|7');
    expect(await publisher.publish(payload(1), { token: 'tok', epoch: 7 })).toBe(true);
    expect(await admin.getBuffer(keys.latestSnapshot)).toEqual(payload(1));
    // A former leader (epoch 6) that wakes up changes nothing.
    expect(await publisher.publish(payload(2), { token: 'old', epoch: 6 })).toBe(false);
    expect(await publisher.refresh(patch(2), payload(2), { token: 'old', epoch: 6 })).toBe(false);
    expect(await admin.getBuffer(keys.latestSnapshot)).toEqual(payload(1));
    expect(await publisher.refresh(patch(2), payload(2), { token: 'tok', epoch: 7 })).toBe(true);
    expect(await admin.getBuffer(keys.latestSnapshot)).toEqual(payload(2));
  });

  it('refuses to publish once closed', async () => {
    const producer = connectRedis(redis.url, 'producer', 'bus-closed', silentLogger());
    producers.push(producer);
    await once(producer, 'ready');
    const publisher = new RedisSnapshotPublisher(producer, pulseKeys(uniquePrefix()));
    await publisher.close();
    await expect(publisher.publish(payload(1))).rejects.toThrow(/closed/);
  });

  it('closes at once while Redis is unreachable', async () => {
    const feed = new RedisSnapshotFeed({ url: 'redis://127.0.0.1:1', keys: pulseKeys(uniquePrefix()), name: 'bus-unreachable', logger: silentLogger() });
    const status: boolean[] = [];
    void feed.start(() => {}, (c) => status.push(c)).catch(() => {});
    await new Promise((resolve) => setTimeout(resolve, 200));
    const started = performance.now();
    await feed.close();
    expect(performance.now() - started).toBeLessThan(500);
    expect(status).toEqual([]);
  });

  it('resubscribes after a lost connection and catches up from the latest key', async () => {
    const keys = pulseKeys(uniquePrefix());
    const name = `bus-reconnect-${uniquePrefix()}`;
    const feed = new RedisSnapshotFeed({ url: redis.url, keys, name, logger: silentLogger() });
    try {
      const r = recorder();
      await feed.start(r.onSnapshot, r.onStatus);
      expect(r.status).toEqual([true]);

      await admin.client('KILL', 'ID', await subscriberId(name));
      // Written while the feed is away and never broadcast: only a catch-up can deliver it.
      await admin.set(keys.latestSnapshot, payload(42));
      await vi.waitFor(() => expect(r.got).toEqual([payload(42)]), { timeout: 5000 });
      expect(r.status).toEqual([true, false, true]);

      // And live broadcasts flow again on the new subscription.
      const producer = connectRedis(redis.url, 'producer', 'bus-reconnect', silentLogger());
      producers.push(producer);
      await once(producer, 'ready');
      await new RedisSnapshotPublisher(producer, keys).publish(payload(43));
      await vi.waitFor(() => expect(r.got.at(-1)).toEqual(payload(43)));
    } finally {
      await feed.close();
    }
  });
});

/** The id of the subscriber connection named `name`, to kill just that one on a shared Redis. */
async function subscriberId(name: string): Promise<string> {
  const list = (await admin.call('CLIENT', 'LIST', 'TYPE', 'pubsub')) as string;
  const line = list.split('\n').find((l) => l.includes(`name=pulse:${name}:subscriber `));
  const id = line && /\bid=(\d+)/.exec(line)?.[1];
  if (!id) throw new Error(`no subscriber connection named ${name} in:\n${list}`);
  return id;
}
