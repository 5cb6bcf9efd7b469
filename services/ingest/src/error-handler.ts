/**
 * Every error reply of the ingest app, in one place: PulseError codes map to
 * HTTP status through HTTP_STATUS; body-parser errors to 400/413/415; anything
 * else is a 500 with one log line. Replies are always JSON, never HTML.
 */
import type { ErrorRequestHandler, RequestHandler, Response } from 'express';
import { ErrorCode, HTTP_STATUS, PulseError } from '@pulse/protocol';
import type { BatchReply } from './batch.js';
import { sendError as sendRuntimeError, sendJson, type LimitCounters, type LimitReason, type Logger } from '@pulse/runtime';

/** An error reply in the API's shape (@pulse/runtime's http-replies.ts); a 400 keeps the shape of an ingest reply too. */
function sendError(res: Response, error: PulseError): void {
  if (HTTP_STATUS[error.code] === 400) sendRejected(res, error.code, error.message);
  else sendRuntimeError(res, error.code, error.message);
}

/** A 400 in the shape of an ingest reply (docs/PROTOCOL.md §3): nothing accepted, what was rejected, and why. */
export function sendRejected(res: Response, code: ErrorCode, message: string, reply: BatchReply = { accepted: 0, rejected: [] }): void {
  sendJson(res, HTTP_STATUS[code], { ...reply, error: message, code });
}

export const notFound: RequestHandler = (req, res) => {
  sendError(res, new PulseError(ErrorCode.NOT_FOUND, `no route ${req.method} ${req.path}`));
};

/** The refusals that are limits, counted in the self-metrics. */
const LIMIT_OF: Partial<Record<ErrorCode, LimitReason>> = {
  [ErrorCode.UNAUTHORIZED]: 'unauthorized',
  [ErrorCode.BODY_TOO_LARGE]: 'body_bytes',
  [ErrorCode.TOO_MANY_EVENTS]: 'events_per_batch',
};

export function errorHandler(logger: Logger, counters: LimitCounters): ErrorRequestHandler {
  return (err: unknown, req, res, next) => {
    if (res.headersSent) return next(err);
    const known = err instanceof PulseError ? err : fromBodyParser(err);
    if (known) {
      const limit = LIMIT_OF[known.code];
      if (limit) counters.hit(limit);
      return sendError(res, known);
    }
    // Only what identifies the failure: bodies and headers may hold producer data or tokens.
    const { name, message, stack } = err instanceof Error ? err : { name: 'NonError', message: String(err), stack: '' };
    logger.error({ err: { name, message, stack }, method: req.method, path: req.path }, 'request failed');
    sendError(res, new PulseError(ErrorCode.INTERNAL, 'internal error'));
  };
}

/**
 * body-parser errors carry `status` (http-errors) and mostly a `type`; map
 * the ones a client causes. A body that fails to decompress (a bad gzip,
 * deflate or br stream) comes as zlib's own error with only a 400 status.
 */
function fromBodyParser(err: unknown): PulseError | null {
  if (typeof err !== 'object' || err === null) return null;
  const { type, status, message } = err as { type?: unknown; status?: unknown; message?: unknown };
  if (typeof status !== 'number' || status < 400 || status >= 500) return null;
  const text = typeof message === 'string' ? message : String(type);
  switch (type) {
    case 'entity.too.large': {
      const limit = String((err as { limit?: unknown }).limit);
      return new PulseError(ErrorCode.BODY_TOO_LARGE, `request body over the limit of ${limit} bytes`);
    }
    case 'charset.unsupported':
    case 'encoding.unsupported':
      return new PulseError(ErrorCode.UNSUPPORTED_MEDIA_TYPE, text);
    default:
      return new PulseError(ErrorCode.INVALID_BODY, `request body is not valid: ${text}`);
  }
}
