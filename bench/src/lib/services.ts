/**
 * Pulse's services as real processes, started the way their start scripts
 * start them (`node services/<name>/dist/main.js`, configuration in the
 * environment), each on a free port and awaited on /readyz.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { killOnExit } from './children.js';
import { freePort, waitUntil } from './ports.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

export type ServiceName = 'ingest' | 'aggregator' | 'gateway';

/** Output kept for the error message of a service that dies. */
const TAIL_CHARS = 4000;

export interface ServiceOptions {
  /**
   * Opens the V8 inspector on a free 127.0.0.1 port (`inspectPort`), so the
   * heap can be read from outside (after a forced GC) without instrumenting the service.
   */
  inspect?: boolean;
  /** Every byte the service writes (stdout and stderr) is also written to this file, for reading after the run. */
  logFile?: string;
  /** The checkout whose build runs (default this one): fanout-builds.ts runs another's gateway beside this one's. */
  root?: string;
}

export class ServiceProcess {
  private tail = '';
  /** Resolves once the log file (if any) holds everything the process wrote: after it exited. */
  readonly logWritten: Promise<void>;

  private constructor(
    readonly name: ServiceName,
    readonly port: number,
    readonly child: ChildProcess,
    /** The V8 inspector's port, when started with `inspect`. */
    readonly inspectPort: number | null,
    logFile: string | undefined,
  ) {
    // BENCH_SERVICE_LOGS=1 passes every line on to the bench's stderr, for debugging a scenario.
    const echo = process.env.BENCH_SERVICE_LOGS === '1';
    const file = logFile === undefined ? null : createWriteStream(logFile, { flags: 'a' });
    // 'close', not 'exit': output may still arrive after the process exited, until its pipes close.
    if (file) child.once('close', () => file.end());
    this.logWritten = file ? new Promise<void>((resolve) => file.once('close', () => resolve())) : Promise.resolve();
    const keep = (chunk: Buffer) => {
      this.tail = (this.tail + chunk.toString()).slice(-TAIL_CHARS);
      file?.write(chunk);
      if (echo) process.stderr.write(chunk.toString().replace(/^(?=.)/gm, `[${name}] `));
    };
    child.stdout!.on('data', keep);
    child.stderr!.on('data', keep);
  }

  /**
   * `env` adds to (and overrides) the bench defaults: REDIS_URL must be in it.
   * From the bench's own environment: BENCH_PROFILE=<dir> makes each service
   * write a V8 CPU profile to <dir>/<name>/ when it exits (only those named in
   * BENCH_PROFILE_SERVICES, when set); BENCH_NODE_ARGS
   * adds node flags (e.g. `--heapsnapshot-signal=SIGUSR2`) to every service,
   * BENCH_NODE_ARGS_<NAME> (BENCH_NODE_ARGS_GATEWAY) to one. `execArgv`
   * undefined keeps those defaults when passing `options`.
   */
  static async start(
    name: ServiceName,
    env: Record<string, string>,
    execArgv: string[] = diagnosticArgs(name),
    options: ServiceOptions = {},
  ): Promise<ServiceProcess> {
    const port = await freePort();
    const inspectPort = options.inspect ? await freePort() : null;
    const inspectArgs = inspectPort === null ? [] : [`--inspect=127.0.0.1:${inspectPort}`];
    const child = spawn(process.execPath, [...execArgv, ...inspectArgs, `services/${name}/dist/main.js`], {
      cwd: options.root ?? ROOT,
      env: { PATH: process.env.PATH ?? '', HOST: '127.0.0.1', LOG_LEVEL: 'warn', ...env, PORT: String(port) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    killOnExit(child);
    const service = new ServiceProcess(name, port, child, inspectPort, options.logFile);
    try {
      await waitUntil(name, async () => child.exitCode !== null || (await fetch(`${service.url}/readyz`)).status === 200);
    } catch (err) {
      child.kill('SIGKILL');
      throw new Error(`${(err as Error).message}\n${service.tail}`, { cause: err });
    }
    if (child.exitCode !== null) throw new Error(`${name} exited with ${child.exitCode}:\n${service.tail}`);
    return service;
  }

  get pid(): number {
    return this.child.pid!;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  get output(): string {
    return this.tail;
  }

  /** SIGTERM (a drain), SIGKILL after `ms`. */
  async stop(ms = 10_000): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = new Promise((resolve) => this.child.once('exit', resolve));
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), ms);
    await exited;
    clearTimeout(timer);
  }
}

/** The node flags BENCH_PROFILE and BENCH_NODE_ARGS ask for (see `start`), for a process named `name`. */
export function diagnosticArgs(name: string): string[] {
  const dir = process.env.BENCH_PROFILE;
  // BENCH_PROFILE_SERVICES (comma separated) profiles only those: a profiler slows a busy aggregator
  // enough to lose its 1.5 s lease on two cores, and the gateway's profile is then of a stream of keyframes.
  const only = process.env.BENCH_PROFILE_SERVICES?.split(',');
  const profiled = dir !== undefined && (only === undefined || only.includes(name));
  // BENCH_NODE_ARGS_GATEWAY (and so on) are one service's alone: a flag an operator would give only it (DEPLOY.md, the gateway's young generation).
  const extra = [process.env.BENCH_NODE_ARGS, process.env[`BENCH_NODE_ARGS_${name.toUpperCase()}`]].flatMap((a) => a?.split(' ').filter(Boolean) ?? []);
  return [...(profiled ? ['--cpu-prof', `--cpu-prof-dir=${dir}/${name}`] : []), ...extra];
}
