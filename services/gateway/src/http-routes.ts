/**
 * The gateway's REST surface (docs/PROTOCOL.md §2, §6): `/metrics/snapshot`,
 * `/metrics/labels`, `/metrics/history`, `/metrics/limits`, `/metrics/prometheus`
 * (the cluster's figures for Prometheus), `/vllm/metrics` (their vLLM view,
 * at a path AIPerf can be pointed at), `/metrics` (self-metrics),
 * `/healthz`, `/readyz`; then the
 * dashboard (`/` and its assets), then the fallback; anything else is a JSON
 * 404. The `/metrics/*` routes and `/vllm/metrics` carry data: read token,
 * origin and CORS apply to them and to `/metrics` (access.ts); probes and the
 * dashboard's static files stay open.
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
  /** Status and body of `GET /metrics/history` for the request's query parameters (see history.ts). */
  history(params: URLSearchParams): Promise<[number, string]>;
  /** Body of `GET /metrics/prometheus`: the cluster's figures, Prometheus text (prometheus-export.ts). */
  prometheus: ExpositionBody;
  /** Body of `GET /vllm/metrics`: their vLLM view (prometheus-vllm.ts); absent while PULSE_PROMETHEUS_COMPAT is not `vllm`. */
  vllm?: ExpositionBody;
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

/** A Prometheus text body, gzipped or not: each is built once per snapshot (prometheus-export.ts). */
export interface ExpositionBody {
  identity(): Buffer;
  gzip(): Promise<Buffer>;
}

export type HttpHandler = (req: IncomingMessage, res: ServerResponse) => void;
export type OptionalHttpHandler = (req: IncomingMessage, res: ServerResponse) => boolean;

type Reply = [status: number, body: string | Buffer, type?: string, headers?: Record<string, string>];

/** The vLLM view's path: AIPerf appends `/metrics` to a server-metrics URL whose path does not end in it (docs/MONITORING.md). */
export const VLLM_METRICS_PATH = '/vllm/metrics';

/** `/metrics`, the routes under it, and the vLLM view carry metrics: they need a read token when tokens are configured. */
const isGuarded = (path: string): boolean => path === '/metrics' || path.startsWith('/metrics/') || path === VLLM_METRICS_PATH;

/** True when an Accept-Encoding header accepts gzip (RFC 9110 §12.5.3: `gzip`, `x-gzip` or `*`, with a q-value above 0). */
export function acceptsGzip(header: string | undefined): boolean {
  if (!header) return false;
  let star: boolean | undefined;
  for (const part of header.split(',')) {
    const [coding = '', ...params] = part.split(';').map((p) => p.trim().toLowerCase());
    const q = params.find((p) => p.startsWith('q='));
    const accepted = q === undefined || Number(q.slice(2)) > 0;
    if (coding === 'gzip' || coding === 'x-gzip') return accepted;
    if (coding === '*') star = accepted;
  }
  return star ?? false;
}

/** A Prometheus text reply: gzipped when the request accepts it, and marked as varying with Accept-Encoding either way. */
async function expositionReply(body: ExpositionBody, req: IncomingMessage): Promise<Reply> {
  if (!acceptsGzip(req.headers['accept-encoding'])) return [200, body.identity(), PROMETHEUS_CONTENT_TYPE, { Vary: 'Accept-Encoding' }];
  return [200, await body.gzip(), PROMETHEUS_CONTENT_TYPE, { Vary: 'Accept-Encoding', 'Content-Encoding': 'gzip' }];
}

export function httpRoutes(deps: HttpRouteDeps): HttpHandler {
  const routes: Record<string, (req: IncomingMessage) => Reply | Promise<Reply>> = {
    '/metrics/snapshot': () => [200, deps.snapshotBody()],
    '/metrics/labels': () => [200, deps.labelsBody()],
    '/metrics/history': async (req) => {
      const [status, body] = await deps.history(new URL(req.url ?? '/', 'http://gateway').searchParams);
      return status === 503 ? [status, body, undefined, { 'Retry-After': '1' }] : [status, body];
    },
    '/metrics/limits': async () => [200, await deps.limitsText(), PROMETHEUS_CONTENT_TYPE],
    '/metrics/prometheus': (req) => expositionReply(deps.prometheus, req),
    [VLLM_METRICS_PATH]: (req) => {
      if (deps.vllm) return expositionReply(deps.vllm, req);
      throw new NotFound(`the vLLM view is off: ${VLLM_METRICS_PATH} is served with PULSE_PROMETHEUS_COMPAT=vllm`);
    },
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
    void Promise.resolve(req)
      .then(route)
      .then(
        ([status, body, type, extra]) => send(res, status, body, headOnly, withHeaders(cors, extra), type),
        (err: unknown) =>
          err instanceof NotFound ? sendError(res, ErrorCode.NOT_FOUND, err.message, cors, headOnly) : sendError(res, ErrorCode.INTERNAL, `could not answer ${path}: ${String(err)}`),
      );
  };
}

/** A route that exists but is switched off by the configuration: a 404 that says how to switch it on. */
class NotFound extends Error {}

/** `headers` with `extra`, a `Vary` in both listing both. */
function withHeaders(headers: Record<string, string>, extra: Record<string, string> | undefined): Record<string, string> {
  if (!extra) return headers;
  const vary = [headers.Vary, extra.Vary].filter((v) => v !== undefined);
  return { ...headers, ...extra, ...(vary.length > 0 && { Vary: vary.join(', ') }) };
}

function send(res: ServerResponse, status: number, body: string | Buffer, headOnly: boolean, headers: Record<string, string>, type?: string): void {
  if (type === undefined) return sendJson(res, status, body.toString(), headers, headOnly);
  res.writeHead(status, { ...headers, 'Content-Type': type, 'Content-Length': Buffer.byteLength(body), 'Cache-Control': 'no-store' });
  res.end(headOnly ? undefined : body);
}
