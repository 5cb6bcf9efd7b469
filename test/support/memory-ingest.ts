/**
 * An ingest app on port 0 over the in-process event log: for tests of what
 * ingest answers (auth, limits, fuzzing) that need no Redis.
 */
import { once } from 'node:events';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createIngestApp, ingestConfigShape } from '@pulse/ingest';
import { INGEST_LIMITS, LimitCounters, MemoryEventLog, parseConfig, SelfMetrics, silentLogger, type Logger } from '@pulse/runtime';

export interface MemoryIngest {
  /** `http://127.0.0.1:<port>` */
  readonly url: string;
  readonly log: MemoryEventLog;
  readonly counters: LimitCounters;
  readonly server: Server;
  /** Every event appended so far, in order. */
  stored(): unknown[];
  close(): Promise<void>;
}

export async function startMemoryIngest(env: Record<string, string> = {}, logger: Logger = silentLogger()): Promise<MemoryIngest> {
  const config = parseConfig(ingestConfigShape, env);
  const log = new MemoryEventLog(600_000);
  const metrics = new SelfMetrics();
  const counters = new LimitCounters(INGEST_LIMITS, metrics);
  const server = createIngestApp({ config, log, logger, isReady: () => true, metrics, counters }).listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    log,
    counters,
    server,
    stored: () => log.readAfter('0-0', Number.MAX_SAFE_INTEGER).flatMap((e) => e.events),
    close: async () => {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}
