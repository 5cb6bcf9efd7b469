/**
 * Pulse services on a real Redis topology (issue 16): ingest, aggregators
 * and a gateway started with one REDIS_URL (redis+sentinel:// or
 * redis+cluster://), and a producer that does what a careful one does — every
 * batch carries an Idempotency-Key and is posted again with the same key
 * until it is answered 202. With that, the figures must count each batch
 * exactly once whatever Redis went through: a 503 (Redis down, or its
 * replicas behind) accepted nothing the retry could double.
 */
import { randomUUID } from 'node:crypto';
import { uniquePrefix } from '@pulse/test-support/redis';
import type { ServiceProcess } from '@pulse/test-support/processes';
import { getJson, killLeftovers, postEvents, requests, sleep, spawnService, until } from './support.js';

export class TopologyServices {
  readonly ingest: ServiceProcess[] = [];
  readonly aggregators: ServiceProcess[] = [];
  readonly gateways: ServiceProcess[] = [];
  readonly prefix = uniquePrefix('topo');

  constructor(
    readonly redisUrl: string,
    private readonly extraEnv: Record<string, string> = {},
  ) {}

  env(extra: Record<string, string> = {}): Record<string, string> {
    return { REDIS_URL: this.redisUrl, PULSE_KEY_PREFIX: this.prefix, LOG_LEVEL: 'info', ...this.extraEnv, ...extra };
  }

  /** Ingest and aggregators first: a gateway is ready only once a snapshot exists. */
  async start(counts: { ingest: number; aggregators: number; gateways: number }): Promise<void> {
    await Promise.all([
      ...Array.from({ length: counts.ingest }, async () => this.ingest.push(await spawnService('ingest', this.env(), 30_000))),
      ...Array.from({ length: counts.aggregators }, async () => this.aggregators.push(await spawnService('aggregator', this.env(), 30_000))),
    ]);
    for (let i = 0; i < counts.gateways; i++) this.gateways.push(await spawnService('gateway', this.env(), 30_000));
  }

  wsUrl(gateway: ServiceProcess = this.gateways[0]!): string {
    return `ws://127.0.0.1:${gateway.port}/metrics/stream`;
  }

  /** True once every process still running answers /readyz 200. */
  async allReady(): Promise<boolean> {
    const procs = [...this.ingest, ...this.aggregators, ...this.gateways].filter((p) => p.child.exitCode === null && p.child.signalCode === null);
    const codes = await Promise.all(procs.map((p) => getJson(`${p.url}/readyz`, 1000).then((r) => r.status, () => 0)));
    return codes.every((c) => c === 200);
  }

  async roles(): Promise<(string | null)[]> {
    return Promise.all(
      this.aggregators.map((a) =>
        a.child.exitCode === null && a.child.signalCode === null ? getJson(`${a.url}/status`, 1000).then((r) => (r.status === 200 ? (r.body.role as string) : null), () => null) : null,
      ),
    );
  }

  async leader(timeoutMs = 15_000): Promise<ServiceProcess> {
    return until(
      'exactly one leading aggregator',
      async () => {
        const roles = await this.roles();
        return roles.filter((r) => r === 'leader').length === 1 ? this.aggregators[roles.indexOf('leader')] : undefined;
      },
      timeoutMs,
      100,
    );
  }

  logTail(lines = 20): string {
    return [...this.ingest, ...this.aggregators, ...this.gateways]
      .map((p) => `--- ${p.name} :${p.port} (exit ${p.child.exitCode ?? p.child.signalCode ?? 'running'})\n${p.output().trimEnd().split('\n').slice(-lines).join('\n')}`)
      .join('\n');
  }

  async stop(): Promise<void> {
    await killLeftovers();
  }
}

export interface ProducerStats {
  /** Streaming requests in batches answered 202 (first answer or a replay). */
  acknowledged: number;
  /** Batches answered 202 on a retry after a 503 or a timeout, with `Idempotent-Replayed` (the first attempt had been stored). */
  replayed: number;
  /** Replies that were not 202, by status (or error name). */
  refusals: Map<number | string, number>;
  /** Batches given up (still not 202 when the producer stopped). */
  abandoned: number;
  /** The longest any reply took that was not a 202 (ms): ingest promises a 503 within 2 s. */
  slowestRefusalMs: number;
  /** When each 202 arrived (ms), for the time the last refusal ended. */
  lastRefusalAt: number;
  firstAcceptAfter(ms: number): number | null;
}

/**
 * Loops posting `batch` streaming requests per call with an Idempotency-Key,
 * retrying each batch (same key, same body) every 100 ms until it is
 * answered 202. `stop()` lets the batch in hand finish (bounded by `drainMs`).
 */
export class IdempotentProducer {
  private running = false;
  private loops: Promise<void>[] = [];
  private next = 0;
  private readonly accepts: number[] = [];
  readonly stats: ProducerStats;

  constructor(
    private readonly targets: () => string[],
    private readonly batch = 5,
    private readonly periodMs = 50,
    private readonly concurrency = 2,
    private readonly drainMs = 30_000,
  ) {
    const accepts = this.accepts;
    this.stats = {
      acknowledged: 0,
      replayed: 0,
      refusals: new Map(),
      abandoned: 0,
      slowestRefusalMs: 0,
      lastRefusalAt: 0,
      firstAcceptAfter: (ms) => accepts.find((t) => t > ms) ?? null,
    };
  }

  start(): this {
    this.running = true;
    this.loops = Array.from({ length: this.concurrency }, () => this.loop());
    return this;
  }

  async stop(): Promise<ProducerStats> {
    this.running = false;
    this.stoppedAt = Date.now();
    await Promise.all(this.loops);
    return this.stats;
  }

  private stoppedAt = Infinity;

  private async loop(): Promise<void> {
    while (this.running) {
      await this.postOnce();
      await sleep(this.periodMs);
    }
  }

  private async postOnce(): Promise<void> {
    const { events } = requests(this.batch, { tag: 'topo' });
    const key = randomUUID();
    for (;;) {
      if (Date.now() - this.stoppedAt > this.drainMs) {
        this.stats.abandoned++;
        return;
      }
      const targets = this.targets();
      const target = targets[this.next++ % targets.length]!;
      let outcome: number | string;
      const sentAt = Date.now();
      try {
        const res = await postEvents(target, events, { 'idempotency-key': key }, 3000);
        outcome = res.status;
        await res.arrayBuffer();
        if (res.status === 202) {
          this.stats.acknowledged += this.batch;
          if (res.headers.get('idempotent-replayed') === 'true') this.stats.replayed++;
          this.accepts.push(Date.now());
          return;
        }
      } catch (err) {
        outcome = (err as { cause?: { code?: string } }).cause?.code ?? (err as Error).name;
      }
      this.stats.refusals.set(outcome, (this.stats.refusals.get(outcome) ?? 0) + 1);
      this.stats.slowestRefusalMs = Math.max(this.stats.slowestRefusalMs, Date.now() - sentAt);
      this.stats.lastRefusalAt = Date.now();
      await sleep(100);
    }
  }
}

export function describeRefusals(stats: ProducerStats): string {
  const refusals = [...stats.refusals].map(([k, v]) => `${k}×${v}`).join(' ');
  return refusals ? `${refusals} (slowest ${stats.slowestRefusalMs} ms)` : 'none';
}
