/**
 * The gateway's REST surface (docs/PROTOCOL.md §2, §6): `/metrics/snapshot`,
 * `/metrics/labels`, `/metrics/history`, `/metrics/limits`, `/metrics/prometheus`
 * (the cluster's figures for Prometheus), `/metrics` (self-metrics),
 * `/healthz`, `/readyz`; then the
 * dashboard (`/` and its assets), then the fallback; anything else is a JSON
 * 404. The `/metrics/*` routes carry data: read token, origin and CORS apply
 * to them and to `/metrics` (access.ts); probes and the dashboard's static files stay open.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { ErrorCode } from '@pulse/protocol';
import { LIVENESS_BODY, pathOf, PROMETHEUS_CONTENT_TYPE, readinessReply, sendError, sendJson } from '@pulse/runtime';
import type { AccessPolicy } from './access.js';

export interface HttpRouteDeps {
  /** Body of `GET /metrics/snapshot`. */
  snapshotBody(): string;
  /** Body of `GET /metrics/labels` (see labels.ts). */
  labelsBody(): string;
  /** Body of `GET /metrics/history` (see history.ts). */
  historyBody(): string;
  /** Body of `GET /metrics/prometheus`: the cluster's figures, Prometheus text (prometheus-export.ts). */
  prometheusText(): string;
  /** Body of `GET /metrics/limits`: the refusal counters, Prometheus text. */
  limitsText(): Promise<string>;
  /** Body of `GET /metrics`: the process's self-metrics, Prometheus text. */
  selfMetricsText(): Promise<string>;
  /** Guards every `/metrics/*` route: read token, origin, CORS. */
  access: AccessPolicy;
  /** Null when ready, else why not. */
  notReadyReason(): string | null;
  /** Requests for paths the gateway has no route for (the all-in-one process mounts ingest here). */
  fallback?: HttpHandler;
  /** Serves the dashboard's page and assets; returns false for a path that is not one of them. */
  dashboard?: OptionalHttpHandler;
}

export type HttpHandler = (req: IncomingMessage, res: ServerResponse) => void;
export type OptionalHttpHandler = (req: IncomingMessage, res: ServerResponse) => boolean;

type Reply = [status: number, body: string, type?: string];

/** `/metrics` and the routes under it carry metrics: they need a read token when tokens are configured. */
const isGuarded = (path: string): boolean => path === '/metrics' || path.startsWith('/metrics/');

export function httpRoutes(deps: HttpRouteDeps): HttpHandler {
  const routes: Record<string, () => Reply | Promise<Reply>> = {
    '/metrics/snapshot': () => [200, deps.snapshotBody()],
    '/metrics/labels': () => [200, deps.labelsBody()],
    '/metrics/history': () => [200, deps.historyBody()],
    '/metrics/limits': async () => [200, await deps.limitsText(), PROMETHEUS_CONTENT_TYPE],
    '/metrics/prometheus': () => [200, deps.prometheusText(), PROMETHEUS_CONTENT_TYPE],
    '/metrics': async () => [200, await deps.selfMetricsText(), PROMETHEUS_CONTENT_TYPE],
    '/healthz': () => [200, LIVENESS_BODY],
    '/readyz': () => {
      const { status, body } = readinessReply(deps.notReadyReason());
      return [status, body];
    },
  };

  return (req, res) => {
    const path = pathOf(req.url);
    const route = Object.hasOwn(routes, path) ? routes[path] : undefined;
    if (!route) {
      if (deps.dashboard?.(req, res)) return;
      if (deps.fallback) return deps.fallback(req, res);
      return sendError(res, ErrorCode.NOT_FOUND, `no route for ${req.method} ${path}`);
    }
    const guarded = isGuarded(path);
    if (guarded && req.method === 'OPTIONS') {
      // A CORS preflight carries no token: only the origin decides.
      const refusal = deps.access.checkPreflight(req);
      if (refusal) return sendError(res, refusal.code, refusal.message);
      res.writeHead(204, { ...deps.access.corsHeaders(req, true), 'Cache-Control': 'no-store' });
      return res.end();
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      return sendError(res, ErrorCode.METHOD_NOT_ALLOWED, `${req.method} is not allowed on ${path}`, { Allow: 'GET, HEAD' });
    }
    const headOnly = req.method === 'HEAD';
    const cors = guarded ? deps.access.corsHeaders(req) : {};
    const refusal = guarded ? deps.access.check(req) : null;
    if (refusal) return sendError(res, refusal.code, refusal.message, { ...cors, ...refusal.headers }, headOnly);
    void Promise.resolve()
      .then(route)
      .then(
        ([status, body, type]) => send(res, status, body, headOnly, cors, type),
        (err: unknown) => sendError(res, ErrorCode.INTERNAL, `could not answer ${path}: ${String(err)}`),
      );
  };
}

function send(res: ServerResponse, status: number, body: string, headOnly: boolean, headers: Record<string, string>, type?: string): void {
  if (type === undefined) return sendJson(res, status, body, headers, headOnly);
  res.writeHead(status, { ...headers, 'Content-Type': type, 'Content-Length': Buffer.byteLength(body), 'Cache-Control': 'no-store' });
  res.end(headOnly ? undefined : body);
}
