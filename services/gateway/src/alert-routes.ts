/**
 * The alert routes of docs/PROTOCOL.md §8 (CONTRACT §8): `GET /v1/alerts`,
 * `GET /v1/alerts/deliveries?state=failed`, `POST
 * /v1/alerts/deliveries/{id}/retry`. They read the alert state the active
 * aggregator keeps (in Redis, or in-process for `npm start`) and the
 * delivery queue; like `/metrics/*` they carry data, so the read token and
 * origin apply.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { alertsReply, deliveriesReply, retryReply, type AlertsSource, type NotificationQueue, type RestReply } from '@pulse/alerts';
import { ErrorCode } from '@pulse/protocol';
import { sendError, sendJson } from '@pulse/runtime';
import type { AccessPolicy } from './access.js';

export interface AlertsApi {
  /** Where the alerts' state is read: the Redis store, or the in-process evaluator. */
  source: AlertsSource;
  queue: NotificationQueue;
}

const RETRY = /^\/v1\/alerts\/deliveries\/([^/]+)\/retry$/;

/** Answers an alert route and returns true, or returns false for any other path. */
export function alertRoutes(api: AlertsApi, access: AccessPolicy): (req: IncomingMessage, res: ServerResponse) => boolean {
  return (req, res) => {
    const url = new URL(req.url ?? '/', 'http://gateway');
    const path = url.pathname;
    if (path !== '/v1/alerts' && !path.startsWith('/v1/alerts/')) return false;
    const retry = RETRY.exec(path);
    const method = retry ? 'POST' : 'GET';
    const known = retry !== null || path === '/v1/alerts' || path === '/v1/alerts/deliveries';
    if (!known) {
      sendError(res, ErrorCode.NOT_FOUND, `no route for ${req.method} ${path}`);
      return true;
    }
    if (req.method !== method) {
      sendError(res, ErrorCode.METHOD_NOT_ALLOWED, `${req.method} is not allowed on ${path}`, { Allow: method });
      return true;
    }
    const cors = access.corsHeaders(req);
    const refusal = access.check(req);
    if (refusal) {
      sendError(res, refusal.code, refusal.message, { ...cors, ...refusal.headers });
      return true;
    }
    const reply: Promise<RestReply> = retry
      ? retryReply(api.queue, decodeURIComponent(retry[1]!))
      : path === '/v1/alerts'
        ? alertsReply(api.source)
        : deliveriesReply(api.queue, url.searchParams.get('state'));
    reply.then(
      ({ status, body }) => sendJson(res, status, body, cors),
      (err: unknown) => sendError(res, ErrorCode.INTERNAL, `could not answer ${path}: ${String(err)}`, cors),
    );
    return true;
  };
}
