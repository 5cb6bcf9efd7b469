/**
 * Alert detection latency and webhook throughput (issue 14, item 1 and the
 * bench of item 5), on the split services as real processes: a fresh
 * redis-server, ingest, one aggregator (the evaluator and a BullMQ delivery
 * worker) with PULSE_ALERT_RULES, and a real HTTP webhook receiver in this
 * process. No gateway: it has no part in evaluating or delivering.
 *
 * Detection: 100 rules `requests_per_sec > 2·i` (i = 1…100), `for: 1s`,
 * grouped by node, while the traffic of three nodes (shares 1:2:3) ramps
 * linearly through ingest, so each tick a few groups cross a threshold —
 * some 300 alerts fire over the ramp, a handful per snapshot. For each firing
 * notification: its arrival at the receiver − its alert's `startsAt` (the
 * time of the snapshot on which it fired, i.e. that crossed once `for` had
 * passed). Target: p99 ≤ 1 s. Each notification's BullMQ job also tells
 * where the time went: snapshot → job added (evaluation, the fenced commit,
 * the outbox handover), added → taken by the worker, taken → at the receiver.
 *
 * Throughput: 2,000 notifications enqueued at once into the same queue (as a
 * gateway's queue handle does, `worker: false`) and delivered by the
 * aggregator's worker, as configured (concurrency 4), to a receiver that
 * answers 200 at once: notifications per second from the first enqueue to
 * the last arrival.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { alertKeys, BullmqNotificationQueue, parseAlertRules, type AlertKeys, type Notification } from '@pulse/alerts';
import { sleep } from './lib/ports.js';
import { BenchRedis } from './lib/redis-server.js';
import { ServiceProcess } from './lib/services.js';
import { percentile, round, type Quantiles } from './timing.js';

const PREFIX = 'bench-alerts';
/** The default tick: the target is for Pulse as it ships. */
const TICK_MS = 500;
const RULES = 100;
/** Rule i fires above STEP·i requests/s of one node. */
const STEP = 2;
const NODES = [
  { node: 'ramp-a', share: 1 / 6 },
  { node: 'ramp-b', share: 2 / 6 },
  { node: 'ramp-c', share: 3 / 6 },
];
/** Requests/s of all nodes together at the end of the ramp: the slowest node's windowed rate passes the top threshold. */
const PEAK_REQUESTS_PER_SEC = 1400;
const RAMP_MS = 30_000;
const POST_EVERY_MS = 100;
const WINDOW_SECONDS = 5;
const THROUGHPUT_NOTIFICATIONS = 2000;

export interface AlertLatencyResult {
  tickMs: number;
  rules: number;
  nodes: number;
  windowSeconds: number;
  /** Firing notifications received (one per alert that fired). */
  fired: number;
  /** Receipt − startsAt (the firing snapshot's time), ms. */
  detectionMs: Quantiles;
  /** Where it went, p50 / p99 each (ms): snapshot → job added, added → taken by the worker, taken → received. */
  stagesMs: { toQueue: Quantiles; toWorker: Quantiles; toReceiver: Quantiles };
  /** Most alerts that fired on one snapshot. */
  maxPerSnapshot: number;
  throughput: { notifications: number; enqueueMs: number; deliveredMs: number; perSec: number; workerConcurrency: number };
}

// ---------------------------------------------------------------- the receiver

interface Arrival {
  key: string;
  status: string;
  startsAt: number;
  at: number;
}

/** A webhook receiver on 127.0.0.1: answers 200 at once and notes when each request's body arrived. */
class Hook {
  readonly arrivals: Arrival[] = [];
  private constructor(private readonly server: http.Server) {}

  static async start(): Promise<Hook> {
    let hook: Hook | null = null;
    const server = http.createServer((req, res) => {
      let body = '';
      req.on('data', (d: Buffer) => (body += d.toString()));
      req.on('end', () => {
        const at = Date.now();
        res.writeHead(200).end();
        hook?.record(String(req.headers['idempotency-key'] ?? ''), body, at);
      });
    });
    hook = new Hook(server);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return hook;
  }

  url(path: string): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}${path}`;
  }

  close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }

  private record(key: string, text: string, at: number): void {
    const body = JSON.parse(text) as { status: string; alerts: [{ startsAt: string }] };
    this.arrivals.push({ key, status: body.status, startsAt: Date.parse(body.alerts[0].startsAt), at });
  }
}

// ---------------------------------------------------------------- rules and traffic

/** Receivers `ramp` (the detection phase; no resolutions) and `sink` (the throughput phase). */
function rulesYaml(hook: Hook): string {
  const lines = [
    'receivers:',
    `  - {name: ramp, url: "${hook.url('/ramp')}", send_resolved: false, repeat_interval: 1h}`,
    `  - {name: sink, url: "${hook.url('/sink')}", send_resolved: false}`,
    'rules:',
  ];
  for (let i = 1; i <= RULES; i++) {
    lines.push(`  - {name: Ramp_${i}, figure: requests_per_sec, op: ">", value: ${STEP * i}, for: 1s, group_by: [node], receivers: [ramp]}`);
  }
  return lines.join('\n') + '\n';
}

let requestSeq = 0;

/** One batch of finished requests from one node, timestamped now. */
function requests(node: string, count: number): object[] {
  const ts = Date.now() / 1000;
  const events: object[] = [];
  for (let i = 0; i < count; i++) {
    const base = { ts, node, request_id: `${node}-${++requestSeq}`, endpoint: '/v1/chat/completions', model: 'gpt-4o', stream: false };
    events.push({ type: 'request.start', ...base }, { type: 'request.end', ...base, status: 200, latency_ms: 40 });
  }
  return events;
}

/** Posts every node's share of a rate rising linearly from 0 to PEAK over RAMP_MS; fractions carry over between posts. */
async function ramp(ingestUrl: string): Promise<void> {
  const owed = NODES.map(() => 0);
  const t0 = Date.now();
  for (let now = t0; now - t0 < RAMP_MS; now = Date.now()) {
    const rate = (PEAK_REQUESTS_PER_SEC * (now - t0)) / RAMP_MS;
    const posts = NODES.map(({ node, share }, j) => {
      owed[j]! += (rate * share * POST_EVERY_MS) / 1000;
      const count = Math.floor(owed[j]!);
      owed[j]! -= count;
      return count > 0 ? post(ingestUrl, requests(node, count)) : Promise.resolve();
    });
    await Promise.all([...posts, sleep(POST_EVERY_MS)]);
  }
}

async function post(ingestUrl: string, events: object[]): Promise<void> {
  const res = await fetch(`${ingestUrl}/v1/events`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ events }) });
  await res.body?.cancel();
  if (res.status !== 202) throw new Error(`ingest answered ${res.status}`);
}

// ---------------------------------------------------------------- figures

function quantiles(values: number[]): Quantiles {
  const sorted = [...values].sort((a, b) => a - b);
  const q = (p: number) => round(percentile(sorted, p), 0);
  return { p50: q(0.5), p90: q(0.9), p99: q(0.99), max: round(sorted[sorted.length - 1] ?? NaN, 0) };
}

/** When BullMQ added each job and when a worker took it (ms), from the job hashes. */
async function jobTimes(redis: Redis, keys: AlertKeys, ids: string[]): Promise<Map<string, { added: number; taken: number }>> {
  const pipeline = redis.pipeline();
  for (const id of ids) pipeline.hmget(`${keys.bullPrefix}:${keys.queueName}:${id}`, 'timestamp', 'processedOn');
  const replies = (await pipeline.exec()) ?? [];
  const out = new Map<string, { added: number; taken: number }>();
  replies.forEach(([, fields], i) => {
    const [added, taken] = fields as [string | null, string | null];
    if (added && taken) out.set(ids[i]!, { added: Number(added), taken: Number(taken) });
  });
  return out;
}

/** Waits until no firing notification arrived for `quietMs`. */
async function settle(hook: Hook, quietMs: number): Promise<void> {
  let seen = -1;
  while (seen !== hook.arrivals.length) {
    seen = hook.arrivals.length;
    await sleep(quietMs);
  }
}

// ---------------------------------------------------------------- phases

async function detection(hook: Hook, ingest: ServiceProcess, redis: Redis, keys: AlertKeys, log: (line: string) => void) {
  log(`alert-latency: ${RULES} rules × ${NODES.length} nodes, ramping to ${PEAK_REQUESTS_PER_SEC} requests/s over ${RAMP_MS / 1000} s`);
  await ramp(ingest.url);
  await settle(hook, 2000);
  const firing = hook.arrivals.filter((a) => a.status === 'firing');
  const times = await jobTimes(redis, keys, firing.map((a) => a.key));
  const staged = firing.flatMap((a) => {
    const t = times.get(a.key);
    return t ? [{ toQueue: t.added - a.startsAt, toWorker: t.taken - t.added, toReceiver: a.at - t.taken }] : [];
  });
  const perSnapshot = new Map<number, number>();
  for (const a of firing) perSnapshot.set(a.startsAt, (perSnapshot.get(a.startsAt) ?? 0) + 1);
  return {
    fired: firing.length,
    detectionMs: quantiles(firing.map((a) => a.at - a.startsAt)),
    stagesMs: {
      toQueue: quantiles(staged.map((s) => s.toQueue)),
      toWorker: quantiles(staged.map((s) => s.toWorker)),
      toReceiver: quantiles(staged.map((s) => s.toReceiver)),
    },
    maxPerSnapshot: Math.max(0, ...perSnapshot.values()),
  };
}

/** A firing notification to the `sink` receiver, as the evaluator would build it. */
function sinkNotification(i: number): Notification {
  const labels = { alertname: 'Sink', n: String(i) };
  const startsAt = new Date().toISOString();
  return {
    id: `bench-sink-${i}`,
    receiver: 'sink',
    createdAtMs: Date.now(),
    body: {
      version: '4',
      groupKey: `{}:{alertname="Sink",n="${i}"}`,
      truncatedAlerts: 0,
      status: 'firing',
      receiver: 'sink',
      groupLabels: labels,
      commonLabels: labels,
      commonAnnotations: { value: '1' },
      externalURL: '',
      alerts: [{ status: 'firing', labels, annotations: { value: '1' }, startsAt, endsAt: '0001-01-01T00:00:00Z', generatorURL: '', fingerprint: `sink${i}` }],
    },
  };
}

async function throughput(hook: Hook, redisUrl: string, keys: AlertKeys, rules: string, log: (line: string) => void) {
  const connection = new Redis(redisUrl, { maxRetriesPerRequest: null });
  const queue = new BullmqNotificationQueue({ connection, keys, receivers: parseAlertRules(rules, 'yaml').receivers, worker: false });
  try {
    const before = hook.arrivals.length;
    const t0 = Date.now();
    await Promise.all(Array.from({ length: THROUGHPUT_NOTIFICATIONS }, (_, i) => queue.enqueue(sinkNotification(i))));
    const enqueueMs = Date.now() - t0;
    const deadline = Date.now() + 60_000;
    while (hook.arrivals.length - before < THROUGHPUT_NOTIFICATIONS && Date.now() < deadline) await sleep(50);
    const got = hook.arrivals.length - before;
    const deliveredMs = Math.max(...hook.arrivals.slice(before).map((a) => a.at)) - t0;
    log(`alert-latency: ${got} notifications delivered in ${deliveredMs} ms (enqueued in ${enqueueMs} ms)`);
    if (got < THROUGHPUT_NOTIFICATIONS) throw new Error(`only ${got} of ${THROUGHPUT_NOTIFICATIONS} notifications arrived within 60 s`);
    return { notifications: got, enqueueMs, deliveredMs, perSec: round((got * 1000) / deliveredMs, 0), workerConcurrency: 4 };
  } finally {
    await queue.close();
    connection.disconnect();
  }
}

export async function benchAlertLatency(log: (line: string) => void): Promise<AlertLatencyResult> {
  const dir = mkdtempSync(join(tmpdir(), 'pulse-bench-alerts-'));
  const hook = await Hook.start();
  const rules = rulesYaml(hook);
  writeFileSync(join(dir, 'rules.yaml'), rules);
  const redisServer = await BenchRedis.start();
  const env = { REDIS_URL: redisServer.url, PULSE_KEY_PREFIX: PREFIX, PULSE_TICK_MS: String(TICK_MS), PULSE_WINDOW_SECONDS: String(WINDOW_SECONDS), PULSE_ALERT_RULES: join(dir, 'rules.yaml') };
  const services: ServiceProcess[] = [];
  const redis = new Redis(redisServer.url);
  const keys = alertKeys(PREFIX);
  try {
    const [ingest] = await Promise.all([ServiceProcess.start('ingest', env), ServiceProcess.start('aggregator', env)]).then((s) => (services.push(...s), s));
    const detected = await detection(hook, ingest!, redis, keys, log);
    log(`alert-latency: ${detected.fired} alerts fired; detection p50 ${detected.detectionMs.p50} p99 ${detected.detectionMs.p99} max ${detected.detectionMs.max} ms`);
    const delivered = await throughput(hook, redisServer.url, keys, rules, log);
    return { tickMs: TICK_MS, rules: RULES, nodes: NODES.length, windowSeconds: WINDOW_SECONDS, ...detected, throughput: delivered };
  } finally {
    redis.disconnect();
    await Promise.all(services.map((s) => s.stop()));
    await redisServer.stop();
    await hook.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
