/**
 * The gateway's REST surface (CONTRACT §2, §6): `/metrics/snapshot`,
 * `/healthz`, `/readyz`; anything else is a JSON 404. `/` is left free for
 * the dashboard.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { ErrorCode, HTTP_STATUS } from '@pulse/protocol';

export interface HttpRouteDeps {
  /** Body of `GET /metrics/snapshot`. */
  snapshotBody(): string;
  /** Null when ready, else why not. */
  notReadyReason(): string | null;
  /** Requests for paths the gateway has no route for (the all-in-one process mounts ingest here). */
  fallback?: HttpHandler;
}

export type HttpHandler = (req: IncomingMessage, res: ServerResponse) => void;

export function httpRoutes(deps: HttpRouteDeps): HttpHandler {
  const routes: Record<string, () => [number, string]> = {
    '/metrics/snapshot': () => [200, deps.snapshotBody()],
    '/healthz': () => [200, '{"status":"ok"}'],
    '/readyz': () => {
      const reason = deps.notReadyReason();
      return reason === null
        ? [200, '{"status":"ready"}']
        : [HTTP_STATUS[ErrorCode.NOT_READY], JSON.stringify({ status: 'not_ready', reason })];
    },
  };

  return (req, res) => {
    const path = pathOf(req.url);
    const route = Object.hasOwn(routes, path) ? routes[path] : undefined;
    if (!route) {
      if (deps.fallback) return deps.fallback(req, res);
      return send(res, HTTP_STATUS[ErrorCode.NOT_FOUND], errorBody(ErrorCode.NOT_FOUND, `no route for ${req.method} ${path}`));
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('Allow', 'GET, HEAD');
      return send(res, 405, errorBody('method_not_allowed', `${req.method} is not allowed on ${path}`));
    }
    const [status, body] = route();
    send(res, status, body, req.method === 'HEAD');
  };
}

/** The path of a request target, without its query; `/` for anything unparseable. */
export function pathOf(url: string | undefined): string {
  try {
    return new URL(url ?? '/', 'http://gateway').pathname;
  } catch {
    return '/';
  }
}

export function errorBody(code: string, message: string): string {
  return JSON.stringify({ error: message, code });
}

function send(res: ServerResponse, status: number, body: string, headOnly = false): void {
  res.writeHead(status, {
    'Content-Type': 'application/json; charset=utf-8',
    'Content-Length': Buffer.byteLength(body),
    'Cache-Control': 'no-store',
  });
  res.end(headOnly ? undefined : body);
}
