/**
 * What the alert fault tests share (issue 14, item 5): a cluster of real
 * processes (ingest, aggregator ×2, gateway) with PULSE_ALERT_RULES on a
 * redis-server that persists every write (AOF, `appendfsync always`) and can
 * be SIGKILLed and restarted with its data; webhook receivers on 127.0.0.1
 * that the test scripts to refuse connections, answer 503 or 429, or hang;
 * a failing node's traffic that makes an alert fire and, once stopped,
 * resolve; and the figures each test prints (duplicates, delays, the order
 * of a firing notification and its resolution).
 *
 * The processes and the redis-server are support.ts's Cluster (and its
 * leftover-killing); this file adds what is about alerts.
 */
import { mkdtempSync, readdirSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll } from 'vitest';
import { alertKeys, type AlertKeys } from '@pulse/alerts';
import { freePort } from '@pulse/test-support/redis-server';
import type { ServiceProcess } from '@pulse/test-support/processes';
import { Cluster, getJson, postEvents, sleep, until } from './support.js';

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

/** A notification's BullMQ job as stored. */
export interface StoredJob {
  attemptsMade: number;
  attemptsStarted: number;
  /** The 429s waited out. */
  deferrals: number;
  finishedOn: number | null;
  failedReason: string | null;
  /** What the worker returned: the receiver's status, or 0 for a firing notification dropped because its resolution was queued. */
  returnValue: number | null;
}

/** A notification job as the tests read it. */
export interface QueuedNotification {
  readonly status: string;
  readonly labels: Record<string, string>;
  /** A firing notification's: its episode's resolution (Notification.resolvedBy). */
  readonly resolvedBy?: string;
}

/**
 * support.ts's Cluster — persistent redis-server, ingest, aggregator ×2,
 * gateway — with PULSE_ALERT_RULES, and the alert questions asked of it.
 */
export class AlertCluster {
  readonly alertKeys: AlertKeys;

  private constructor(readonly base: Cluster) {
    this.alertKeys = alertKeys(base.prefix);
  }

  static async start(rulesPath: string, env: Record<string, string> = {}): Promise<AlertCluster> {
    const base = await Cluster.start({ ingest: 1, aggregators: 2, gateways: 1, persistentRedis: true, env: { PULSE_ALERT_RULES: rulesPath, ...ALERT_ENV, ...env } });
    return new AlertCluster(base);
  }

  get ingest(): ServiceProcess {
    return this.base.ingest[0]!;
  }

  get gateway(): ServiceProcess {
    return this.base.gateways[0]!;
  }

  get aggregators(): ServiceProcess[] {
    return this.base.aggregators;
  }

  get redis(): Cluster['redis'] {
    return this.base.redis;
  }

  startAggregator(): Promise<ServiceProcess> {
    return this.base.startAggregator();
  }

  running(): ServiceProcess[] {
    return this.base.runningAggregators();
  }

  leader(timeoutMs = 8000): Promise<ServiceProcess> {
    return this.base.leader(timeoutMs);
  }

  /** The BullMQ job of a notification, as stored. */
  async job(id: string): Promise<StoredJob | null> {
    const hash = await this.base.redisClient().hgetall(`${this.alertKeys.bullPrefix}:${this.alertKeys.queueName}:${id}`);
    if (!hash.data) return null;
    return {
      attemptsMade: Number(hash.atm ?? 0),
      attemptsStarted: Number(hash.ats ?? 0),
      deferrals: Number((JSON.parse(hash.data) as { deferrals?: number }).deferrals ?? 0),
      finishedOn: hash.finishedOn ? Number(hash.finishedOn) : null,
      failedReason: hash.failedReason ?? null,
      returnValue: hash.returnvalue ? Number(JSON.parse(hash.returnvalue)) : null,
    };
  }

  /** Every notification job in BullMQ: id → its notification's status (firing/resolved), labels, and (firing) its resolution's id. */
  async jobs(): Promise<Map<string, QueuedNotification>> {
    const redis = this.base.redisClient();
    const base = `${this.alertKeys.bullPrefix}:${this.alertKeys.queueName}:`;
    const out = new Map<string, QueuedNotification>();
    let cursor = '0';
    do {
      const [next, found] = await redis.scan(cursor, 'MATCH', `${base}*`, 'COUNT', 500);
      cursor = next;
      for (const key of found) {
        const id = key.slice(base.length);
        if (!/^[0-9a-f]{16}-[0-9a-f]{16}$/.test(id)) continue;
        const data = await redis.hget(key, 'data');
        if (!data) continue;
        const n = (JSON.parse(data) as { notification: { resolvedBy?: string; body: { status: string; alerts: [{ labels: Record<string, string> }] } } }).notification;
        out.set(id, { status: n.body.status, labels: n.body.alerts[0].labels, resolvedBy: n.resolvedBy });
      }
    } while (cursor !== '0');
    return out;
  }

  /** A case's firing and resolved jobs, once both were committed and handed to BullMQ. */
  async jobsOf(c: AlertCase, timeoutMs = 10_000): Promise<{ firing: string; resolved: string }> {
    return until(
      `the firing and resolved jobs of ${c.name}`,
      async () => {
        const mine = [...(await this.jobs())].filter(([, j]) => j.labels.fault === c.name);
        const firing = mine.find(([, j]) => j.status === 'firing')?.[0];
        const resolved = mine.find(([, j]) => j.status === 'resolved')?.[0];
        return mine.length === 2 && firing && resolved ? { firing, resolved } : undefined;
      },
      timeoutMs,
      200,
    );
  }

  /** The gateway's GET /v1/alerts. */
  async alerts(): Promise<{ name: string; state: string; labels: Record<string, string> }[]> {
    const { status, body } = await getJson(`${this.gateway.url}/v1/alerts`, 2000);
    if (status !== 200) throw new Error(`GET /v1/alerts: ${status}`);
    return body.alerts;
  }

  /** The gateway's GET /v1/alerts/deliveries?state=failed, for one case's receiver. */
  async failedDeliveries(c: AlertCase): Promise<{ id: string; receiver: string; lastError: string }[]> {
    const { status, body } = await getJson(`${this.gateway.url}/v1/alerts/deliveries?state=failed`, 2000);
    if (status !== 200) throw new Error(`GET /v1/alerts/deliveries: ${status}`);
    return (body.deliveries as { id: string; receiver: string; lastError: string }[]).filter((d) => d.receiver === `hook-${c.name}`);
  }

  logTail(lines = 25): string {
    return this.base.logTail(lines);
  }

  stop(): Promise<void> {
    return this.base.stop();
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

// ---------------------------------------------------------------- scripted episodes

/** Runs a case's failing node while `during` runs, and stops it however `during` ends; resolves with what `during` gave. */
export async function whileFailing<T>(cluster: AlertCluster, c: AlertCase, during: () => Promise<T>): Promise<T> {
  const node = new FailingNode(() => cluster.ingest.url, nodeOf(c)).start();
  try {
    return await during();
  } finally {
    await node.stop();
  }
}

/** One episode: the node fails until its alert fires and `holdMs` more, then stops (the alert resolves ~3 s later). */
export function fireThenStop(cluster: AlertCluster, c: AlertCase, holdMs = 1500): Promise<void> {
  return whileFailing(cluster, c, async () => {
    await alertState(cluster, c, 'firing', 20_000);
    await sleep(holdMs);
  });
}

/** The first delivery (2xx) of a key, if any. */
export const deliveredHit = (c: AlertCase, key: string): Hit | undefined => c.receiver.delivered().find((h) => h.key === key);

// ---------------------------------------------------------------- the delivery guarantee

/**
 * A case's notifications (its BullMQ jobs) and what its receiver got,
 * against the guarantee of docs/ALERTS.md (Delivery): each resolution is
 * delivered, and each firing notification whose resolution was queued is
 * either delivered before it or dropped (its job completed with 0: the
 * worker found the resolution queued) — never delivered after it, which
 * would reopen an alert that is over.
 */
export interface ResolutionOrder {
  /** Each breach of the guarantee, one line each; empty when it held. */
  readonly violations: string[];
  readonly firingBefore: number;
  readonly firingDropped: number;
  readonly text: string;
}

export async function resolutionOrder(cluster: AlertCluster, c: AlertCase): Promise<ResolutionOrder> {
  const hits = c.receiver.hits;
  // Arrival order at the receiver: the index of a key's first 2xx, or -1.
  const deliveredAt = (key: string) => hits.findIndex((h) => h.key === key && h.answered !== null && h.answered >= 200 && h.answered < 300);
  const mine = [...(await cluster.jobs())].filter(([, j]) => j.labels.fault === c.name);
  const violations: string[] = [];
  let firingBefore = 0;
  let firingDropped = 0;
  for (const [id, job] of mine) {
    if (job.status === 'resolved' && deliveredAt(id) < 0) violations.push(`resolution ${id} not delivered`);
    // A firing notification whose episode has not ended (no resolution queued) has nothing to be ordered against.
    if (job.status !== 'firing' || !job.resolvedBy || !mine.some(([other]) => other === job.resolvedBy)) continue;
    const firing = deliveredAt(id);
    const resolved = deliveredAt(job.resolvedBy);
    if (firing >= 0 && (resolved < 0 || firing < resolved)) firingBefore++;
    else if (firing >= 0) violations.push(`firing ${id} delivered after its resolution`);
    else if ((await cluster.job(id))?.returnValue === 0) firingDropped++;
    else violations.push(`firing ${id} neither delivered nor dropped`);
  }
  const text = `firing delivered before its resolution ${firingBefore}, dropped once its resolution was queued ${firingDropped}, violations ${violations.length ? violations.join('; ') : 0}`;
  return { violations, firingBefore, firingDropped, text };
}

/** A case's deliveries judged: duplicates, the order of firing and resolution, failed deliveries — with a line to print. */
export interface DeliveryReport {
  /** Every problem found; empty when delivery was as promised. */
  readonly problems: string[];
  readonly order: ResolutionOrder;
  readonly text: string;
}

/** Waits `settleMs` for anything late (a second delivery, a late firing), then judges what the case's receiver saw. */
export async function deliveryReport(cluster: AlertCluster, c: AlertCase, settleMs = 1500): Promise<DeliveryReport> {
  await sleep(settleMs);
  const dup = duplicates(c.receiver);
  const order = await resolutionOrder(cluster, c);
  const failed = await cluster.failedDeliveries(c);
  const problems = [
    ...(dup.redelivered > 0 ? [`${dup.redelivered} key(s) delivered (2xx) more than once`] : []),
    ...(dup.extraNotifications > 0 ? [`${dup.extraNotifications} extra notification(s) for one transition`] : []),
    ...order.violations,
    ...failed.map((f) => `failed delivery ${f.id}: ${f.lastError}`),
  ];
  return { problems, order, text: `${dup.text}; ${order.text}; delivered in the order ${deliveredOrder(c.receiver)}` };
}
