/**
 * Active health checks: every interval, GET the health path on each upstream
 * (through its connection pool, so checks cost no new connection); a 2xx
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
async function probe(upstream: Upstream, { path, timeoutMs }: HealthCheckSettings): Promise<string | null> {
  try {
    const status = await upstream.get(path, timeoutMs);
    return status >= 200 && status < 300 ? null : `health check answered ${status}`;
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    const reason = e.name === 'TimeoutError' ? `no answer within ${timeoutMs} ms` : (e.code ?? e.message);
    return `health check failed: ${reason}`;
  }
}
