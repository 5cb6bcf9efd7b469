/**
 * The upstreams behind the proxy and the choice among them: least in-flight
 * requests among the healthy ones, ties taken in turn. An upstream leaves
 * the healthy set when a health check fails or a connection to it fails
 * (passive ejection), and comes back when a health check passes.
 *
 * When none is healthy, the choice is made among all of them ("panic"
 * routing, as Envoy does): refusing everything would turn a wrong health
 * path or a brief blip into a full outage, while a truly dead upstream
 * fails the attempt fast anyway.
 */
import { Pool, type Dispatcher } from 'undici';
import type { Logger } from '@pulse/runtime';

/**
 * Idle keep-alive connections are closed after this long: under the 5 s idle
 * timeout of common servers (Node, uvicorn), so the proxy never reuses a
 * connection the server is closing at that very moment.
 */
const IDLE_SOCKET_MS = 4000;

export interface UpstreamTimeouts {
  /** To open a connection. */
  readonly connectTimeoutMs: number;
  /** Silence from the upstream, before the response head and between body chunks. */
  readonly idleTimeoutMs: number;
}

export interface UpstreamStatus {
  readonly url: string;
  readonly healthy: boolean;
  readonly inFlight: number;
  /** Requests sent since start. */
  readonly requests: number;
  /** Why it was last taken out, until it is healthy again. */
  readonly lastError: string | null;
}

/**
 * One upstream: an undici connection pool to its origin (keep-alive, one
 * request per connection at a time) and the counters the choice reads.
 */
export class Upstream {
  inFlight = 0;
  requests = 0;
  healthy = true;
  lastError: string | null = null;
  private readonly pool: Pool;
  private readonly basePath: string;
  /** TLS server name: the caller's Host header goes through untouched, so TLS must be told the upstream's. */
  private readonly servername: string | undefined;

  constructor(
    readonly url: string,
    timeouts: UpstreamTimeouts,
  ) {
    const base = new URL(url);
    this.basePath = base.pathname.replace(/\/$/, '');
    this.servername = base.protocol === 'https:' ? base.hostname.replace(/^\[(.*)\]$/, '$1') : undefined;
    this.pool = new Pool(base.origin, {
      connectTimeout: timeouts.connectTimeoutMs,
      headersTimeout: timeouts.idleTimeoutMs,
      bodyTimeout: timeouts.idleTimeoutMs,
      keepAliveTimeout: IDLE_SOCKET_MS,
      keepAliveMaxTimeout: IDLE_SOCKET_MS,
    });
  }

  /**
   * Sends a request for `target` (a path with its query) to this upstream.
   * `headers` is a flat [name, value, …] list, sent in its order, case and
   * repeats (undici writes Host and Content-Length first, from their values).
   */
  dispatch(
    method: string,
    target: string,
    headers: string[] | Record<string, string>,
    body: Dispatcher.DispatchOptions['body'],
    handler: Dispatcher.DispatchHandler,
  ): void {
    const options = { method: method as Dispatcher.HttpMethod, path: this.basePath + target, headers, body, servername: this.servername };
    this.pool.dispatch(options, handler);
  }

  /** A GET answered with its status; the body is discarded. Rejects on failure or after `timeoutMs`. */
  async get(path: string, timeoutMs: number): Promise<number> {
    const res = await this.pool.request({
      method: 'GET',
      path: this.basePath + path,
      headers: { accept: 'application/json' },
      signal: AbortSignal.timeout(timeoutMs),
    });
    await res.body.dump();
    return res.statusCode;
  }

  status(): UpstreamStatus {
    const { url, healthy, inFlight, requests, lastError } = this;
    return { url, healthy, inFlight, requests, lastError };
  }

  /** Closes every connection, ending requests still running. */
  close(): Promise<void> {
    return this.pool.destroy();
  }
}

export class UpstreamPool {
  readonly upstreams: readonly Upstream[];
  private turn = 0;

  constructor(
    urls: readonly string[],
    timeouts: UpstreamTimeouts,
    private readonly logger: Logger,
  ) {
    if (urls.length === 0) throw new RangeError('an upstream pool needs at least one upstream');
    this.upstreams = urls.map((u) => new Upstream(u, timeouts));
  }

  pick(): Upstream {
    const list = this.upstreams;
    const first = this.turn;
    this.turn = (this.turn + 1) % list.length;
    return this.leastBusy(list, first, true) ?? this.leastBusy(list, first, false)!;
  }

  /** Passive ejection: a connection failed. Only a passing health check readmits it. */
  eject(upstream: Upstream, reason: string): void {
    this.setHealth(upstream, false, reason);
  }

  setHealth(upstream: Upstream, healthy: boolean, reason: string | null): void {
    if (upstream.healthy === healthy) return;
    upstream.healthy = healthy;
    if (healthy) {
      upstream.lastError = null;
      this.logger.info({ upstream: upstream.url }, 'upstream healthy again');
    } else {
      upstream.lastError = reason;
      this.logger.warn({ upstream: upstream.url, reason }, 'upstream taken out of rotation');
    }
  }

  /** True when at least one upstream is healthy. */
  anyHealthy(): boolean {
    return this.upstreams.some((u) => u.healthy);
  }

  status(): UpstreamStatus[] {
    return this.upstreams.map((u) => u.status());
  }

  async close(): Promise<void> {
    await Promise.all(this.upstreams.map((u) => u.close()));
  }

  /** Scans from `first` so that, among equally busy ones, each gets its turn. */
  private leastBusy(list: readonly Upstream[], first: number, healthyOnly: boolean): Upstream | undefined {
    let best: Upstream | undefined;
    for (let k = 0; k < list.length; k++) {
      const u = list[(first + k) % list.length]!;
      if (healthyOnly && !u.healthy) continue;
      if (!best || u.inFlight < best.inFlight) best = u;
    }
    return best;
  }
}
