/**
 * The proxy (services/proxy) on a real socket (port 0) over a RedisEventLog
 * with a fresh key prefix, and the events it wrote, read back from the stream.
 */
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import type { IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { decodeBatch, pulseKeys, type PulseEvent, type PulseKeys } from '@pulse/protocol';
import { connectRedis, RedisEventLog, silentLogger, type Logger, type RedisConnection } from '@pulse/runtime';
import { createProxy, INFERENCE_ROUTES, type Proxy, type ProxySettings } from '@pulse/proxy';
import { uniquePrefix } from './redis.js';

export const TEST_NODE = 'proxy-test';

export interface TestProxy {
  /** `http://127.0.0.1:<port>` */
  readonly url: string;
  readonly keys: PulseKeys;
  readonly proxy: Proxy;
  close(): Promise<void>;
}

export interface TestProxyOptions {
  readonly redisUrl: string;
  readonly upstreams: readonly string[];
  /**
   * Overrides of the test defaults: the inference routes recorded (as in production), health
   * checks every minute, 20 ms flushes, no heartbeat within a test.
   */
  readonly settings?: Partial<ProxySettings>;
  readonly logger?: Logger;
}

export async function startProxy(options: TestProxyOptions): Promise<TestProxy> {
  const keys = pulseKeys(uniquePrefix('proxy'));
  const logger = options.logger ?? silentLogger();
  const connection = connectRedis(options.redisUrl, 'producer', 'proxy-test', logger);
  await once(connection, 'ready');
  const log = new RedisEventLog(connection, { keys, retentionMs: 600_000 });
  const settings: ProxySettings = {
    upstreams: options.upstreams,
    routes: INFERENCE_ROUTES,
    node: TEST_NODE,
    health: { path: '/health', intervalMs: 60_000, timeoutMs: 500 },
    connectTimeoutMs: 1000,
    idleTimeoutMs: 10_000,
    events: { flushMs: 20, batchEvents: 500, maxQueued: 10_000 },
    heartbeatMs: 600_000,
    ...options.settings,
  };
  const proxy = createProxy({ settings, log, logger });
  proxy.server.listen(0, '127.0.0.1');
  await once(proxy.server, 'listening');
  return {
    url: `http://127.0.0.1:${(proxy.server.address() as AddressInfo).port}`,
    keys,
    proxy,
    close: async () => {
      await proxy.close(1000);
      await log.close();
    },
  };
}

/** Every event in the stream of `keys`, oldest first; fails on an entry that does not validate. */
export async function storedEvents(reader: RedisConnection, keys: PulseKeys): Promise<PulseEvent[]> {
  const entries = await reader.xrange(keys.events, '-', '+');
  return entries.flatMap(([, fields]) => {
    const { events, dropped } = decodeBatch(fields[1]);
    if (dropped > 0) throw new Error(`${dropped} stored events do not validate`);
    return events;
  });
}

/**
 * Reads a request body to its end: its size and SHA-256, without holding it.
 * A body cut short (the caller hung up) leaves the promise pending: there is
 * nobody left to answer.
 */
export function bodyDigest(req: IncomingMessage): Promise<{ size: number; sha256: string }> {
  return new Promise((resolve) => {
    const hash = createHash('sha256');
    let size = 0;
    req.on('data', (part: Buffer) => {
      hash.update(part);
      size += part.length;
    });
    req.on('end', () => resolve({ size, sha256: hash.digest('hex') }));
    req.on('error', () => {});
  });
}
