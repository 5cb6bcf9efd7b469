/**
 * Real Redis topologies for the fault suite (issue 16): a Sentinel set (one
 * primary, one replica, three sentinels) and a Redis Cluster (three primaries,
 * three replicas), every process a child on free 127.0.0.1 ports with its own
 * temp dir, no persistence. Each node can be SIGKILLed and started again on
 * its port, as a crash and a restart would; a restarted node comes back empty
 * and the topology makes it a replica of whoever was promoted meanwhile.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants, mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';
import { findRedisServerBinary, freePort, pingPort } from './redis-server.js';

const run = promisify(execFile);
const READY_TIMEOUT_MS = 10_000;

function onPath(name: string, path = process.env.PATH ?? ''): string | null {
  for (const dir of path.split(delimiter)) {
    if (!dir) continue;
    try {
      accessSync(join(dir, name), constants.X_OK);
      return join(dir, name);
    } catch {
      // not here
    }
  }
  return null;
}

/** Why the Sentinel tests cannot run here, or null when they can (redis-server, and redis-sentinel or a redis-server that runs `--sentinel`). */
export function sentinelUnavailable(): string | null {
  if (!findRedisServerBinary()) return 'redis-server is not on PATH (apt-get install redis-server redis-sentinel)';
  return null; // without Debian's redis-sentinel, `redis-server <conf> --sentinel` is the same binary in sentinel mode
}

/** How a sentinel is started: Debian's redis-sentinel when installed, else redis-server in sentinel mode. */
function sentinelCommand(conf: string): { binary: string; args: string[] } {
  const sentinel = onPath('redis-sentinel');
  return sentinel ? { binary: sentinel, args: [conf] } : { binary: findRedisServerBinary()!, args: [conf, '--sentinel'] };
}

/** Why the Cluster tests cannot run here, or null when they can (redis-server and redis-cli). */
export function clusterUnavailable(): string | null {
  if (!findRedisServerBinary()) return 'redis-server is not on PATH (apt-get install redis-server)';
  if (!onPath('redis-cli')) return 'redis-cli is not on PATH (apt-get install redis-tools)';
  return null;
}

/** One redis-server (data node or sentinel) on a fixed port, killable and restartable. */
export class RedisNodeProcess {
  private child: ChildProcess | null = null;
  private output = '';

  constructor(
    readonly port: number,
    private readonly args: string[],
    readonly dir: string,
    private readonly binary: string = findRedisServerBinary()!,
  ) {}

  get running(): boolean {
    return this.child !== null && this.child.exitCode === null && this.child.signalCode === null;
  }

  async start(): Promise<void> {
    mkdirSync(this.dir, { recursive: true });
    const child = spawn(this.binary, this.args, { stdio: ['ignore', 'pipe', 'pipe'], cwd: this.dir });
    this.child = child;
    process.on('exit', this.killOnExit);
    const keep = (chunk: Buffer) => (this.output = (this.output + chunk.toString()).slice(-3000));
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    const deadline = Date.now() + READY_TIMEOUT_MS;
    while (Date.now() < deadline && this.running) {
      if (await pingPort(this.port, 200)) return;
      await new Promise((r) => setTimeout(r, 20));
    }
    throw new Error(`redis on port ${this.port} did not answer PING:\n${this.output}`);
  }

  /** SIGKILL, as a crash. */
  async kill(): Promise<void> {
    const child = this.child;
    if (!child || !this.running) return;
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGKILL');
    await exited;
    process.off('exit', this.killOnExit);
  }

  /** SIGSTOP: alive to the kernel (its sockets still take data), deaf to everyone. `resume` undoes it. */
  pause(): void {
    if (this.running) this.child!.kill('SIGSTOP');
  }

  resume(): void {
    if (this.running) this.child!.kill('SIGCONT');
  }

  log(): string {
    return this.output;
  }

  private readonly killOnExit = () => {
    try {
      this.child?.kill('SIGCONT');
      this.child?.kill('SIGKILL');
    } catch {
      // gone
    }
  };
}

/** A temp dir for a test's nodes. */
export function nodesDir(name: string): string {
  return mkdtempSync(join(tmpdir(), `pulse-${name}-`));
}

/** `ask` of a short-lived client on `port`, disconnected whatever the answer. */
async function asking<T>(port: number, ask: (c: Redis) => Promise<T>): Promise<T> {
  const c = new Redis({ host: '127.0.0.1', port, lazyConnect: false, maxRetriesPerRequest: 1, retryStrategy: () => 200 });
  try {
    return await ask(c);
  } finally {
    c.disconnect();
  }
}

async function until<T>(what: string, probe: () => Promise<T | undefined | false>, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await probe();
      if (v !== undefined && v !== false) return v as T;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** A data node's arguments: no persistence, diskless replication without delay (a replica syncs in milliseconds). */
export const dataArgs = (port: number, dir: string) => ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir, '--repl-diskless-sync', 'yes', '--repl-diskless-sync-delay', '0'];

// ---------------------------------------------------------------- Sentinel

export const SENTINEL_MASTER = 'pulsemaster';

/** One primary, one replica (both with AOF), three sentinels (quorum 2), failover after 1 s of silence. */
export class SentinelSet {
  private constructor(
    readonly nodes: RedisNodeProcess[],
    readonly sentinels: RedisNodeProcess[],
    private readonly root: string,
  ) {}

  static async start(): Promise<SentinelSet> {
    const root = mkdtempSync(join(tmpdir(), 'pulse-sentinel-'));
    const [p0, p1, ...sp] = await distinctPorts(5);
    // With their append-only files, as deployed: a primary killed and restarted comes back with what it held
    // (a lease, an epoch, commits), and the sentinels must make it a replica whose resync discards it.
    const aof = ['--appendonly', 'yes', '--appendfsync', 'everysec'];
    const primary = new RedisNodeProcess(p0!, [...dataArgs(p0!, join(root, 'n0')), ...aof], join(root, 'n0'));
    const replica = new RedisNodeProcess(p1!, [...dataArgs(p1!, join(root, 'n1')), ...aof, '--replicaof', '127.0.0.1', String(p0)], join(root, 'n1'));
    const sentinels = sp.map((port, i) => {
      const dir = join(root, `s${i}`);
      mkdirSync(dir, { recursive: true });
      const conf = join(dir, 'sentinel.conf');
      writeFileSync(
        conf,
        [
          `port ${port}`,
          'bind 127.0.0.1',
          `dir ${dir}`,
          `sentinel monitor ${SENTINEL_MASTER} 127.0.0.1 ${p0} 2`,
          `sentinel down-after-milliseconds ${SENTINEL_MASTER} 1000`,
          `sentinel failover-timeout ${SENTINEL_MASTER} 5000`,
          `sentinel parallel-syncs ${SENTINEL_MASTER} 1`,
          '',
        ].join('\n'),
      );
      const { binary, args } = sentinelCommand(conf);
      return new RedisNodeProcess(port, args, dir, binary);
    });
    const set = new SentinelSet([primary, replica], sentinels, root);
    try {
      await primary.start();
      await replica.start();
      await set.untilReplicated();
      await Promise.all(sentinels.map((s) => s.start()));
      await set.untilSentinelsAgree(p0!);
    } catch (err) {
      await set.stop();
      throw err;
    }
    return set;
  }

  /** `redis+sentinel://127.0.0.1:s1,127.0.0.1:s2,127.0.0.1:s3/<master>` */
  get url(): string {
    return `redis+sentinel://${this.sentinels.map((s) => `127.0.0.1:${s.port}`).join(',')}/${SENTINEL_MASTER}`;
  }

  /** The data node the sentinels name primary now. */
  async primary(): Promise<RedisNodeProcess> {
    const port = await this.primaryPort();
    const node = this.nodes.find((n) => n.port === port);
    if (!node) throw new Error(`sentinels name an unknown primary :${port}`);
    return node;
  }

  async primaryPort(): Promise<number> {
    for (const s of this.sentinels.filter((x) => x.running)) {
      try {
        const [, port] = (await asking(s.port, (c) => c.call('SENTINEL', 'get-master-addr-by-name', SENTINEL_MASTER))) as [string, string];
        return Number(port);
      } catch {
        // next sentinel
      }
    }
    throw new Error('no sentinel answers');
  }

  /** Waits until the sentinels name another primary than `oldPort` and it accepts writes. */
  async untilPromoted(oldPort: number, timeoutMs = 20_000): Promise<number> {
    return until(
      'a promoted primary',
      async () => {
        const port = await this.primaryPort();
        if (port === oldPort) return undefined;
        const role = (await asking(port, (c) => c.call('ROLE'))) as [string];
        return role[0] === 'master' ? port : undefined;
      },
      timeoutMs,
    );
  }

  /** Waits until `port` is a replica with its link up (a restarted old primary, demoted). */
  async untilReplica(port: number, timeoutMs = 20_000): Promise<void> {
    let info = '';
    await until(
      `:${port} to be a connected replica`,
      async () => {
        info = await asking(port, (c) => c.info('replication'));
        return /role:slave/.test(info) && /master_link_status:up/.test(info);
      },
      timeoutMs,
    ).catch(async (err: Error) => {
      // What the node and the sentinels said last: a demotion that never came, or a sync that never finished.
      const views = await Promise.all(this.sentinels.map((s) => this.sentinelView(s.port)));
      throw new Error(`${err.message}\n:${port} INFO replication:\n${info}\nsentinels' replicas of ${SENTINEL_MASTER}:\n${views.join('\n')}`);
    });
  }

  private async sentinelView(port: number): Promise<string> {
    try {
      return `:${port} ${JSON.stringify(await asking(port, (c) => c.call('SENTINEL', 'REPLICAS', SENTINEL_MASTER)))}`;
    } catch (err) {
      return `:${port} ${String(err)}`;
    }
  }

  private async untilReplicated(): Promise<void> {
    await until('the replica to sync', async () => {
      return /master_link_status:up/.test(await asking(this.nodes[1]!.port, (c) => c.info('replication')));
    }, READY_TIMEOUT_MS);
  }

  private async untilSentinelsAgree(port: number): Promise<void> {
    await until('every sentinel to know the primary, the replica and the others', async () => {
      for (const s of this.sentinels) {
        const master = (await asking(s.port, (c) => c.call('SENTINEL', 'master', SENTINEL_MASTER))) as string[];
        const field = (name: string) => master[master.indexOf(name) + 1];
        if (Number(field('port')) !== port || Number(field('num-slaves')) < 1 || Number(field('num-other-sentinels')) < 2) return false;
      }
      return true;
    }, 20_000);
  }

  async stop(): Promise<void> {
    await Promise.all([...this.sentinels, ...this.nodes].map((n) => n.kill()));
    rmSync(this.root, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------- Cluster

/** Three primaries and three replicas, cluster-node-timeout 1 s, created by `redis-cli --cluster create`. */
export class RedisClusterSet {
  private constructor(
    readonly nodes: RedisNodeProcess[],
    private readonly root: string,
  ) {}

  static async start(): Promise<RedisClusterSet> {
    const root = mkdtempSync(join(tmpdir(), 'pulse-cluster-'));
    const ports = await distinctPorts(12);
    const nodes = Array.from({ length: 6 }, (_, i) => {
      const [port, bus] = [ports[i]!, ports[i + 6]!];
      const dir = join(root, `n${i}`);
      const args = [
        ...dataArgs(port, dir),
        '--cluster-enabled', 'yes',
        '--cluster-config-file', join(dir, 'nodes.conf'),
        '--cluster-port', String(bus),
        '--cluster-node-timeout', '1000',
        // A replica promotes however long it was cut off (the default refuses after 10 × node timeout).
        '--cluster-replica-validity-factor', '0',
      ];
      return new RedisNodeProcess(port, args, dir);
    });
    const set = new RedisClusterSet(nodes, root);
    try {
      await Promise.all(nodes.map((n) => n.start()));
      await run('redis-cli', ['--cluster', 'create', ...nodes.map((n) => `127.0.0.1:${n.port}`), '--cluster-replicas', '1', '--cluster-yes'], { timeout: 30_000 });
      await set.untilHealthy();
    } catch (err) {
      await set.stop();
      throw err;
    }
    return set;
  }

  /** `redis+cluster://127.0.0.1:p1,…` — every node, as a deployment would list its seeds. */
  get url(): string {
    return `redis+cluster://${this.nodes.map((n) => `127.0.0.1:${n.port}`).join(',')}`;
  }

  /** The node that is primary for `key`'s slot now, asked of any live node. */
  async primaryFor(key: string): Promise<RedisNodeProcess> {
    const live = this.nodes.find((n) => n.running)!;
    const [slot, ranges] = await asking(live.port, async (c) => [
      Number(await c.call('CLUSTER', 'KEYSLOT', key)),
      (await c.call('CLUSTER', 'SLOTS')) as [number, number, [string, number, ...unknown[]], ...unknown[]][],
    ] as const);
    const range = ranges.find(([from, to]) => slot >= from && slot <= to);
    const node = this.nodes.find((n) => n.port === Number(range?.[2][1]));
    if (!node) throw new Error(`no primary for slot ${slot}`);
    return node;
  }

  /** The node replicating `primary` now (its first replica, by its INFO replication). */
  async replicaOf(primary: RedisNodeProcess): Promise<RedisNodeProcess> {
    const info = await asking(primary.port, (c) => c.info('replication'));
    const port = Number(/^slave0:.*port=(\d+)/m.exec(info)?.[1]);
    const node = this.nodes.find((n) => n.port === port);
    if (!node) throw new Error(`:${primary.port} has no replica:\n${info}`);
    return node;
  }

  /** Closes `primary`'s replication links (CLIENT KILL TYPE replica): what it writes next reaches no replica until one reconnects. */
  async cutReplicas(primary: RedisNodeProcess): Promise<void> {
    await asking(primary.port, (c) => c.call('CLIENT', 'KILL', 'TYPE', 'replica'));
  }

  /** Waits until `key`'s slot has a primary other than `old` that accepts it, and the cluster says ok. */
  async untilPromoted(key: string, old: RedisNodeProcess, timeoutMs = 20_000): Promise<RedisNodeProcess> {
    return until(
      'a promoted replica',
      async () => {
        const node = await this.primaryFor(key);
        return node !== old && (await this.stateOk(node.port)) ? node : undefined;
      },
      timeoutMs,
    );
  }

  async untilHealthy(timeoutMs = 20_000): Promise<void> {
    await until('cluster_state:ok on every live node', async () => {
      for (const n of this.nodes.filter((x) => x.running)) if (!(await this.stateOk(n.port))) return false;
      return true;
    }, timeoutMs);
  }

  private async stateOk(port: number): Promise<boolean> {
    return /cluster_state:ok/.test((await asking(port, (c) => c.call('CLUSTER', 'INFO'))) as string);
  }

  async stop(): Promise<void> {
    await Promise.all(this.nodes.map((n) => n.kill()));
    rmSync(this.root, { recursive: true, force: true });
  }
}

/** `n` different free ports (freePort may hand the same one out twice in a row). */
export async function distinctPorts(n: number): Promise<number[]> {
  const ports = new Set<number>();
  while (ports.size < n) ports.add(await freePort());
  return [...ports];
}

// ---------------------------------------------------------------- per test file

export type TopologyName = 'sentinel' | 'cluster';

/**
 * The topologies a contract suite runs its Redis backend on besides a single
 * server: both when redis-server and redis-cli are here, else none (the suite
 * says so once). Each is started on first use by the file and stopped by
 * `stopTopologies()`.
 */
export const TOPOLOGIES: TopologyName[] = sentinelUnavailable() === null && clusterUnavailable() === null ? ['sentinel', 'cluster'] : [];
if (TOPOLOGIES.length === 0) console.warn(`[topologies] contract suites run on a single Redis only: ${clusterUnavailable() ?? sentinelUnavailable()}`);

const perFile = new Map<TopologyName, Promise<SentinelSet | RedisClusterSet>>();

/** The REDIS_URL of this file's Sentinel set or Cluster, started on the first call. */
export async function topologyUrl(name: TopologyName): Promise<string> {
  let started = perFile.get(name);
  if (!started) {
    started = name === 'sentinel' ? SentinelSet.start() : RedisClusterSet.start();
    perFile.set(name, started);
  }
  return (await started).url;
}

export async function stopTopologies(): Promise<void> {
  const all = [...perFile.values()];
  perFile.clear();
  await Promise.all(all.map(async (p) => (await p.catch(() => null))?.stop()));
}
