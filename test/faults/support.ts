/**
 * Shared pieces of the fault suite (issue 3): a cluster of real processes
 * on a killable redis-server, a traffic generator, a WebSocket update
 * recorder that computes gaps and monotonicity, and small probes (aggregator
 * role, RSS, the event stream read back with a plain client).
 *
 * Every process started here is tracked, so `killLeftovers()` (called by
 * `Cluster.stop()` and on worker exit) can SIGCONT and SIGKILL whatever a
 * failed test left behind.
 */
import { readFileSync } from 'node:fs';
import { afterAll, afterEach, beforeAll } from 'vitest';
import { ENTRY_FIELD, pulseKeys, type PulseKeys } from '@pulse/protocol';
import type { Redis } from 'ioredis';
import { startTestRedis, testClient, uniquePrefix, type KillableTestRedis } from '@pulse/test-support/redis';
import { startService, waitReady, type ServiceName, type ServiceProcess } from '@pulse/test-support/processes';
import { TestClient } from '@pulse/test-support/ws-client';

// ---------------------------------------------------------------- processes

const live = new Set<ServiceProcess>();
const stopped = new Set<ServiceProcess>();

function isRunning(p: ServiceProcess): boolean {
  return p.child.exitCode === null && p.child.signalCode === null;
}

/** Starts a service process, tracked for cleanup from the moment it is spawned. */
export async function spawnService(name: ServiceName, env: Record<string, string>, timeoutMs = 20_000): Promise<ServiceProcess> {
  const proc = await startService(name, env, { waitReady: false });
  live.add(proc);
  void proc.exited.then(() => {
    live.delete(proc);
    stopped.delete(proc);
  });
  await waitReady(proc, timeoutMs);
  return proc;
}

/** SIGSTOP / SIGCONT, remembered so cleanup can wake a stopped process before killing it. */
export function pause(proc: ServiceProcess): void {
  stopped.add(proc);
  proc.child.kill('SIGSTOP');
}

export function resume(proc: ServiceProcess): void {
  proc.child.kill('SIGCONT');
  stopped.delete(proc);
}

/** SIGKILL and wait for the exit. */
export async function kill9(proc: ServiceProcess): Promise<void> {
  if (!isRunning(proc)) return;
  if (stopped.has(proc)) resume(proc);
  proc.child.kill('SIGKILL');
  await proc.exited;
}

/** Kills every tracked process still running (a stopped one is continued first). */
export async function killLeftovers(): Promise<void> {
  await Promise.all([...live].map((p) => kill9(p)));
}

process.once('exit', () => {
  for (const p of live) {
    try {
      p.child.kill('SIGCONT');
      p.child.kill('SIGKILL');
    } catch {
      // already gone
    }
  }
});

// ---------------------------------------------------------------- probes

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Polls `probe` until it returns something other than undefined/false, or throws after `timeoutMs`. */
export async function until<T>(what: string, probe: () => Promise<T | undefined | false> | T | undefined | false, timeoutMs: number, everyMs = 50): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined && value !== false) return value as T;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${lastError ? `: ${String(lastError)}` : ''}`);
    await sleep(everyMs);
  }
}

export async function getJson(url: string, timeoutMs = 500): Promise<{ status: number; body: any }> {
  const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
  const text = await res.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    // not JSON: keep the text
  }
  return { status: res.status, body };
}

export type Role = 'leader' | 'standby' | 'starting';

/** The aggregator's role from GET /status, or null when it does not answer (dead, stopped). */
export async function roleOf(agg: ServiceProcess): Promise<Role | null> {
  if (!isRunning(agg) || stopped.has(agg)) return null;
  try {
    const { status, body } = await getJson(`${agg.url}/status`, 400);
    return status === 200 ? (body.role as Role) : null;
  } catch {
    return null;
  }
}

/** Resident memory of a process in bytes (VmRSS of /proc/<pid>/status). */
export function rssBytes(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = /^VmRSS:\s+(\d+)\s+kB/m.exec(status)?.[1];
  if (!kb) throw new Error(`no VmRSS for pid ${pid}`);
  return Number(kb) * 1024;
}

export const mb = (bytes: number) => Math.round((bytes / 1048576) * 10) / 10;

// ---------------------------------------------------------------- cluster

export interface ClusterOptions {
  ingest?: number;
  aggregators?: number;
  gateways?: number;
  /** Environment for every service (PULSE_TICK_MS, PULSE_LEASE_MS, …). */
  env?: Record<string, string>;
  /** Extra environment per role. */
  ingestEnv?: Record<string, string>;
  aggregatorEnv?: Record<string, string>;
  gatewayEnv?: Record<string, string>;
  /** A redis-server with its append-only file (`appendfsync always`): `redis.restart()` brings its data back. */
  persistentRedis?: boolean;
}

/**
 * One cluster for a test file: started before its tests and handed to
 * `use`, its services' log tails printed after a failing test, stopped after
 * the last one.
 */
export function clusterPerFile(options: ClusterOptions, use: (cluster: Cluster) => void): void {
  let cluster: Cluster | undefined;
  beforeAll(async () => {
    cluster = await Cluster.start(options);
    use(cluster);
  }, 60_000);
  afterEach((ctx) => {
    if (ctx.task.result?.state === 'fail') console.log(cluster?.logTail());
  });
  afterAll(async () => {
    await cluster?.stop();
  });
}

/** redis-server (killable) + ingest ×N + aggregator ×N + gateway ×N, one unique key prefix. */
export class Cluster {
  readonly ingest: ServiceProcess[] = [];
  readonly aggregators: ServiceProcess[] = [];
  readonly gateways: ServiceProcess[] = [];
  readonly keys: PulseKeys;
  private admin: Redis | null = null;

  private constructor(
    readonly redis: KillableTestRedis,
    readonly prefix: string,
    private readonly opts: ClusterOptions,
  ) {
    this.keys = pulseKeys(prefix);
  }

  static async start(opts: ClusterOptions = {}): Promise<Cluster> {
    const redis = await startTestRedis({ killable: true, persistent: opts.persistentRedis === true });
    const cluster = new Cluster(redis, uniquePrefix('faults'), opts);
    try {
      // Ingest and aggregators first: a gateway is ready only once a snapshot exists.
      await Promise.all([
        ...Array.from({ length: opts.ingest ?? 2 }, () => cluster.startIngest()),
        ...Array.from({ length: opts.aggregators ?? 2 }, () => cluster.startAggregator()),
      ]);
      await Promise.all(Array.from({ length: opts.gateways ?? 2 }, () => cluster.startGateway()));
    } catch (err) {
      await cluster.stop();
      throw err;
    }
    return cluster;
  }

  env(role: 'ingest' | 'aggregator' | 'gateway', extra: Record<string, string> = {}): Record<string, string> {
    const perRole = { ingest: this.opts.ingestEnv, aggregator: this.opts.aggregatorEnv, gateway: this.opts.gatewayEnv }[role];
    return { REDIS_URL: this.redis.url, PULSE_KEY_PREFIX: this.prefix, LOG_LEVEL: 'info', ...this.opts.env, ...perRole, ...extra };
  }

  async startIngest(extra?: Record<string, string>): Promise<ServiceProcess> {
    const p = await spawnService('ingest', this.env('ingest', extra));
    this.ingest.push(p);
    return p;
  }

  async startAggregator(extra?: Record<string, string>): Promise<ServiceProcess> {
    const p = await spawnService('aggregator', this.env('aggregator', extra));
    this.aggregators.push(p);
    return p;
  }

  async startGateway(extra?: Record<string, string>): Promise<ServiceProcess> {
    const p = await spawnService('gateway', this.env('gateway', extra));
    this.gateways.push(p);
    return p;
  }

  /** The aggregators not killed (yet). */
  runningAggregators(): ServiceProcess[] {
    return this.aggregators.filter(isRunning);
  }

  wsUrl(gateway: ServiceProcess): string {
    return `ws://127.0.0.1:${gateway.port}/metrics/stream`;
  }

  /** The one aggregator reporting `leader` (others standby), polled until there is exactly one. */
  async leader(timeoutMs = 8000, among: ServiceProcess[] = this.aggregators): Promise<ServiceProcess> {
    return until(
      'exactly one leader aggregator',
      async () => {
        const roles = await Promise.all(among.map((a) => roleOf(a)));
        const leaders = among.filter((_, i) => roles[i] === 'leader');
        return leaders.length === 1 ? leaders[0] : undefined;
      },
      timeoutMs,
    );
  }

  /** A plain client on the cluster's Redis (reconnects after a Redis restart by itself). */
  redisClient(): Redis {
    this.admin ??= testClient(this.redis.url);
    return this.admin;
  }

  /** Every event in the stream, read back with XRANGE: request_id → number of events carrying it. */
  async streamEventsByRequestId(): Promise<Map<string, number>> {
    const redis = this.redisClient();
    const counts = new Map<string, number>();
    let from = '-';
    for (;;) {
      const page = await redis.xrange(this.keys.events, from, '+', 'COUNT', 1000);
      for (const [, fields] of page) {
        for (let i = 0; i + 1 < fields.length; i += 2) {
          if (fields[i] !== ENTRY_FIELD) continue;
          for (const event of JSON.parse(fields[i + 1]!) as { request_id?: string }[]) {
            if (event.request_id) counts.set(event.request_id, (counts.get(event.request_id) ?? 0) + 1);
          }
        }
      }
      if (page.length < 1000) return counts;
      from = `(${page[page.length - 1]![0]}`;
    }
  }

  /** The last lines each process wrote, for a failure message. */
  logTail(lines = 15): string {
    const procs = [...this.ingest, ...this.aggregators, ...this.gateways];
    return procs
      .map((p) => `--- ${p.name} :${p.port} (pid ${p.child.pid}, exit ${p.child.exitCode ?? p.child.signalCode ?? 'running'})\n${p.output().trimEnd().split('\n').slice(-lines).join('\n')}`)
      .join('\n');
  }

  /** Kills every process of this cluster (and any other leftover), then Redis. Safe on a half-started cluster. */
  async stop(): Promise<void> {
    await killLeftovers();
    this.admin?.disconnect();
    await this.redis.stop();
  }
}

// ---------------------------------------------------------------- events

let requestCounter = 0;

export interface RequestOptions {
  endpoint?: string;
  model?: string;
  node?: string;
  stream?: boolean;
  /** Request id prefix, to find them again in the stream. */
  tag?: string;
}

/** `n` finished requests (a start and an end each), timestamped now; returns the events and their ids. */
export function requests(n: number, opts: RequestOptions = {}): { events: object[]; ids: string[] } {
  const now = Date.now() / 1000;
  const events: object[] = [];
  const ids: string[] = [];
  for (let i = 0; i < n; i++) {
    const request_id = `${opts.tag ?? 'r'}-${process.pid}-${++requestCounter}`;
    ids.push(request_id);
    const base = {
      ts: now,
      node: opts.node ?? 'fakeai-1',
      request_id,
      endpoint: opts.endpoint ?? '/v1/chat/completions',
      model: opts.model ?? 'gpt-4',
      stream: opts.stream ?? true,
    };
    events.push({ type: 'request.start', ...base });
    events.push({
      type: 'request.end',
      ...base,
      ts: now + 0.2,
      status: 200,
      latency_ms: 200 + (requestCounter % 50),
      ttft_ms: 20,
      prompt_tokens: 100,
      completion_tokens: 40,
      cache: { hit: requestCounter % 2 === 0, cached_tokens: 32, prefix_length: 32 },
    });
  }
  return { events, ids };
}

export function postEvents(ingestUrl: string, events: object[], headers: Record<string, string> = {}, timeoutMs = 5000): Promise<Response> {
  return fetch(`${ingestUrl}/v1/events`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify({ events }),
    signal: AbortSignal.timeout(timeoutMs),
  });
}

export interface TrafficOptions {
  /** Ingest base URLs, used round-robin. */
  targets: () => string[];
  /** Requests per batch. */
  batch: number;
  /** Pause between batches of one loop (0: back to back). */
  periodMs: number;
  /** Loops posting at the same time. */
  concurrency?: number;
  request?: RequestOptions;
}

/** Loops posting batches until stopped; records what was acknowledged (202) and what failed. */
export class Traffic {
  /** Request ids of every batch answered 202 with all its events accepted. */
  readonly acknowledged: string[] = [];
  readonly statuses = new Map<number | string, number>();
  private running = false;
  private loops: Promise<void>[] = [];
  private next = 0;

  constructor(private readonly opts: TrafficOptions) {}

  start(): this {
    this.running = true;
    this.loops = Array.from({ length: this.opts.concurrency ?? 1 }, () => this.loop());
    return this;
  }

  async stop(): Promise<void> {
    this.running = false;
    await Promise.all(this.loops);
  }

  private async loop(): Promise<void> {
    while (this.running) {
      const targets = this.opts.targets();
      const target = targets[this.next++ % targets.length]!;
      const { events, ids } = requests(this.opts.batch, this.opts.request);
      let outcome: number | string;
      try {
        const res = await postEvents(target, events, {}, 3000);
        outcome = res.status;
        const body = (await res.json()) as { accepted?: number };
        if (res.status === 202 && body.accepted === events.length) this.acknowledged.push(...ids);
      } catch (err) {
        outcome = (err as { cause?: { code?: string } }).cause?.code ?? (err as Error).name;
      }
      this.statuses.set(outcome, (this.statuses.get(outcome) ?? 0) + 1);
      if (this.opts.periodMs > 0) await sleep(this.opts.periodMs);
      else if (typeof outcome !== 'number') await sleep(20); // refused: do not spin
    }
  }
}

// ---------------------------------------------------------------- updates

export interface Update {
  /** Arrival time at the client (ms). */
  at: number;
  /** The message's `timestamp` (snapshot build time, s). */
  timestamp: number;
  data: any;
  /** The message's `stale_partitions`, when it named any. */
  stale?: number[];
}

export interface GapStats {
  maxGapMs: number;
  /** Arrival time of the update that ended the longest gap. */
  endedAt: number;
  count: number;
}

/**
 * A WebSocket client that subscribes and records its `metrics_update`s, with
 * the questions the fault tests ask of them: the longest gap between
 * arrivals, and whether timestamps only ever increase.
 */
export class UpdateRecorder {
  private constructor(
    readonly client: TestClient,
    readonly url: string,
  ) {}

  static async connect(url: string, filters: Record<string, unknown> = { interval: 0.5 }): Promise<UpdateRecorder> {
    const client = await TestClient.connect(url);
    // `since` 0: historical_data may have arrived before anyone waited for it.
    await client.next((m) => m.type === 'historical_data', 5000, 0);
    const since = client.received.length;
    client.send({ type: 'subscribe', filters });
    await client.next((m) => m.type === 'subscribed', 5000, since);
    return new UpdateRecorder(client, url);
  }

  get updates(): Update[] {
    return this.client.received
      .filter((r) => r.msg.type === 'metrics_update')
      .map((r) => ({ at: r.at, timestamp: r.msg.timestamp as number, data: r.msg.data, stale: r.msg.stale_partitions as number[] | undefined }));
  }

  /** Updates that arrived in [fromMs, toMs]. */
  between(fromMs: number, toMs = Infinity): Update[] {
    return this.updates.filter((u) => u.at >= fromMs && u.at <= toMs);
  }

  /** Longest time between consecutive updates arriving in [fromMs, toMs]. */
  gaps(fromMs = 0, toMs = Infinity): GapStats {
    return gapStats(this.between(fromMs, toMs));
  }

  /** Pairs of consecutive updates whose timestamp did not increase (stale or duplicate). */
  orderViolations(): { prev: number; next: number }[] {
    return orderViolations(this.updates);
  }

  /**
   * Resolves with the first update (already received or next) matching `ok`.
   * A timeout says how many updates came and how old the last is — with
   * `show`, what it held — so a failure in CI tells a miscount from silence.
   */
  async waitFor(what: string, ok: (u: Update) => boolean, timeoutMs: number, show?: (u: Update) => unknown): Promise<Update> {
    try {
      return await until(what, () => this.updates.find(ok), timeoutMs, 20);
    } catch (err) {
      const last = this.updates.at(-1);
      const seen = last ? `the last of ${this.updates.length} updates came ${Date.now() - last.at} ms ago${show ? ` with ${JSON.stringify(show(last))}` : ''}` : 'no update came';
      throw new Error(`${(err as Error).message}; ${seen}`, { cause: err });
    }
  }

  close(): void {
    this.client.close();
  }
}

export function gapStats(list: Update[]): GapStats {
  let maxGapMs = 0;
  let endedAt = 0;
  for (let i = 1; i < list.length; i++) {
    const gap = list[i]!.at - list[i - 1]!.at;
    if (gap > maxGapMs) {
      maxGapMs = gap;
      endedAt = list[i]!.at;
    }
  }
  return { maxGapMs, endedAt, count: list.length };
}

export function orderViolations(list: Update[]): { prev: number; next: number }[] {
  const out: { prev: number; next: number }[] = [];
  for (let i = 1; i < list.length; i++) {
    if (!(list[i]!.timestamp > list[i - 1]!.timestamp)) out.push({ prev: list[i - 1]!.timestamp, next: list[i]!.timestamp });
  }
  return out;
}

/** Figures read off an update's data, absent types as undefined. */
export const completedStreams = (u: Update): number | undefined => u.data?.streaming?.completed_streams;
export const requestRate = (u: Update): number | undefined => u.data?.throughput?.total_requests_per_sec;
