/**
 * Stable error codes of the HTTP API and the WebSocket `error` message. One
 * registry, mapped to HTTP status in one place.
 */
export const ErrorCode = {
  INVALID_BODY: 'invalid_body',
  INVALID_EVENT: 'invalid_event',
  BODY_TOO_LARGE: 'body_too_large',
  UNSUPPORTED_MEDIA_TYPE: 'unsupported_media_type',
  STORE_UNAVAILABLE: 'store_unavailable',
  NOT_READY: 'not_ready',
  NOT_FOUND: 'not_found',
  INVALID_MESSAGE: 'invalid_message',
  INVALID_SUBSCRIPTION: 'invalid_subscription',
  INTERNAL: 'internal',
} as const;

export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

export const HTTP_STATUS: Record<ErrorCode, number> = {
  invalid_body: 400,
  invalid_event: 400,
  body_too_large: 413,
  unsupported_media_type: 415,
  store_unavailable: 503,
  not_ready: 503,
  not_found: 404,
  invalid_message: 400,
  invalid_subscription: 400,
  internal: 500,
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
