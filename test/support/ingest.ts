/**
 * An ingest app on a real socket (port 0) over a RedisEventLog with a fresh
 * key prefix, for tests that talk HTTP to it.
 */
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { pulseKeys, type PulseKeys } from '@pulse/protocol';
import { connectRedis, parseConfig, RedisEventLog, silentLogger, type Logger } from '@pulse/runtime';
import { createIngestApp, ingestConfigShape } from '@pulse/ingest';
import { uniquePrefix } from './redis.js';

export interface TestIngest {
  /** `http://127.0.0.1:<port>` */
  readonly url: string;
  readonly keys: PulseKeys;
  post(body: string | Uint8Array, headers?: Record<string, string>): Promise<Response>;
  close(): Promise<void>;
}

export interface TestIngestOptions {
  readonly redisUrl: string;
  /** Environment for the config (limits), as main.ts would read it. */
  readonly env?: Record<string, string>;
  readonly logger?: Logger;
  /** Wait for the Redis connection before serving (default true). */
  readonly waitForRedis?: boolean;
}

export async function startIngest(options: TestIngestOptions): Promise<TestIngest> {
  const config = parseConfig(ingestConfigShape, options.env ?? {});
  const keys = pulseKeys(uniquePrefix());
  const logger = options.logger ?? silentLogger();
  const connection = connectRedis(options.redisUrl, 'producer', 'ingest-test', logger);
  if (options.waitForRedis ?? true) await once(connection, 'ready');
  const log = new RedisEventLog(connection, { keys, retentionMs: 600_000 });
  const app = createIngestApp({ config, log, logger, isReady: () => connection.status === 'ready' });
  const server: Server = app.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    keys,
    post: (body, headers = { 'content-type': 'application/json' }) =>
      fetch(`${url}/v1/events`, { method: 'POST', body, headers }),
    close: async () => {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
      await log.close();
    },
  };
}
