/**
 * Stable error codes of the HTTP API and the WebSocket `error` message. One
 * registry, mapped to HTTP status in one place.
 */
export const ErrorCode = {
  INVALID_BODY: 'invalid_body',
  INVALID_EVENT: 'invalid_event',
  BODY_TOO_LARGE: 'body_too_large',
  /** More events in one request than PULSE_MAX_EVENTS_PER_BATCH. */
  TOO_MANY_EVENTS: 'too_many_events',
  UNSUPPORTED_MEDIA_TYPE: 'unsupported_media_type',
  STORE_UNAVAILABLE: 'store_unavailable',
  NOT_READY: 'not_ready',
  NOT_FOUND: 'not_found',
  /** The route exists, not for this method; the reply says `Allow`. */
  METHOD_NOT_ALLOWED: 'method_not_allowed',
  /** Request headers over Node's limit (16 KiB). */
  HEADERS_TOO_LARGE: 'headers_too_large',
  INVALID_MESSAGE: 'invalid_message',
  INVALID_SUBSCRIPTION: 'invalid_subscription',
  INTERNAL: 'internal',
  /** No valid token (docs/SECURITY.md); the reply carries `WWW-Authenticate: Bearer`. */
  UNAUTHORIZED: 'unauthorized',
  /** A browser origin outside PULSE_ALLOWED_ORIGINS. */
  FORBIDDEN_ORIGIN: 'forbidden_origin',
  /** PULSE_GATEWAY_MAX_CONNECTIONS reached: try another gateway, or later. */
  OVER_CAPACITY: 'over_capacity',
  /** PULSE_GATEWAY_MAX_CONNECTIONS_PER_IP reached: close a connection first. */
  TOO_MANY_CONNECTIONS: 'too_many_connections',
  /** Request headers not complete within PULSE_GATEWAY_HANDSHAKE_TIMEOUT_MS. */
  REQUEST_TIMEOUT: 'request_timeout',
  /** A client message dropped by PULSE_GATEWAY_CLIENT_MSGS_PER_SEC (WebSocket `error` only). */
  RATE_LIMITED: 'rate_limited',
  /** The request conflicts with the resource's state: a run stopped twice. */
  CONFLICT: 'conflict',
} as const;

export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

export const HTTP_STATUS: Record<ErrorCode, number> = {
  invalid_body: 400,
  invalid_event: 400,
  body_too_large: 413,
  too_many_events: 413,
  unsupported_media_type: 415,
  store_unavailable: 503,
  not_ready: 503,
  not_found: 404,
  method_not_allowed: 405,
  headers_too_large: 431,
  invalid_message: 400,
  invalid_subscription: 400,
  internal: 500,
  unauthorized: 401,
  forbidden_origin: 403,
  over_capacity: 503,
  too_many_connections: 429,
  request_timeout: 408,
  rate_limited: 429,
  conflict: 409,
};

/** An error a caller may see, with its stable code. */
export class PulseError extends Error {
  override readonly name = 'PulseError';
  constructor(
    readonly code: ErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }

  get status(): number {
    return HTTP_STATUS[this.code];
  }
}
