/**
 * A `redis-server` child process on a free local port, for tests: no
 * persistence (unless asked, `appendOnly`), its own temp dir, and SIGKILL +
 * restart on the same port so fault tests can take Redis away and bring it
 * back under a client's feet.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants, mkdtempSync, rmSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';

const READY_TIMEOUT_MS = 10_000;
/** Output kept for error messages: the tail is where redis-server says why it died. */
const OUTPUT_TAIL_CHARS = 2000;

/** The absolute path of `redis-server` on PATH, or null. */
export function findRedisServerBinary(path = process.env.PATH ?? ''): string | null {
  for (const dir of path.split(delimiter)) {
    if (!dir) continue;
    const candidate = join(dir, 'redis-server');
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here; keep looking
    }
  }
  return null;
}

export interface RedisServerOptions {
  /**
   * Write every command to an append-only file before answering
   * (`--appendonly yes --appendfsync always`): a SIGKILL loses nothing it
   * acknowledged, and `restart()` (same port, same directory) loads it all
   * again. Default false: nothing persisted, a restart comes back empty.
   */
  readonly appendOnly?: boolean;
}

export class RedisServerProcess {
  private child: ChildProcess | null = null;
  private output = '';
  private readonly killOnExit = () => this.child?.kill('SIGKILL');

  private constructor(
    private readonly binary: string,
    readonly port: number,
    private readonly dir: string,
    private readonly options: RedisServerOptions = {},
  ) {}

  /** Starts one on a free port. Retries with another port if that one was taken meanwhile. */
  static async start(binary: string, options: RedisServerOptions = {}): Promise<RedisServerProcess> {
    const dir = mkdtempSync(join(tmpdir(), 'pulse-redis-'));
    let lastError: unknown;
    for (let attempt = 0; attempt < 3; attempt++) {
      const server = new RedisServerProcess(binary, await freePort(), dir, options);
      try {
        await server.launch();
        return server;
      } catch (err) {
        lastError = err;
      }
    }
    rmSync(dir, { recursive: true, force: true });
    throw lastError;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  /** SIGKILL, as a crash would: no shutdown, no goodbye to clients. Resolves once it is gone. */
  async kill(): Promise<void> {
    const child = this.child;
    if (!child) return;
    this.child = null;
    process.off('exit', this.killOnExit);
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGKILL');
    await exited;
  }

  /** Starts it again on the same port: empty, or with its data when `appendOnly`. */
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
    const persistence = this.options.appendOnly ? ['--appendonly', 'yes', '--appendfsync', 'always'] : ['--appendonly', 'no'];
    const child = spawn(this.binary, ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', ...persistence, '--dir', this.dir], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child = child;
    // A test worker that dies must not leave servers behind.
    process.on('exit', this.killOnExit);
    const keep = (chunk: Buffer) => {
      this.output = (this.output + chunk.toString()).slice(-OUTPUT_TAIL_CHARS);
    };
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    let exited = false;
    child.once('exit', () => (exited = true));
    child.once('error', () => (exited = true));

    const deadline = Date.now() + READY_TIMEOUT_MS;
    while (Date.now() < deadline) {
      if (exited) break;
      if (await pingPort(this.port, 200)) return;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    await this.kill();
    const why = exited ? 'it exited' : `no answer within ${READY_TIMEOUT_MS} ms`;
    throw new Error(`redis-server on port ${this.port} did not answer PING (${why}):\n${this.output}`);
  }
}

/** A port nobody listens on right now. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** True when something on the port answers an inline PING with +PONG. */
export function pingPort(port: number, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ port, host: '127.0.0.1' });
    let reply = '';
    const done = (ok: boolean) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(ok);
    };
    const timer = setTimeout(() => done(false), timeoutMs);
    socket.on('connect', () => socket.write('PING\r\n'));
    socket.on('data', (chunk) => {
      reply += chunk.toString();
      if (reply.includes('\r\n')) done(reply.startsWith('+PONG'));
    });
    socket.on('error', () => done(false));
  });
}
