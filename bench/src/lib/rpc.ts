/**
 * Request/response over a child process's IPC channel, both sides. Every
 * load generator and floor server is a separate process (so its CPU is its
 * own and it never steals the event loop of what it measures); the bench
 * drives them with named commands and gets one reply per command.
 *
 * Messages use the 'advanced' serialization, so typed arrays (histograms)
 * cross without copying through JSON.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { killOnExit } from './children.js';

interface Request {
  id: number;
  cmd: string;
  arg: unknown;
}

type Reply = { id: number; ok: true; value: unknown } | { id: number; ok: false; error: string };

export type Handlers = Record<string, (arg: never) => unknown>;

/** Worker side: answers each command with its handler's (awaited) result; reports 'ready' once listening. */
export function serve(handlers: Handlers): void {
  const send = process.send?.bind(process);
  if (!send) throw new Error('a bench worker must be started with an IPC channel (forked)');
  process.on('message', (raw: Request) => {
    const handler = handlers[raw.cmd];
    void (async () => {
      try {
        if (!handler) throw new Error(`unknown command ${raw.cmd}`);
        const value = await handler(raw.arg as never);
        send({ id: raw.id, ok: true, value } satisfies Reply);
      } catch (err) {
        send({ id: raw.id, ok: false, error: err instanceof Error ? (err.stack ?? err.message) : String(err) } satisfies Reply);
      }
    })();
  });
  // The parent going away (Ctrl-C, crash) must not leave load generators behind; a clean
  // exit on SIGTERM also lets --cpu-prof write its profile.
  process.on('disconnect', () => process.exit(0));
  process.on('SIGTERM', () => process.exit(0));
  send({ id: 0, ok: true, value: 'ready' } satisfies Reply);
}

/** Parent side: one forked worker script from bench/dist/workers. */
export class WorkerProcess {
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  private readonly exited: Promise<void>;

  private constructor(
    readonly name: string,
    readonly child: ChildProcess,
  ) {
    child.on('message', (reply: Reply) => {
      const p = this.pending.get(reply.id);
      if (!p) return;
      this.pending.delete(reply.id);
      if (reply.ok) p.resolve(reply.value);
      else p.reject(new Error(`${name}: ${reply.error}`));
    });
    this.exited = new Promise((resolve) =>
      child.once('exit', (code, signal) => {
        for (const p of this.pending.values()) p.reject(new Error(`${name} exited (${code ?? signal}) with a command pending`));
        this.pending.clear();
        resolve();
      }),
    );
  }

  get pid(): number {
    return this.child.pid!;
  }

  /**
   * Forks `bench/dist/workers/<script>.js` and waits for its 'ready'. With
   * BENCH_PROFILE=<dir> and the worker's name in BENCH_PROFILE_WORKERS (comma
   * separated), it writes a V8 CPU profile to <dir>/<name>/ when it exits.
   */
  static async start(name: string, script: string, execArgv: string[] = profileArgs(name)): Promise<WorkerProcess> {
    const path = fileURLToPath(new URL(`../workers/${script}.js`, import.meta.url));
    const child = fork(path, [], { serialization: 'advanced', stdio: ['ignore', 'inherit', 'inherit', 'ipc'], execArgv });
    killOnExit(child);
    const worker = new WorkerProcess(name, child);
    await new Promise<void>((resolve, reject) => {
      worker.pending.set(0, { resolve: () => resolve(), reject });
      child.once('error', reject);
    });
    return worker;
  }

  call<T>(cmd: string, arg?: unknown): Promise<T> {
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      this.child.send({ id, cmd, arg } satisfies Request);
    });
  }

  async stop(): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGTERM');
    await this.exited;
  }
}

function profileArgs(name: string): string[] {
  const dir = process.env.BENCH_PROFILE;
  const names = process.env.BENCH_PROFILE_WORKERS?.split(',') ?? [];
  return dir && names.includes(name) ? ['--cpu-prof', `--cpu-prof-dir=${dir}/${name}`] : [];
}
