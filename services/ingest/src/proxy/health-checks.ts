/**
 * Active health checks: every interval, GET the health path on each upstream
 * (through its keep-alive agent, so checks cost no new connection); a 2xx
 * within the timeout keeps it in or readmits it, anything else takes it out.
 * A check still running when the next is due is not doubled.
 */
import type { Upstream, UpstreamPool } from './upstream-pool.js';

export interface HealthCheckSettings {
  readonly path: string;
  readonly intervalMs: number;
  readonly timeoutMs: number;
}

export interface HealthChecks {
  stop(): void;
}

export function startHealthChecks(pool: UpstreamPool, settings: HealthCheckSettings): HealthChecks {
  let stopped = false;
  const running = new Set<Upstream>();
  const check = (upstream: Upstream) => {
    if (running.has(upstream)) return;
    running.add(upstream);
    void probe(upstream, settings).then((problem) => {
      running.delete(upstream);
      if (!stopped) pool.setHealth(upstream, problem === null, problem);
    });
  };
  const round = () => pool.upstreams.forEach(check);
  const timer = setInterval(round, settings.intervalMs);
  timer.unref();
  round();
  return {
    stop: () => {
      stopped = true;
      clearInterval(timer);
    },
  };
}

/** Resolves null when healthy, else why not. Never rejects. */
function probe(upstream: Upstream, { path, timeoutMs }: HealthCheckSettings): Promise<string | null> {
  return new Promise((resolve) => {
    const req = upstream.request('GET', path, { accept: 'application/json' });
    req.setTimeout(timeoutMs, () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.on('response', (res) => {
      res.resume();
      const status = res.statusCode ?? 0;
      resolve(status >= 200 && status < 300 ? null : `health check answered ${status}`);
    });
    req.on('error', (err: NodeJS.ErrnoException) => resolve(`health check failed: ${err.code ?? err.message}`));
    req.end();
  });
}
