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
import http from 'node:http';
import https from 'node:https';
import type { Logger } from '@pulse/runtime';

/**
 * Idle keep-alive sockets are closed after this long: under the 5 s idle
 * timeout of common servers (Node, uvicorn), so the proxy never reuses a
 * socket the server is closing at that very moment.
 */
const IDLE_SOCKET_MS = 4000;

export interface UpstreamStatus {
  readonly url: string;
  readonly healthy: boolean;
  readonly inFlight: number;
  /** Requests sent since start. */
  readonly requests: number;
  /** Why it was last taken out, until it is healthy again. */
  readonly lastError: string | null;
}

export class Upstream {
  inFlight = 0;
  requests = 0;
  healthy = true;
  lastError: string | null = null;
  readonly agent: http.Agent;
  private readonly base: URL;
  private readonly basePath: string;

  constructor(readonly url: string) {
    this.base = new URL(url);
    this.basePath = this.base.pathname.replace(/\/$/, '');
    const options = { keepAlive: true, timeout: IDLE_SOCKET_MS, scheduling: 'lifo' as const };
    this.agent = this.base.protocol === 'https:' ? new https.Agent(options) : new http.Agent(options);
  }

  /**
   * Starts a request for `target` (a path with its query) on this upstream.
   * A flat raw header list keeps the caller's order, case and repeats, and is
   * sent as is: Node adds no Host to it.
   */
  request(method: string, target: string, headers: readonly string[] | http.OutgoingHttpHeaders): http.ClientRequest {
    const secure = this.base.protocol === 'https:';
    const hostname = this.base.hostname.replace(/^\[(.*)\]$/, '$1');
    const options: https.RequestOptions = {
      hostname,
      port: this.base.port || (secure ? 443 : 80),
      method,
      path: this.basePath + target,
      headers: headers as string[] | http.OutgoingHttpHeaders,
      agent: this.agent,
      // The caller's Host header goes through untouched, so TLS must be told the upstream's name.
      ...(secure && { servername: hostname }),
    };
    return secure ? https.request(options) : http.request(options);
  }

  status(): UpstreamStatus {
    const { url, healthy, inFlight, requests, lastError } = this;
    return { url, healthy, inFlight, requests, lastError };
  }
}

export class UpstreamPool {
  readonly upstreams: readonly Upstream[];
  private turn = 0;

  constructor(
    urls: readonly string[],
    private readonly logger: Logger,
  ) {
    if (urls.length === 0) throw new RangeError('an upstream pool needs at least one upstream');
    this.upstreams = urls.map((u) => new Upstream(u));
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

  close(): void {
    for (const u of this.upstreams) u.agent.destroy();
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
