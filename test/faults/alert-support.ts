/**
 * What the alert fault tests share (issue 14, item 5): a cluster of real
 * processes (ingest, aggregator ×2, gateway) with PULSE_ALERT_RULES on a
 * redis-server that persists every write (AOF, `appendfsync always`) and can
 * be SIGKILLed and restarted with its data; webhook receivers on 127.0.0.1
 * that the test scripts to refuse connections, answer 503 or 429, or hang;
 * a failing node's traffic that makes an alert fire and, once stopped,
 * resolve; and the figures each test prints (duplicates, delays).
 *
 * Processes are spawned through support.ts, so its leftover-killing applies.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll } from 'vitest';
import type { Redis } from 'ioredis';
import { pulseKeys, type PulseKeys } from '@pulse/protocol';
import { alertKeys, type AlertKeys } from '@pulse/alerts';
import { findRedisServerBinary, freePort, pingPort } from '@pulse/test-support/redis-server';
import { testClient, uniquePrefix } from '@pulse/test-support/redis';
import type { ServiceProcess } from '@pulse/test-support/processes';
import { getJson, killLeftovers, postEvents, roleOf, sleep, spawnService, until } from './support.js';

// ---------------------------------------------------------------- Redis with its data

/**
 * A redis-server child that writes every command to its append-only file
 * before answering (`--appendonly yes --appendfsync always`): a SIGKILL loses
 * nothing it acknowledged, and `restart()` brings it back on the same port
 * with the same directory, so it loads everything again.
 */
export class AofRedis {
  private child: ChildProcess | null = null;
  private output = '';
  private readonly killOnExit = () => this.child?.kill('SIGKILL');

  private constructor(
    private readonly binary: string,
    readonly port: number,
    readonly dir: string,
  ) {}

  static async start(): Promise<AofRedis> {
    const binary = findRedisServerBinary();
    if (!binary) throw new Error('the alert fault tests need redis-server on PATH (apt-get install redis-server)');
    const redis = new AofRedis(binary, await freePort(), mkdtempSync(join(tmpdir(), 'pulse-redis-aof-')));
    await redis.launch();
    return redis;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  /** SIGKILL, as a crash would. */
  async kill(): Promise<void> {
    const child = this.child;
    this.child = null;
    process.off('exit', this.killOnExit);
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGKILL');
    await exited;
  }

  /** Starts it again on the same port and directory: it loads its append-only file. */
  async restart(): Promise<void> {
    await this.kill();
    await this.launch();
  }

  async stop(): Promise<void> {
    await this.kill();
    rmSync(this.dir, { recursive: true, force: true });
  }

  private async launch(): Promise<void> {
    this.output = '';
    const args = ['--port', String(this.port), '--bind', '127.0.0.1', '--dir', this.dir, '--save', '', '--appendonly', 'yes', '--appendfsync', 'always'];
    const child = spawn(this.binary, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    process.on('exit', this.killOnExit);
    const keep = (chunk: Buffer) => (this.output = (this.output + chunk.toString()).slice(-2000));
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    // Loading a large AOF takes a moment; ours are small.
    const deadline = Date.now() + 10_000;
    while (Date.now() < deadline) {
      if (child.exitCode !== null) break;
      if (await pingPort(this.port, 200)) return;
      await sleep(20);
    }
    throw new Error(`redis-server (AOF) on port ${this.port} did not answer PING:\n${this.output}`);
  }
}

// ---------------------------------------------------------------- receivers

/** What the receiver does with one request. */
export type Answer = { readonly status: number; readonly headers?: Record<string, string> } | 'hang';

/** One request as the receiver saw it. */
export interface Hit {
  /** The Idempotency-Key header. */
  readonly key: string;
  /** The notification's status: firing or resolved. */
  readonly status: string;
  readonly fingerprint: string;
  readonly startsAt: string;
  /** Date.now() when its body had arrived. */
  readonly at: number;
  /** The sender's TCP port (to tell which process sent it). */
  readonly remotePort: number;
  /** The status answered; null while hanging, and for good when the sender went away first. */
  answered: number | null;
}

/**
 * A webhook receiver on 127.0.0.1 whose behaviour the test scripts per
 * request (`answer`, given the request and how many earlier requests carried
 * its key), and whose port can stop listening (`refuse`: connection refused,
 * open connections cut) and listen again (`accept`) on the same port.
 */
export class FaultReceiver {
  readonly hits: Hit[] = [];
  answer: (hit: Hit, earlierWithKey: number) => Answer = () => ({ status: 200 });
  private readonly server: http.Server;
  private readonly sockets = new Set<Socket>();
  private listening = false;

  private constructor(readonly port: number) {
    this.server = http.createServer((req, res) => this.handle(req, res));
    this.server.on('connection', (socket) => {
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
    });
  }

  static async start(): Promise<FaultReceiver> {
    const receiver = new FaultReceiver(await freePort());
    await receiver.accept();
    return receiver;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}/hook`;
  }

  /** Listens (again) on its port. */
  async accept(): Promise<void> {
    if (this.listening) return;
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.port, '127.0.0.1', () => {
        this.server.off('error', reject);
        resolve();
      });
    });
    this.listening = true;
  }

  /** Stops listening and cuts every open connection: senders get ECONNREFUSED until `accept()`. */
  async refuse(): Promise<void> {
    if (!this.listening) return;
    this.listening = false;
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    for (const s of this.sockets) s.destroy();
    await closed;
  }

  async close(): Promise<void> {
    await this.refuse();
  }

  /** Hits answered 2xx. */
  delivered(): Hit[] {
    return this.hits.filter((h) => h.answered !== null && h.answered >= 200 && h.answered < 300);
  }

  /** The distinct Idempotency-Keys of every hit, in order of first arrival. */
  keys(): string[] {
    return [...new Set(this.hits.map((h) => h.key))];
  }

  hitsFor(key: string): Hit[] {
    return this.hits.filter((h) => h.key === key);
  }

  /** The first notification received with this status (any answer). */
  first(status: 'firing' | 'resolved'): Hit | undefined {
    return this.hits.find((h) => h.status === status);
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      let body: any = {};
      try {
        body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
      } catch {
        // Not JSON: recorded with empty fields.
      }
      const alert = body?.alerts?.[0] ?? {};
      const key = String(req.headers['idempotency-key'] ?? '');
      const hit: Hit = {
        key,
        status: String(body?.status ?? ''),
        fingerprint: String(alert.fingerprint ?? ''),
        startsAt: String(alert.startsAt ?? ''),
        at: Date.now(),
        remotePort: req.socket.remotePort ?? 0,
        answered: null,
      };
      const earlier = this.hits.filter((h) => h.key === key).length;
      this.hits.push(hit);
      const answer = this.answer(hit, earlier);
      if (answer === 'hang') return; // never answered; the sender's timeout, or its death, ends it
      hit.answered = answer.status;
      res.writeHead(answer.status, { 'content-type': 'text/plain', ...answer.headers });
      res.end(answer.status < 300 ? 'ok' : 'not now');
    });
  }
}

/**
 * The duplicates a receiver saw: the same Idempotency-Key delivered (2xx)
 * more than once, the same key received (any answer) more than once, and
 * several distinct notifications (keys) for one transition of one alert
 * (fingerprint, episode start, firing/resolved).
 */
export interface Duplicates {
  /** Extra 2xx deliveries of a key already delivered. */
  redelivered: number;
  /** Extra requests carrying a key already received (retries included). */
  repeatedKey: number;
  /** Extra keys for a transition that already had one. */
  extraNotifications: number;
  /** One line for the log. */
  text: string;
}

export function duplicates(receiver: FaultReceiver): Duplicates {
  const delivered = new Map<string, number>();
  for (const h of receiver.delivered()) delivered.set(h.key, (delivered.get(h.key) ?? 0) + 1);
  const received = new Map<string, number>();
  for (const h of receiver.hits) received.set(h.key, (received.get(h.key) ?? 0) + 1);
  const transitions = new Map<string, Set<string>>();
  for (const h of receiver.hits) {
    const t = `${h.fingerprint}|${h.startsAt}|${h.status}`;
    if (!transitions.has(t)) transitions.set(t, new Set());
    transitions.get(t)!.add(h.key);
  }
  const extra = (counts: Iterable<number>) => [...counts].reduce((sum, n) => sum + Math.max(0, n - 1), 0);
  const redelivered = extra(delivered.values());
  const repeatedKey = extra(received.values());
  const extraNotifications = extra([...transitions.values()].map((s) => s.size));
  return {
    redelivered,
    repeatedKey,
    extraNotifications,
    text:
      `${received.size} notification(s) over ${transitions.size} transition(s); duplicates: ${redelivered} key(s) delivered (2xx) again, ` +
      `${extraNotifications} extra notification(s) for a transition; ${repeatedKey} repeated request(s) of a key (retries included)`,
  };
}

/** The statuses of the deliveries (2xx), in the order the receiver got them: at-least-once delivery keeps no order. */
export function deliveredOrder(receiver: FaultReceiver): string {
  return receiver
    .delivered()
    .map((h) => h.status)
    .join(' → ');
}

/** The gaps (ms) between consecutive requests carrying one key. */
export function gapsOf(receiver: FaultReceiver, key: string): number[] {
  const at = receiver.hitsFor(key).map((h) => h.at);
  return at.slice(1).map((t, i) => t - at[i]!);
}

// ---------------------------------------------------------------- which process sent it

/**
 * The pid, among `pids`, owning the local TCP port `port` connected to
 * `peerPort` on 127.0.0.1: /proc/net/tcp gives the socket's inode, and
 * /proc/<pid>/fd the process holding it. Null when none does (any more).
 */
export function pidOfConnection(port: number, peerPort: number, pids: readonly number[]): number | null {
  const hex = (n: number) => n.toString(16).toUpperCase().padStart(4, '0');
  let inode: string | null = null;
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text: string;
    try {
      text = readFileSync(table, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f.length < 10) continue;
      if (f[1]!.endsWith(`:${hex(port)}`) && f[2]!.endsWith(`:${hex(peerPort)}`)) inode = f[9]!;
    }
  }
  if (!inode || inode === '0') return null;
  for (const pid of pids) {
    let fds: string[];
    try {
      fds = readdirSync(`/proc/${pid}/fd`);
    } catch {
      continue;
    }
    for (const fd of fds) {
      try {
        if (readlinkSync(`/proc/${pid}/fd/${fd}`) === `socket:[${inode}]`) return pid;
      } catch {
        // closed meanwhile
      }
    }
  }
  return null;
}

// ---------------------------------------------------------------- rules

/** One alert per case: a node failing, told to its own receiver. */
export interface AlertCase {
  /** Short name: the rule is `NodeFailing_<name>`, the receiver `hook-<name>`, the node `fakeai-<name>`. */
  readonly name: string;
  readonly receiver: FaultReceiver;
}

export const nodeOf = (c: AlertCase) => `fakeai-${c.name}`;

/**
 * A rules file: per case, `error_rate_pct > 20` for 1 s on its node, told to
 * its receiver (fires and resolves once each, no repeats within a test).
 */
export function writeRules(cases: readonly AlertCase[]): string {
  const lines = ['receivers:'];
  for (const c of cases) lines.push(`  - {name: hook-${c.name}, url: "${c.receiver.url}", repeat_interval: 1h}`);
  lines.push('rules:');
  for (const c of cases) {
    lines.push(
      `  - name: NodeFailing_${c.name}`,
      '    figure: error_rate_pct',
      '    op: ">"',
      '    value: 20',
      '    for: 1s',
      '    group_by: [node]',
      `    filters: {node: ${nodeOf(c)}}`,
      `    labels: {severity: page, fault: ${c.name}}`,
      '    annotations: {summary: "a node fails more than 20 % of its requests"}',
      `    receivers: [hook-${c.name}]`,
    );
  }
  const path = join(mkdtempSync(join(tmpdir(), 'pulse-alert-faults-')), 'rules.yaml');
  writeFileSync(path, lines.join('\n') + '\n');
  return path;
}

// ---------------------------------------------------------------- traffic

let sequence = 0;

/**
 * A FakeAI node failing half its requests: a batch every `periodMs` to
 * ingest while running. Refusals (Redis down) are counted and retried with
 * the next batch; the alert's figure only needs some of them.
 */
export class FailingNode {
  accepted = 0;
  refused = 0;
  private running = false;
  private loop: Promise<void> | null = null;

  constructor(
    private readonly ingestUrl: () => string,
    readonly node: string,
    private readonly periodMs = 250,
  ) {}

  start(): this {
    this.running = true;
    this.loop = (async () => {
      while (this.running) {
        const ts = Date.now() / 1000;
        const events: object[] = [];
        for (let i = 0; i < 4; i++) {
          const base = { ts, node: this.node, request_id: `${this.node}-${process.pid}-${++sequence}`, endpoint: '/v1/chat/completions', model: 'gpt-4', stream: false };
          events.push({ type: 'request.start', ...base });
          events.push({ type: 'request.end', ...base, ts: ts + 0.05, status: i % 2 === 0 ? 500 : 200, latency_ms: 50, ...(i % 2 === 0 ? { error: 'internal_error' } : {}) });
        }
        try {
          const res = await postEvents(this.ingestUrl(), events, {}, 2000);
          await res.body?.cancel();
          if (res.status === 202) this.accepted++;
          else this.refused++;
        } catch {
          this.refused++;
        }
        await sleep(this.periodMs);
      }
    })();
    return this;
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.loop;
  }
}

// ---------------------------------------------------------------- cluster

/** The settings every alert fault test runs with: quick ticks, a 3 s window (a stopped node's alert resolves ~3 s later). */
export const ALERT_ENV: Record<string, string> = { PULSE_TICK_MS: '250', PULSE_WINDOW_SECONDS: '3', LOG_LEVEL: 'info' };

/** redis-server (AOF) + ingest + aggregator ×2 + gateway, with PULSE_ALERT_RULES, one unique key prefix. */
export class AlertCluster {
  readonly aggregators: ServiceProcess[] = [];
  ingest!: ServiceProcess;
  gateway!: ServiceProcess;
  readonly keys: PulseKeys;
  readonly alertKeys: AlertKeys;
  private admin: Redis | null = null;

  private constructor(
    readonly redis: AofRedis,
    readonly prefix: string,
    private readonly baseEnv: Record<string, string>,
  ) {
    this.keys = pulseKeys(prefix);
    this.alertKeys = alertKeys(prefix);
  }

  static async start(rulesPath: string, env: Record<string, string> = {}): Promise<AlertCluster> {
    const redis = await AofRedis.start();
    const prefix = uniquePrefix('alertfaults');
    const cluster = new AlertCluster(redis, prefix, { REDIS_URL: redis.url, PULSE_KEY_PREFIX: prefix, PULSE_ALERT_RULES: rulesPath, ...ALERT_ENV, ...env });
    try {
      const [ingest] = await Promise.all([spawnService('ingest', cluster.baseEnv), cluster.startAggregator(), cluster.startAggregator()]);
      cluster.ingest = ingest;
      // A gateway is ready once a snapshot exists.
      cluster.gateway = await spawnService('gateway', cluster.baseEnv);
    } catch (err) {
      await cluster.stop();
      throw err;
    }
    return cluster;
  }

  async startAggregator(): Promise<ServiceProcess> {
    const p = await spawnService('aggregator', this.baseEnv);
    this.aggregators.push(p);
    return p;
  }

  running(): ServiceProcess[] {
    return this.aggregators.filter((a) => a.child.exitCode === null && a.child.signalCode === null);
  }

  /** The one running aggregator reporting `leader`. */
  async leader(timeoutMs = 8000): Promise<ServiceProcess> {
    return until(
      'exactly one leader aggregator',
      async () => {
        const among = this.running();
        const roles = await Promise.all(among.map((a) => roleOf(a)));
        const leaders = among.filter((_, i) => roles[i] === 'leader');
        return leaders.length === 1 ? leaders[0] : undefined;
      },
      timeoutMs,
    );
  }

  /** A plain client on the cluster's Redis (reconnects by itself after a restart). */
  redisClient(): Redis {
    this.admin ??= testClient(this.redis.url);
    return this.admin;
  }

  /** The BullMQ job of a notification, as stored: attempts made and started, the 429s waited out, its state's timestamps. */
  async job(id: string): Promise<{ attemptsMade: number; attemptsStarted: number; deferrals: number; finishedOn: number | null; failedReason: string | null } | null> {
    const hash = await this.redisClient().hgetall(`${this.alertKeys.bullPrefix}:${this.alertKeys.queueName}:${id}`);
    if (!hash.data) return null;
    return {
      attemptsMade: Number(hash.atm ?? 0),
      attemptsStarted: Number(hash.ats ?? 0),
      deferrals: Number((JSON.parse(hash.data) as { deferrals?: number }).deferrals ?? 0),
      finishedOn: hash.finishedOn ? Number(hash.finishedOn) : null,
      failedReason: hash.failedReason ?? null,
    };
  }

  /** Every notification job in BullMQ: id → its notification's status (firing/resolved) and labels. */
  async jobs(): Promise<Map<string, { status: string; labels: Record<string, string> }>> {
    const redis = this.redisClient();
    const base = `${this.alertKeys.bullPrefix}:${this.alertKeys.queueName}:`;
    const out = new Map<string, { status: string; labels: Record<string, string> }>();
    let cursor = '0';
    do {
      const [next, found] = await redis.scan(cursor, 'MATCH', `${base}*`, 'COUNT', 500);
      cursor = next;
      for (const key of found) {
        const id = key.slice(base.length);
        if (!/^[0-9a-f]{16}-[0-9a-f]{16}$/.test(id)) continue;
        const data = await redis.hget(key, 'data');
        if (!data) continue;
        const n = (JSON.parse(data) as { notification: { body: { status: string; alerts: [{ labels: Record<string, string> }] } } }).notification;
        out.set(id, { status: n.body.status, labels: n.body.alerts[0].labels });
      }
    } while (cursor !== '0');
    return out;
  }

  /** The gateway's GET /v1/alerts. */
  async alerts(): Promise<{ name: string; state: string; labels: Record<string, string> }[]> {
    const { status, body } = await getJson(`${this.gateway.url}/v1/alerts`, 2000);
    if (status !== 200) throw new Error(`GET /v1/alerts: ${status}`);
    return body.alerts;
  }

  /** The gateway's GET /v1/alerts/deliveries?state=failed. */
  async failedDeliveries(): Promise<{ id: string; receiver: string; lastError: string }[]> {
    const { status, body } = await getJson(`${this.gateway.url}/v1/alerts/deliveries?state=failed`, 2000);
    if (status !== 200) throw new Error(`GET /v1/alerts/deliveries: ${status}`);
    return body.deliveries;
  }

  logTail(lines = 25): string {
    return [this.ingest, ...this.aggregators, this.gateway]
      .filter((p): p is ServiceProcess => p !== undefined)
      .map((p) => `--- ${p.name} :${p.port} (pid ${p.child.pid}, exit ${p.child.exitCode ?? p.child.signalCode ?? 'running'})\n${p.output().trimEnd().split('\n').slice(-lines).join('\n')}`)
      .join('\n');
  }

  async stop(): Promise<void> {
    await killLeftovers();
    this.admin?.disconnect();
    await this.redis.stop();
  }
}

/**
 * One alert cluster for a test file: its receivers started first (their URLs
 * go into the rules file), then the cluster; log tails printed after a
 * failing test; everything stopped after the last one.
 */
export function alertClusterPerFile(names: readonly string[], use: (cluster: AlertCluster, cases: Record<string, AlertCase>) => void): void {
  let cluster: AlertCluster | undefined;
  const receivers: FaultReceiver[] = [];
  beforeAll(async () => {
    const cases: Record<string, AlertCase> = {};
    for (const name of names) {
      const receiver = await FaultReceiver.start();
      receivers.push(receiver);
      cases[name] = { name, receiver };
    }
    cluster = await AlertCluster.start(writeRules(Object.values(cases)));
    use(cluster, cases);
  }, 60_000);
  afterEach((ctx) => {
    if (ctx.task.result?.state === 'fail') console.log(cluster?.logTail());
  });
  afterAll(async () => {
    await cluster?.stop();
    await Promise.all(receivers.map((r) => r.close()));
  });
}

/** Waits until the alert of a case is in the gateway's list with this state (or, `null`, in none). */
export async function alertState(cluster: AlertCluster, c: AlertCase, state: 'pending' | 'firing' | null, timeoutMs: number): Promise<void> {
  await until(
    `NodeFailing_${c.name} ${state ?? 'gone'} in GET /v1/alerts`,
    async () => {
      const mine = (await cluster.alerts()).filter((a) => a.name === `NodeFailing_${c.name}`);
      return state === null ? mine.length === 0 : mine.some((a) => a.state === state);
    },
    timeoutMs,
    100,
  );
}

export const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
