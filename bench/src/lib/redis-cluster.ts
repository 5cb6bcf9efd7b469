/**
 * The bench's own Redis Cluster: three primaries and three replicas, made the
 * way the fault tests make theirs (test/support/redis-topologies.ts,
 * RedisClusterSet, which the bench cannot import: test support is TypeScript
 * sources for vitest, never built): six `redis-server --cluster-enabled yes`
 * children on free 127.0.0.1 ports, cluster-node-timeout 1 s, joined by
 * `redis-cli --cluster create --cluster-replicas 1`. No persistence, like
 * BenchRedis; killed with the bench.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { killOnExit } from './children.js';
import { freePort, pingRedis, waitUntil } from './ports.js';

const run = promisify(execFile);

export interface ClusterNode {
  port: number;
  pid: number;
  role: 'primary' | 'replica';
}

/** `redis-cli -p <port> <args…>`, its reply as text. */
export async function redisCli(port: number, ...args: string[]): Promise<string> {
  const { stdout } = await run('redis-cli', ['-h', '127.0.0.1', '-p', String(port), ...args], { timeout: 5000 });
  return stdout;
}

export class BenchRedisCluster {
  private constructor(
    private readonly children: ChildProcess[],
    readonly ports: number[],
    private readonly dir: string,
    /** Each node with its role once the cluster was made. */
    readonly nodes: ClusterNode[],
  ) {}

  static async start(binary = 'redis-server'): Promise<BenchRedisCluster> {
    const dir = mkdtempSync(join(tmpdir(), 'pulse-bench-cluster-'));
    const ports = new Set<number>();
    while (ports.size < 12) ports.add(await freePort());
    const [data, bus] = [[...ports].slice(0, 6), [...ports].slice(6)];
    const children = data.map((port, i) => {
      const nodeDir = join(dir, `n${i}`);
      mkdirSync(nodeDir, { recursive: true });
      const child = spawn(
        binary,
        [
          '--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', nodeDir,
          '--repl-diskless-sync', 'yes', '--repl-diskless-sync-delay', '0',
          '--cluster-enabled', 'yes', '--cluster-config-file', join(nodeDir, 'nodes.conf'),
          '--cluster-port', String(bus[i]), '--cluster-node-timeout', '1000',
        ],
        { stdio: ['ignore', 'ignore', 'inherit'], cwd: nodeDir },
      );
      child.once('error', (err) => console.error(`redis-server: ${err.message} (is redis-server on PATH?)`));
      killOnExit(child);
      return child;
    });
    const stopAll = async () => {
      await Promise.all(children.map((c) => kill(c)));
      rmSync(dir, { recursive: true, force: true });
    };
    try {
      await Promise.all(data.map((port) => waitUntil(`redis-server :${port}`, () => pingRedis(port))));
      await run('redis-cli', ['--cluster', 'create', ...data.map((p) => `127.0.0.1:${p}`), '--cluster-replicas', '1', '--cluster-yes'], { timeout: 30_000 });
      for (const port of data) {
        await waitUntil(`cluster_state:ok on :${port}`, async () => /cluster_state:ok/.test(await redisCli(port, 'cluster', 'info')), 20_000, 100);
      }
      const nodes: ClusterNode[] = [];
      for (const [i, port] of data.entries()) {
        const info = await redisCli(port, 'info', 'replication');
        const role = /role:master/.test(info) ? 'primary' : 'replica';
        if (role === 'replica') {
          await waitUntil(`replica :${port} in sync`, async () => /master_link_status:up/.test(await redisCli(port, 'info', 'replication')), 20_000, 100);
        }
        nodes.push({ port, pid: children[i]!.pid!, role });
      }
      return new BenchRedisCluster(children, data, dir, nodes);
    } catch (err) {
      await stopAll();
      throw err;
    }
  }

  /** `redis+cluster://127.0.0.1:p1,…`: every node as a seed. */
  get url(): string {
    return `redis+cluster://${this.ports.map((p) => `127.0.0.1:${p}`).join(',')}`;
  }

  /** The port of the primary that serves `key`'s slot. */
  async primaryFor(key: string): Promise<number> {
    const port = this.ports[0]!;
    const slot = Number((await redisCli(port, 'cluster', 'keyslot', key)).trim());
    const nodes = await redisCli(port, 'cluster', 'nodes');
    for (const line of nodes.split('\n')) {
      const f = line.split(' ');
      if (!f[2]?.includes('master')) continue;
      for (const range of f.slice(8)) {
        const [from, to] = range.split('-').map(Number);
        if (slot >= from! && slot <= (to ?? from)!) return Number(/:(\d+)@/.exec(f[1]!)![1]);
      }
    }
    throw new Error(`no primary serves slot ${slot}`);
  }

  async stop(): Promise<void> {
    await Promise.all(this.children.map((c) => kill(c)));
    rmSync(this.dir, { recursive: true, force: true });
  }
}

async function kill(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGKILL');
  await exited;
}
