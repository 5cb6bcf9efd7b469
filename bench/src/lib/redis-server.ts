/**
 * The bench's own `redis-server`, a child process on a free port: no
 * persistence (nothing the bench writes is worth a disk write, and fsync
 * would measure the disk), its own temp dir, killed with the bench.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { killOnExit } from './children.js';
import { freePort, pingRedis, waitUntil } from './ports.js';

export class BenchRedis {
  private constructor(
    private readonly child: ChildProcess,
    readonly port: number,
    private readonly dir: string,
  ) {}

  static async start(binary = 'redis-server'): Promise<BenchRedis> {
    const dir = mkdtempSync(join(tmpdir(), 'pulse-bench-redis-'));
    const port = await freePort();
    const child = spawn(binary, ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir], {
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    child.once('error', (err) => console.error(`redis-server: ${err.message} (is redis-server on PATH?)`));
    killOnExit(child);
    await waitUntil('redis-server', () => pingRedis(port));
    return new BenchRedis(child, port, dir);
  }

  get pid(): number {
    return this.child.pid!;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  async stop(): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) {
      const exited = new Promise((resolve) => this.child.once('exit', resolve));
      this.child.kill('SIGKILL');
      await exited;
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}
