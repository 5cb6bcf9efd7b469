/**
 * `npm run demo`: Pulse all-in-one (`npm start`'s process) plus the
 * simulator posting to it, each a child process; prints where to look.
 * Ctrl-C (or SIGTERM) stops the simulator first, so its last events are
 * flushed, then Pulse; the exit code is 0 when both stopped cleanly.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:http';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { intVar, loadConfigOrExit } from '@pulse/runtime';

const ROOT = fileURLToPath(new URL('../../../../', import.meta.url));
const READY_TIMEOUT_MS = 30_000;

const config = loadConfigOrExit('demo', {
  PORT: intVar(8000, 1, 65_535),
  HOST: z.string().min(1).default('0.0.0.0'),
  /** The children log warnings and errors only, unless asked otherwise. */
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('warn'),
  /** Alert rules; the shipped ones send to the receiver below. Empty: no alerts. */
  PULSE_ALERT_RULES: z.string().default('examples/alerts.yaml'),
  /** The simulated node that fails, so the demo's alert has something to find. */
  PULSE_SIM_FAILING_NODES: z.string().default('fakeai-sim-2:0.3'),
});

/**
 * The webhook receiver examples/alerts.yaml sends to: prints each
 * notification, so an alert firing and resolving shows in the terminal.
 */
const ALERT_HOOK_PORT = 9099;
function alertReceiver(): void {
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (d: Buffer) => (body += d.toString()));
    req.on('end', () => {
      res.writeHead(200).end();
      try {
        const n = JSON.parse(body) as { status: string; alerts: { labels: Record<string, string>; annotations: Record<string, string> }[] };
        for (const a of n.alerts) {
          const labels = Object.entries(a.labels).map(([k, v]) => `${k}=${v}`).join(' ');
          process.stdout.write(`alert ${n.status}: ${labels} value=${a.annotations.value ?? '?'}\n`);
        }
      } catch {
        process.stdout.write(`alert: unreadable notification ${body.slice(0, 200)}\n`);
      }
    });
  });
  server.on('error', (err) => process.stderr.write(`pulse demo: no alert receiver on 127.0.0.1:${ALERT_HOOK_PORT} (${err.message}); alerts are still listed at /v1/alerts\n`));
  server.listen(ALERT_HOOK_PORT, '127.0.0.1');
  server.unref();
}
const local = `127.0.0.1:${config.PORT}`;
const shown = `${config.HOST === '0.0.0.0' ? 'localhost' : config.HOST}:${config.PORT}`;

/**
 * Children get a process group of their own: Ctrl-C in a terminal signals the
 * whole foreground group, and the simulator must stop (and flush) before
 * Pulse does, so only this process may receive it and stop them in order.
 */
function start(script: string, env: Record<string, string>): ChildProcess {
  const child = spawn(process.execPath, [script], { cwd: ROOT, env: { ...process.env, LOG_LEVEL: config.LOG_LEVEL, ...env }, stdio: 'inherit', detached: true });
  // Whatever ends this process, its children must not outlive it.
  process.on('exit', () => child.exitCode === null && child.kill('SIGTERM'));
  return child;
}

async function waitReady(child: ChildProcess): Promise<void> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  while (Date.now() < deadline && child.exitCode === null) {
    try {
      if ((await fetch(`http://${local}/readyz`)).ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(child.exitCode === null ? `Pulse not ready on ${local} after ${READY_TIMEOUT_MS} ms` : `Pulse exited with ${child.exitCode}`);
}

if (config.PULSE_ALERT_RULES) alertReceiver();
const pulse = start('services/standalone/dist/main.js', { PORT: String(config.PORT), HOST: config.HOST, PULSE_ALERT_RULES: config.PULSE_ALERT_RULES });
let simulator: ChildProcess | null = null;

let stopping: Promise<number> | null = null;

/** Simulator first, so its last events reach Pulse, then Pulse. Once, however many signals arrive. */
function stop(): Promise<number> {
  return (stopping ??= (async () => {
    let code = 0;
    for (const child of [simulator, pulse]) {
      if (!child || child.exitCode !== null || child.signalCode !== null) continue;
      const exited = once(child, 'exit') as Promise<[number | null]>;
      child.kill('SIGTERM');
      const [exit] = await exited;
      if (exit !== 0) code = 1;
    }
    return code;
  })());
}

// `on`, not `once`: npm forwards the terminal's Ctrl-C a second time, and a
// second signal without a listener would end this process before its children.
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => void stop().then((code) => process.exit(code)));
}
pulse.once('exit', (code) => {
  if (simulator?.exitCode === null) simulator.kill('SIGTERM');
  process.exitCode = code ?? 1;
});

try {
  await waitReady(pulse);
} catch (err) {
  process.stderr.write(`pulse demo: ${(err as Error).message}\n`);
  await stop();
  process.exit(1);
}
simulator = start('services/simulator/dist/main.js', { PULSE_INGEST_URL: `http://${local}`, PULSE_SIM_FAILING_NODES: config.PULSE_SIM_FAILING_NODES });
process.stdout.write(
  [
    '',
    'Pulse demo is running: simulated FakeAI nodes → Pulse',
    `  dashboard  http://${shown}/`,
    `  stream     ws://${shown}/metrics/stream`,
    `  terminal   npx pulse watch ws://${shown}/metrics/stream`,
    `  ingest     POST http://${shown}/v1/events`,
    `  alerts     http://${shown}/v1/alerts (rules: ${config.PULSE_ALERT_RULES || 'none'}; notifications print here)`,
    'Ctrl-C stops it.',
    '',
  ].join('\n'),
);
