/**
 * The `token` option against a Pulse with write tokens (docs/SECURITY.md):
 * with it every event is accepted; without it ingest answers 401, which the
 * reporter gives up on like any 4xx and reports.
 */
import { describe, expect, it } from 'vitest';
import { Reporter, type ReporterError } from '@pulse/reporter';
import { standalonePerFile, type ServiceProcess } from '@pulse/test-support/processes';

const TOKEN = 'reporter-write-token-0123456789';
let pulse: ServiceProcess;

standalonePerFile({ PULSE_WRITE_TOKENS: TOKEN }, (p) => (pulse = p));

function report(reporter: Reporter): void {
  const base = { ts: Date.now() / 1000, node: 'reporter-token', request_id: `r-${Math.random()}`, endpoint: '/v1/chat/completions', model: 'm' };
  reporter.report({ type: 'request.start', ...base });
  reporter.report({ type: 'request.end', ...base, status: 200, latency_ms: 5 });
}

describe('reporter token', () => {
  it('sends the write token, and its events are accepted', async () => {
    const reporter = new Reporter({ url: pulse.url, token: TOKEN });
    report(reporter);
    expect(await reporter.close()).toMatchObject({ sent: 2, rejected: 0 });
  });

  it('without it, gives the batch up on the 401 and says so', async () => {
    const errors: ReporterError[] = [];
    const reporter = new Reporter({ url: pulse.url, onError: (e) => errors.push(e) });
    report(reporter);
    expect(await reporter.close()).toMatchObject({ sent: 0, rejected: 2, retries: 0 });
    expect(errors).toEqual([expect.objectContaining({ kind: 'failed', events: 2, message: expect.stringMatching(/401/) })]);
  });
});
