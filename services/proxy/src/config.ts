/**
 * Proxy configuration (docs/PROXY.md), parsed once in main.ts: where callers
 * reach it (PORT) and where its own endpoints are (PULSE_PROXY_ADMIN_PORT),
 * the upstreams, which requests it records, and how it writes events.
 */
import { hostname } from 'node:os';
import { z } from 'zod';
import { commonVars, intVar, redisUrlVar, securityVars, type parseConfig } from '@pulse/runtime';
import { MAX_ENDPOINT } from './exchange.js';
import { HEARTBEAT_MS, type ProxySettings } from './proxy.js';
import { INFERENCE_ROUTES } from './routes.js';

/**
 * Comma-separated http(s) base URLs of OpenAI-compatible servers, at least
 * one. A base path is kept as a prefix of every forwarded path; a query,
 * fragment or credentials are refused.
 */
const upstreamListVar = z
  .string()
  .default('')
  .transform((raw, ctx) => {
    const urls: string[] = [];
    for (const part of raw.split(',').map((p) => p.trim()).filter((p) => p !== '')) {
      const url = URL.canParse(part) ? new URL(part) : null;
      if (!url || (url.protocol !== 'http:' && url.protocol !== 'https:') || url.search || url.hash || url.username) {
        ctx.addIssue({ code: 'custom', message: `not an http(s) base URL without query or credentials: ${part}` });
        return z.NEVER;
      }
      const base = url.href.replace(/\/$/, '');
      if (urls.includes(base)) {
        ctx.addIssue({ code: 'custom', message: `listed twice: ${part}` });
        return z.NEVER;
      }
      urls.push(base);
    }
    if (urls.length === 0) {
      ctx.addIssue({ code: 'custom', message: 'lists no upstream: give the base URL of at least one OpenAI-compatible server' });
      return z.NEVER;
    }
    return urls;
  });

/** A path as it is matched: from `/`, without query, fragment or whitespace (routes.ts). */
const ROUTE_PATH = /^\/[^\s?#]*$/;

/**
 * Comma-separated paths whose POST requests are recorded (routes.ts); every
 * other request is forwarded without an event. Default: the inference routes.
 */
const routeListVar = z
  .string()
  .default(INFERENCE_ROUTES.join(','))
  .transform((raw, ctx) => {
    const paths: string[] = [];
    for (const part of raw.split(',').map((p) => p.trim()).filter((p) => p !== '')) {
      const problem = !ROUTE_PATH.test(part)
        ? `not a path (starting with /, without query, fragment or spaces): ${part}`
        : part.length > MAX_ENDPOINT
          ? `longer than the ${MAX_ENDPOINT} characters of an endpoint: ${part.slice(0, 40)}…`
          : paths.includes(part)
            ? `listed twice: ${part}`
            : null;
      if (problem) {
        ctx.addIssue({ code: 'custom', message: problem });
        return z.NEVER;
      }
      paths.push(part);
    }
    // "PULSE_PROXY_ROUTES=," must not silently turn recording off.
    if (paths.length === 0) {
      ctx.addIssue({ code: 'custom', message: 'holds no path; leave it unset for the inference routes' });
      return z.NEVER;
    }
    return paths;
  });

export const proxyConfigShape = {
  ...commonVars,
  /** Where callers reach the proxy; every path on it is forwarded. Default 8090. */
  PORT: intVar(8090, 0, 65_535),
  /** The proxy's own endpoints (/healthz, /readyz, /status, /metrics), which PORT cannot serve. Default 9190. */
  PULSE_PROXY_ADMIN_PORT: intVar(9190, 0, 65_535),
  REDIS_URL: redisUrlVar.default('redis://127.0.0.1:6379'),
  /** Tokens that may read /status and /metrics on the admin port. Empty (default): open. */
  PULSE_READ_TOKENS: securityVars.PULSE_READ_TOKENS,
  PULSE_PROXY_UPSTREAMS: upstreamListVar,
  PULSE_PROXY_ROUTES: routeListVar,
  /** `node` of the events the proxy writes. Default: the host name. */
  PULSE_NODE_ID: z.string().min(1).max(128).default(hostname().slice(0, 128)),
  /** Active health check: GET this path on every upstream; 2xx means healthy. Default /health. */
  PULSE_PROXY_HEALTH_PATH: z.string().regex(/^\/\S*$/, 'must be a path starting with /').default('/health'),
  PULSE_PROXY_HEALTH_INTERVAL_MS: intVar(2000, 50, 600_000),
  PULSE_PROXY_HEALTH_TIMEOUT_MS: intVar(1000, 10, 60_000),
  /** A connection not established within this is a connection failure (502, upstream ejected). Default 2 s. */
  PULSE_PROXY_CONNECT_TIMEOUT_MS: intVar(2000, 10, 60_000),
  /** No byte from the upstream for this long ends the request (504, or an aborted stream). Default 300 s. */
  PULSE_PROXY_IDLE_TIMEOUT_MS: intVar(300_000, 10, 3_600_000),
  /** Observed events are appended at least this often… Default 100 ms. */
  PULSE_PROXY_FLUSH_MS: intVar(100, 5, 10_000),
  /** …or as soon as this many are queued. Default 500. */
  PULSE_PROXY_BATCH_EVENTS: intVar(500, 1, 10_000),
  /** Events held while the store is slow or down; beyond it they are dropped and counted. Default 20 000. */
  PULSE_PROXY_MAX_QUEUED_EVENTS: intVar(20_000, 1, 10_000_000),
};

export type ProxyConfig = ReturnType<typeof parseConfig<typeof proxyConfigShape>>;

/** What the proxy needs, in its own terms. */
export function proxySettings(config: ProxyConfig): ProxySettings {
  return {
    upstreams: config.PULSE_PROXY_UPSTREAMS,
    routes: config.PULSE_PROXY_ROUTES,
    node: config.PULSE_NODE_ID,
    health: {
      path: config.PULSE_PROXY_HEALTH_PATH,
      intervalMs: config.PULSE_PROXY_HEALTH_INTERVAL_MS,
      timeoutMs: config.PULSE_PROXY_HEALTH_TIMEOUT_MS,
    },
    connectTimeoutMs: config.PULSE_PROXY_CONNECT_TIMEOUT_MS,
    idleTimeoutMs: config.PULSE_PROXY_IDLE_TIMEOUT_MS,
    events: {
      flushMs: config.PULSE_PROXY_FLUSH_MS,
      batchEvents: config.PULSE_PROXY_BATCH_EVENTS,
      maxQueued: config.PULSE_PROXY_MAX_QUEUED_EVENTS,
    },
    heartbeatMs: HEARTBEAT_MS,
  };
}
