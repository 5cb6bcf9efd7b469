/**
 * How every Pulse service answers over HTTP, in one place:
 * - errors: `{"error": message, "code": code}` with the status the ErrorCode
 *   registry gives the code (a 503 also says `Retry-After`);
 * - liveness: `{"status": "ok"}`; readiness: `{"status": "ready"}`, or 503
 *   `{"status": "not_ready", "reason": …}` — the same body on every service;
 * - self-metrics: the Prometheus text format (self-metrics.ts).
 * And the one style of the small ops servers (the aggregator's, the proxy's
 * admin port): a table of GET routes, anything else a JSON 404 or 405.
 */
import http from 'node:http';
import { ErrorCode, HTTP_STATUS } from '@pulse/protocol';
import { PROMETHEUS_CONTENT_TYPE, type SelfMetrics } from './self-metrics.js';

const JSON_TYPE = 'application/json; charset=utf-8';

/** How long a client should wait before retrying a 503, in seconds. */
export const RETRY_AFTER_SECONDS = 1;

export type Headers = Readonly<Record<string, string>>;

/** The API's error body. */
export function errorBody(code: ErrorCode, message: string): string {
  return JSON.stringify({ error: message, code });
}

/** Headers an error reply carries besides its body: `Retry-After` on a 503. */
export function errorHeaders(code: ErrorCode): Headers {
  return HTTP_STATUS[code] === 503 ? { 'Retry-After': String(RETRY_AFTER_SECONDS) } : {};
}

export function sendJson(res: http.ServerResponse, status: number, body: unknown, headers: Headers = {}, headOnly = false): void {
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  res.writeHead(status, { ...headers, 'Content-Type': JSON_TYPE, 'Content-Length': Buffer.byteLength(text), 'Cache-Control': 'no-store' });
  res.end(headOnly ? undefined : text);
}

/** An error reply: status from the registry, the API's body. */
export function sendError(res: http.ServerResponse, code: ErrorCode, message: string, headers: Headers = {}, headOnly = false): void {
  sendJson(res, HTTP_STATUS[code], errorBody(code, message), { ...errorHeaders(code), ...headers }, headOnly);
}

/** The readiness reply of every service: null `reason` is ready. `extra` fields (the aggregator's role) go beside. */
export function readinessReply(reason: string | null, extra: Record<string, unknown> = {}): { status: number; body: string } {
  return reason === null
    ? { status: 200, body: JSON.stringify({ status: 'ready', ...extra }) }
    : { status: HTTP_STATUS[ErrorCode.NOT_READY], body: JSON.stringify({ status: 'not_ready', reason, ...extra }) };
}

export const LIVENESS_BODY = '{"status":"ok"}';

export async function sendMetrics(res: http.ServerResponse, metrics: SelfMetrics): Promise<void> {
  const text = await metrics.exposition();
  res.writeHead(200, { 'Content-Type': PROMETHEUS_CONTENT_TYPE, 'Cache-Control': 'no-store' });
  res.end(text);
}

// ---- the small ops servers ----

export interface OpsRoute {
  /** Answers the request (GET or HEAD). A rejection becomes a 500. */
  answer(req: http.IncomingMessage, res: http.ServerResponse): void | Promise<void>;
  /** Runs before `answer`; returns true when it answered (a refusal) and `answer` must not run. */
  guard?(req: http.IncomingMessage, res: http.ServerResponse): boolean;
}

/** Routes every ops server has: liveness, readiness from `notReadyReason`, self-metrics. */
export function probeRoutes(notReadyReason: () => string | null, metrics: SelfMetrics, extra: () => Record<string, unknown> = () => ({})): Record<string, OpsRoute> {
  return {
    '/healthz': { answer: (_req, res) => sendJson(res, 200, LIVENESS_BODY) },
    '/readyz': {
      answer: (_req, res) => {
        const { status, body } = readinessReply(notReadyReason(), extra());
        sendJson(res, status, body);
      },
    },
    '/metrics': { answer: (_req, res) => sendMetrics(res, metrics) },
  };
}

/** A server for a table of GET routes; every other path or method gets the API's error body. */
export function opsServer(routes: Readonly<Record<string, OpsRoute>>): http.Server {
  return http.createServer((req, res) => {
    const path = pathOf(req.url);
    const route = Object.hasOwn(routes, path) ? routes[path] : undefined;
    if (!route) return sendError(res, ErrorCode.NOT_FOUND, `no route for ${req.method} ${path}`);
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      return sendError(res, ErrorCode.METHOD_NOT_ALLOWED, `${req.method} is not allowed on ${path}`, { Allow: 'GET, HEAD' });
    }
    if (route.guard?.(req, res)) return;
    void Promise.resolve()
      .then(() => route.answer(req, res))
      .catch((err: unknown) => {
        if (!res.headersSent) sendError(res, ErrorCode.INTERNAL, `could not answer ${path}: ${String(err)}`);
      });
  });
}

/** The path of a request target, without its query; `/` for anything unparseable. */
export function pathOf(url: string | undefined): string {
  try {
    return new URL(url ?? '/', 'http://pulse').pathname;
  } catch {
    return '/';
  }
}
