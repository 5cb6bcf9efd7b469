/**
 * `npm start` (the standalone process) with PULSE_ALERT_RULES and a real
 * webhook receiver that refuses every notification with a 400 — a 4xx is
 * not retried, so each notification fails at once — for the tests that
 * show alerts and failed deliveries to a person (the CLI, the dashboard).
 *
 * The rules: Busy fires per endpoint as soon as there is traffic; Slow, on
 * the same figure, stays pending for an hour. Both notify the receiver.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TestReceiver } from './http-receiver.js';
import { startService, type ServiceProcess } from './processes.js';

/** The refusal's body: `pulse alerts` and the dashboard show it as the last error (`HTTP 400 Bad Request: refused`). */
export const REFUSAL = 'refused';

/** Writes the Busy/Slow rules file, both rules to the receiver `refusing` at `url`; returns its path. */
export function busyAndSlowRules(url: string): string {
  const path = join(mkdtempSync(join(tmpdir(), 'pulse-alert-rules-')), 'rules.yaml');
  writeFileSync(
    path,
    [
      'receivers:',
      `  - {name: refusing, url: "${url}"}`,
      'rules:',
      '  - {name: Busy, figure: requests_per_sec, op: ">", value: 0, group_by: [endpoint], labels: {severity: page}, receivers: [refusing]}',
      '  - {name: Slow, figure: requests_per_sec, op: ">", value: 0, for: 1h, receivers: [refusing]}',
    ].join('\n'),
  );
  return path;
}

/**
 * The refusing receiver, then `npm start` with the rules pointing at it,
 * ready. `env` adds to (and overrides) a 100 ms tick and warn-level logs.
 * The caller stops both.
 */
export async function startPulseWithRefusedAlerts(env: Record<string, string> = {}): Promise<{ pulse: ServiceProcess; hook: TestReceiver }> {
  const hook = await TestReceiver.start();
  hook.fallback = { status: 400, body: REFUSAL };
  try {
    const pulse = await startService('standalone', { PULSE_TICK_MS: '100', LOG_LEVEL: 'warn', ...env, PULSE_ALERT_RULES: busyAndSlowRules(hook.url) });
    return { pulse, hook };
  } catch (err) {
    await hook.close();
    throw err;
  }
}
