/**
 * A real Prometheus for tests (issue 15, item 5): Debian's `prometheus`
 * binary started as a child process on a free 127.0.0.1 port, with a
 * generated prometheus.yml and its TSDB in a temporary directory, queried
 * through its own HTTP API (/api/v1/query, /api/v1/query_range,
 * /api/v1/targets); and `promtool check metrics` over an exposition.
 *
 * Every Prometheus started here is killed when the test worker exits, even
 * after a failed test that never reached its `stop()`.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './redis-server.js';

const PROMETHEUS = process.env.PULSE_TEST_PROMETHEUS ?? 'prometheus';
const PROMTOOL = process.env.PULSE_TEST_PROMTOOL ?? 'promtool';

function missing(binary: string): string | null {
  const probe = spawnSync(binary, ['--version'], { encoding: 'utf8' });
  if (probe.error) return `${binary} is not on PATH (Debian: apt-get install prometheus; \`bash .ci/run\` installs it)`;
  if (probe.status !== 0) return `\`${binary} --version\` failed: ${(probe.stderr || probe.stdout).trim().split('\n')[0]}`;
  return null;
}

/** Why a real Prometheus cannot be started here, or null when it can. */
export const prometheusMissing: string | null = missing(PROMETHEUS) ?? missing(PROMTOOL);

/** `prometheus --version`'s first line, for the test's log. */
export function prometheusVersion(): string {
  return spawnSync(PROMETHEUS, ['--version'], { encoding: 'utf8' }).stdout.split('\n')[0]!.trim();
}

/** `promtool check metrics` over `exposition` (given on stdin, as the tool reads it): exit status and what it printed. */
export function promtoolCheckMetrics(exposition: string): { status: number | null; output: string } {
  const r = spawnSync(PROMTOOL, ['check', 'metrics'], { input: exposition, encoding: 'utf8', timeout: 10_000 });
  return { status: r.status, output: `${r.stdout ?? ''}${r.stderr ?? ''}`.trim() };
}

/** One sample of an instant vector: its labels and value. */
export interface VectorSample {
  metric: Record<string, string>;
  value: number;
}

/** One series of a range query: its labels and [unix seconds, value] points. */
export interface MatrixSeries {
  metric: Record<string, string>;
  values: [number, number][];
}

export interface PrometheusOptions {
  /** host:port of each target, one per gateway (never a load balancer: docs/MONITORING.md). */
  targets: string[];
  metricsPath: string;
  /** Prometheus duration, e.g. '1s'. Also the scrape timeout. */
  scrapeInterval: string;
  jobName?: string;
}

const running = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of running) {
    try {
      child.kill('SIGKILL');
    } catch {
      // already gone
    }
  }
});

export class TestPrometheus {
  private out = '';

  private constructor(
    readonly url: string,
    readonly dir: string,
    private readonly child: ChildProcess,
    private readonly exited: Promise<number | null>,
  ) {
    child.stdout!.on('data', (d: Buffer) => (this.out = (this.out + d.toString()).slice(-20_000)));
    child.stderr!.on('data', (d: Buffer) => (this.out = (this.out + d.toString()).slice(-20_000)));
  }

  /** Writes the config, starts Prometheus and waits for /-/ready. */
  static async start(opts: PrometheusOptions, timeoutMs = 20_000): Promise<TestPrometheus> {
    const dir = mkdtempSync(join(tmpdir(), 'pulse-prometheus-'));
    const config = join(dir, 'prometheus.yml');
    // JSON is YAML: no YAML library needed for a file this small.
    const yml = {
      global: { scrape_interval: opts.scrapeInterval, scrape_timeout: opts.scrapeInterval, evaluation_interval: opts.scrapeInterval },
      scrape_configs: [{ job_name: opts.jobName ?? 'pulse', metrics_path: opts.metricsPath, static_configs: [{ targets: opts.targets }] }],
    };
    writeFileSync(config, JSON.stringify(yml, null, 2));
    const port = await freePort();
    const child = spawn(
      PROMETHEUS,
      [
        `--config.file=${config}`,
        `--storage.tsdb.path=${join(dir, 'data')}`,
        `--web.listen-address=127.0.0.1:${port}`,
        '--log.level=warn',
      ],
      { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    running.add(child);
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => (running.delete(child), resolve(code))));
    const prom = new TestPrometheus(`http://127.0.0.1:${port}`, dir, child, exited);
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (child.exitCode !== null) throw new Error(`prometheus exited with ${child.exitCode}:\n${prom.output()}`);
      try {
        if ((await fetch(`${prom.url}/-/ready`, { signal: AbortSignal.timeout(1000) })).status === 200) return prom;
      } catch {
        // not listening yet
      }
      if (Date.now() > deadline) {
        await prom.stop();
        throw new Error(`prometheus not ready after ${timeoutMs} ms:\n${prom.output()}`);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  output(): string {
    return this.out;
  }

  private async api(path: string, params: Record<string, string>): Promise<any> {
    const res = await fetch(`${this.url}${path}?${new URLSearchParams(params)}`, { signal: AbortSignal.timeout(5000) });
    const body = (await res.json()) as { status: string; data?: any; error?: string; errorType?: string };
    if (body.status !== 'success') throw new Error(`${path} ${JSON.stringify(params)}: ${body.errorType}: ${body.error}`);
    return body.data;
  }

  /** An instant query (at `time`, unix seconds, or now): the vector's samples. */
  async query(expr: string, time?: number): Promise<VectorSample[]> {
    const data = await this.api('/api/v1/query', { query: expr, ...(time === undefined ? {} : { time: String(time) }) });
    if (data.resultType === 'scalar') return [{ metric: {}, value: Number(data.result[1]) }];
    if (data.resultType !== 'vector') throw new Error(`${expr}: a ${data.resultType}, not a vector`);
    return (data.result as { metric: Record<string, string>; value: [number, string] }[]).map((r) => ({ metric: r.metric, value: Number(r.value[1]) }));
  }

  /** The one value of an instant query that yields a single sample (throws otherwise). */
  async scalar(expr: string, time?: number): Promise<number> {
    const v = await this.query(expr, time);
    if (v.length !== 1) throw new Error(`${expr}: ${v.length} samples, expected one: ${JSON.stringify(v)}`);
    return v[0]!.value;
  }

  /** A range query over [start, end] (unix seconds) every `stepSeconds`. */
  async queryRange(expr: string, start: number, end: number, stepSeconds: number): Promise<MatrixSeries[]> {
    const data = await this.api('/api/v1/query_range', { query: expr, start: String(start), end: String(end), step: String(stepSeconds) });
    return (data.result as { metric: Record<string, string>; values: [number, string][] }[]).map((r) => ({
      metric: r.metric,
      values: r.values.map(([t, v]) => [t, Number(v)] as [number, number]),
    }));
  }

  /** The active targets: scrape URL, health and last error. */
  async targets(): Promise<{ scrapeUrl: string; health: string; lastError: string; lastScrape: string }[]> {
    const data = await this.api('/api/v1/targets', { state: 'active' });
    return data.activeTargets as { scrapeUrl: string; health: string; lastError: string; lastScrape: string }[];
  }

  /** SIGTERM (then SIGKILL after 5 s), and removes its directory. */
  async stop(): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) {
      this.child.kill('SIGTERM');
      const timer = setTimeout(() => this.child.kill('SIGKILL'), 5000);
      await this.exited;
      clearTimeout(timer);
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}
