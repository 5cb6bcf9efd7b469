/**
 * A whole Pulse deployment in miniature, as separate processes: a fresh
 * redis-server, one ingest node, one aggregator and (optionally) one
 * gateway, plus a background feeder keeping every endpoint × model cell
 * populated so that views and frames have their real size.
 */
import { WorkerProcess } from './rpc.js';
import { BenchRedis } from './redis-server.js';
import { ServiceProcess } from './services.js';
import type { NamedPid } from './proc-stats.js';
import type { IngestLoadConfig } from '../workers/ingest-load.js';

/** Every bench client comes from 127.0.0.1: the per-address cap goes up with the total one. */
export const GATEWAY_LIMITS = { PULSE_GATEWAY_MAX_CONNECTIONS: '12000', PULSE_GATEWAY_MAX_CONNECTIONS_PER_IP: '12000' };

export interface PipelineOptions {
  tickMs: number;
  /** Background events/s through ingest (0: none). */
  feedPerSec: number;
  /** Nodes the feed comes from (default 8). */
  nodes?: number;
  gatewayEnv?: Record<string, string>;
}

export class Pipeline {
  gateway: ServiceProcess | null = null;
  private feeding: Promise<unknown> | null = null;

  private constructor(
    readonly redis: BenchRedis,
    readonly ingest: ServiceProcess,
    readonly aggregator: ServiceProcess,
    readonly feeder: WorkerProcess,
    private readonly opts: PipelineOptions,
  ) {}

  static async start(opts: PipelineOptions): Promise<Pipeline> {
    const redis = await BenchRedis.start();
    const env = { REDIS_URL: redis.url, PULSE_TICK_MS: String(opts.tickMs) };
    const [ingest, aggregator] = await Promise.all([ServiceProcess.start('ingest', env), ServiceProcess.start('aggregator', env)]);
    const feeder = await WorkerProcess.start('feeder', 'ingest-load');
    const p = new Pipeline(redis, ingest, aggregator, feeder, opts);
    if (opts.feedPerSec > 0) {
      // Small batches, often: a steady trickle rather than bursts that would show up in the gateway's numbers.
      await feeder.call('configure', { url: ingest.url, batch: 100, connections: 4, prefix: 'feed', nodes: opts.nodes } satisfies IngestLoadConfig);
      p.feeding = feeder.call('run', { eventsPerSec: opts.feedPerSec, durationMs: 3_600_000 }).catch(() => undefined);
    }
    return p;
  }

  get env(): Record<string, string> {
    return { REDIS_URL: this.redis.url, PULSE_TICK_MS: String(this.opts.tickMs) };
  }

  /**
   * A fresh gateway (replacing any running one), ready once it holds a
   * snapshot. Every bench client comes from 127.0.0.1, so the per-address
   * cap is lifted along with the total one.
   */
  async startGateway(): Promise<ServiceProcess> {
    await this.stopGateway();
    this.gateway = await ServiceProcess.start('gateway', { ...this.env, ...GATEWAY_LIMITS, ...this.opts.gatewayEnv });
    return this.gateway;
  }

  async stopGateway(): Promise<void> {
    await this.gateway?.stop();
    this.gateway = null;
  }

  /** The processes to meter, by name. */
  pids(): NamedPid[] {
    const out: NamedPid[] = [
      { name: 'redis', pid: this.redis.pid },
      { name: 'ingest', pid: this.ingest.pid },
      { name: 'aggregator', pid: this.aggregator.pid },
      { name: 'feeder', pid: this.feeder.pid },
    ];
    if (this.gateway) out.push({ name: 'gateway', pid: this.gateway.pid });
    return out;
  }

  async stop(): Promise<void> {
    await this.feeder.call('stop').catch(() => undefined);
    await this.feeding;
    await this.feeder.stop();
    await Promise.all([this.stopGateway(), this.ingest.stop(), this.aggregator.stop()]);
    await this.redis.stop();
  }
}
