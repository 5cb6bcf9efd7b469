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
import { ENDPOINTS, MODELS } from '../workers/event-batch.js';

/** Every bench client comes from 127.0.0.1: the per-address cap goes up with the total one. */
export const GATEWAY_LIMITS = { PULSE_GATEWAY_MAX_CONNECTIONS: '12000', PULSE_GATEWAY_MAX_CONNECTIONS_PER_IP: '12000' };

export interface PipelineOptions {
  tickMs: number;
  /** Background events/s through ingest (0: none). */
  feedPerSec: number;
  /** Nodes the feed comes from (default 8). */
  nodes?: number;
  gatewayEnv?: Record<string, string>;
  /**
   * Environment for every service of the deployment (ingest, aggregators, gateway), e.g. PULSE_PARTITIONS,
   * which must be the same on every process; PULSE_TICK_MS and REDIS_URL are the pipeline's own.
   */
  env?: Record<string, string>;
  /** Environment for the aggregator processes only (e.g. PULSE_HISTORY_TIERS, PULSE_LEASE_MS). */
  aggregatorEnv?: Record<string, string>;
  /**
   * The feed reaches every nodes × 20 endpoints × 5 models cell: enough distinct request bodies that each cell
   * is drawn ~4 times (98 % of cells in the window). Off by default: the feeder's 8 bodies of 50 requests reach
   * only ~390 cells (~315 of 8 nodes' 800), which the scenarios measured so far were built on.
   */
  everyCell?: boolean;
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
    const env = { ...opts.env, REDIS_URL: redis.url, PULSE_TICK_MS: String(opts.tickMs) };
    const [ingest, aggregator] = await Promise.all([ServiceProcess.start('ingest', env), ServiceProcess.start('aggregator', { ...env, ...opts.aggregatorEnv })]);
    const feeder = await WorkerProcess.start('feeder', 'ingest-load');
    const p = new Pipeline(redis, ingest, aggregator, feeder, opts);
    if (opts.feedPerSec > 0) {
      // Small batches, often: a steady trickle rather than bursts that would show up in the gateway's numbers.
      const batch = 100;
      const templates = opts.everyCell ? Math.ceil(((opts.nodes ?? 8) * ENDPOINTS.length * MODELS.length * 4) / (batch / 2)) : undefined;
      await feeder.call('configure', { url: ingest.url, batch, connections: 4, prefix: 'feed', nodes: opts.nodes, templates } satisfies IngestLoadConfig);
      p.feeding = feeder.call('run', { eventsPerSec: opts.feedPerSec, durationMs: 3_600_000 }).catch(() => undefined);
    }
    return p;
  }

  get env(): Record<string, string> {
    return { ...this.opts.env, REDIS_URL: this.redis.url, PULSE_TICK_MS: String(this.opts.tickMs) };
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
