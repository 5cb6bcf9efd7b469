/**
 * The Pulse side of the soak, as separate processes: a redis-server, two of
 * each service (ingest, aggregator, gateway) with their V8 inspector open
 * for heap sampling and their output in log files.
 */
import { join } from 'node:path';
import { GATEWAY_LIMITS } from '../lib/pipeline.js';
import { waitUntil } from '../lib/ports.js';
import { BenchRedis } from '../lib/redis-server.js';
import { ServiceProcess, type ServiceName } from '../lib/services.js';
import { Inspector } from './inspector.js';

export interface NamedService {
  /** e.g. 'aggregator-2'. */
  name: string;
  service: ServiceProcess;
  inspector: Inspector;
}

const REPLICAS = 2;

export class SoakCluster {
  private constructor(
    readonly redis: BenchRedis,
    readonly services: NamedService[],
  ) {}

  /** Ingest and aggregators first (a gateway is ready only once a snapshot exists), then the gateways. */
  static async start(logDir: string): Promise<SoakCluster> {
    const redis = await BenchRedis.start();
    // LOG_LEVEL info: the logs are read after the run, and warnings must be there to be listed.
    const env = { REDIS_URL: redis.url, LOG_LEVEL: 'info' };
    const start = async (role: ServiceName, i: number, extra: Record<string, string> = {}): Promise<NamedService> => {
      const name = `${role}-${i}`;
      const service = await ServiceProcess.start(role, { ...env, ...extra }, undefined, { inspect: true, logFile: join(logDir, `${name}.log`) });
      return { name, service, inspector: await Inspector.connect(service.inspectPort!) };
    };
    const replicas = (role: ServiceName, extra?: Record<string, string>) =>
      Promise.all(Array.from({ length: REPLICAS }, (_, i) => start(role, i + 1, extra)));
    const services: NamedService[] = [];
    const cluster = new SoakCluster(redis, services);
    try {
      services.push(...(await replicas('ingest')), ...(await replicas('aggregator')));
      // One aggregator must lead before load starts, so both tail every event from the first.
      await waitUntil('an aggregator leading', async () => (await cluster.roles()).includes('leader'));
      services.push(...(await replicas('gateway', GATEWAY_LIMITS)));
    } catch (err) {
      await cluster.stop();
      throw err;
    }
    return cluster;
  }

  of(role: ServiceName): NamedService[] {
    return this.services.filter((s) => s.service.name === role);
  }

  /** Each aggregator's GET /status (null when it did not answer). */
  async aggregatorStatus(): Promise<Record<string, Record<string, unknown> | null>> {
    const out: Record<string, Record<string, unknown> | null> = {};
    for (const a of this.of('aggregator')) {
      out[a.name] = await fetch(`${a.service.url}/status`, { signal: AbortSignal.timeout(5000) })
        .then((r) => r.json() as Promise<Record<string, unknown>>)
        .catch(() => null);
    }
    return out;
  }

  private async roles(): Promise<unknown[]> {
    return Object.values(await this.aggregatorStatus()).map((s) => s?.role);
  }

  /** SIGTERM to every service (each drains), gateways first; their exit codes by name. */
  async stop(): Promise<Record<string, number | string | null>> {
    const exits: Record<string, number | string | null> = {};
    for (const s of this.services) s.inspector.close();
    for (const role of ['gateway', 'ingest', 'aggregator'] as const) {
      await Promise.all(
        this.of(role).map(async ({ name, service }) => {
          await service.stop();
          exits[name] = service.child.exitCode ?? service.child.signalCode;
        }),
      );
    }
    await this.redis.stop();
    return exits;
  }
}
