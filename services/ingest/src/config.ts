/**
 * Ingest configuration (CONTRACT §2), parsed once in main.ts.
 */
import { hostname } from 'node:os';
import { z } from 'zod';
import { commonVars, intVar, redisUrlVar, securityVars, type parseConfig, type SecuritySettings } from '@pulse/runtime';
import { HEARTBEAT_MS, type ProxySettings } from './proxy/proxy.js';

/** The request limits, separate so the all-in-one process can reuse them in its own shape. */
export const ingestLimitVars = {
  /** Largest request body in bytes, after decompression; 413 above. Default 5 MiB. */
  PULSE_MAX_BODY_BYTES: intVar(5 * 1024 * 1024, 1024, 1024 * 1024 * 1024),
  /** Most events in one request; 413 above. Default 10 000. */
  PULSE_MAX_EVENTS_PER_BATCH: intVar(10_000, 1, 1_000_000),
};

/**
 * Comma-separated http(s) base URLs of OpenAI-compatible servers. Empty (the
 * default) leaves proxy mode off. A base path is kept as a prefix of every
 * forwarded path; a query, fragment or credentials are refused.
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
    return urls;
  });

/** Proxy mode (docs/PROXY.md): forward OpenAI-compatible traffic and write the events observed. */
export const proxyVars = {
  PULSE_PROXY_UPSTREAMS: upstreamListVar,
  /** Where the proxy listens; its own port, so /v1/events on PORT is unaffected. Default 8090. */
  PULSE_PROXY_PORT: intVar(8090, 0, 65_535),
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

export const ingestConfigShape = {
  ...commonVars,
  ...ingestLimitVars,
  ...securityVars,
  ...proxyVars,
  PORT: intVar(8080, 0, 65_535),
  REDIS_URL: redisUrlVar.default('redis://127.0.0.1:6379'),
};

export type IngestConfig = ReturnType<typeof parseConfig<typeof ingestConfigShape>>;
/** What the ingest app needs of the config: its request limits and the security settings. */
export type IngestLimits = Pick<IngestConfig, keyof typeof ingestLimitVars> & SecuritySettings;

/** Slack beyond two windows so an aggregator that lags a little still finds its entries. */
const RETENTION_MARGIN_MS = 30_000;

/**
 * How long stream entries are kept: two windows (a new leader rebuilds a full
 * window from the stream) plus a margin.
 */
export function eventRetentionMs(windowSeconds: number): number {
  return 2 * windowSeconds * 1000 + RETENTION_MARGIN_MS;
}

/** What proxy mode needs, in its own terms; null when no upstream is configured. */
export function proxySettings(config: IngestConfig): ProxySettings | null {
  if (config.PULSE_PROXY_UPSTREAMS.length === 0) return null;
  return {
    upstreams: config.PULSE_PROXY_UPSTREAMS,
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
