/**
 * The load side of the soak: the fault proxy in front of the ingest nodes,
 * the simulator posting through it, and the WebSocket client fleet split
 * between the gateways.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { killOnExit } from '../lib/children.js';
import { ClientFleet } from '../lib/client-fleet.js';
import type { NamedPid } from '../lib/proc-stats.js';
import { WorkerProcess } from '../lib/rpc.js';
import type { FaultProxyConfig, FaultProxyStats } from '../workers/fault-proxy.js';
import { clientFilters, simulatorEnv, type SoakConfig } from './config.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
/** The simulator drains and flushes within 9 s of SIGTERM; past this it is killed. */
const SIMULATOR_STOP_MS = 15_000;

export class SoakLoad {
  private simulator: ChildProcess | null = null;

  private constructor(
    private readonly cfg: SoakConfig,
    readonly proxy: WorkerProcess,
    readonly proxyUrl: string,
    readonly fleet: ClientFleet,
    readonly filters: Record<string, unknown>[],
  ) {}

  static async start(cfg: SoakConfig, ingestUrls: string[]): Promise<SoakLoad> {
    const proxy = await WorkerProcess.start('fault-proxy', 'fault-proxy');
    const { port } = await proxy.call<{ port: number }>('listen', { upstreams: ingestUrls, share: cfg.faultShare } satisfies FaultProxyConfig);
    const fleet = await ClientFleet.start(cfg.clients);
    return new SoakLoad(cfg, proxy, `http://127.0.0.1:${port}`, fleet, clientFilters(cfg));
  }

  /** Half the clients on each gateway (labelled by the gateway's name), then counting from now. */
  async connectClients(gateways: { name: string; port: number }[]): Promise<{ open: number; failed: number }> {
    let open = 0;
    let failed = 0;
    for (const [i, g] of gateways.entries()) {
      const count = Math.floor(this.cfg.clients / gateways.length) + (i < this.cfg.clients % gateways.length ? 1 : 0);
      const r = await this.fleet.connect(g.name, `ws://127.0.0.1:${g.port}/metrics/stream`, count, this.filters);
      open += r.open;
      failed += r.failed;
    }
    await this.fleet.begin();
    return { open, failed };
  }

  startSimulator(logDir: string): void {
    const out = openSync(join(logDir, 'simulator.log'), 'a');
    this.simulator = spawn(process.execPath, ['services/simulator/dist/main.js'], {
      cwd: ROOT,
      env: { PATH: process.env.PATH ?? '', LOG_LEVEL: 'info', ...simulatorEnv(this.cfg, this.proxyUrl) },
      stdio: ['ignore', out, out],
    });
    closeSync(out);
    killOnExit(this.simulator);
  }

  /** SIGTERM (the simulator drains and flushes its reporter), resolved with its exit code once it is gone. */
  async stopSimulator(): Promise<number | string | null> {
    const child = this.simulator;
    if (!child) return null;
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), SIMULATOR_STOP_MS);
      await exited;
      clearTimeout(timer);
    }
    return child.exitCode ?? child.signalCode;
  }

  proxyStats(): Promise<FaultProxyStats> {
    return this.proxy.call<FaultProxyStats>('stats');
  }

  /** The load generators, for their RSS. */
  pids(): NamedPid[] {
    const out: NamedPid[] = [{ name: 'fault-proxy', pid: this.proxy.pid }, ...this.fleet.pids()];
    if (this.simulator?.pid !== undefined && this.simulator.exitCode === null) out.unshift({ name: 'simulator', pid: this.simulator.pid });
    return out;
  }

  async stop(): Promise<void> {
    await this.stopSimulator();
    await this.fleet.disconnect().catch(() => undefined);
    await this.fleet.stop();
    await this.proxy.stop();
  }
}
