/**
 * WebSocket close codes, in ranges as Centrifugo documents them:
 *   1000–2999  standard codes (1001: server going away — reconnect elsewhere)
 *   4000–4499  the server asks the client to reconnect (after a backoff)
 *   4500–4999  terminal: reconnecting with the same request will fail again
 */
export const CloseCode = {
  /** Server shutting down: reconnect, to another node if there is one. */
  GOING_AWAY: 1001,
  /** The client stayed behind its buffer ceiling: reconnect, and read faster. */
  SLOW_CONSUMER: 4000,
  /** No pong within two heartbeat periods. */
  HEARTBEAT_TIMEOUT: 4001,
  /** Too many messages per second from this client. */
  RATE_LIMITED: 4002,
  /** Authentication required or failed. */
  UNAUTHORIZED: 4500,
  /** A message larger than the configured maximum. */
  MESSAGE_TOO_BIG: 1009,
  /** A frame that breaks the WebSocket protocol (RFC 6455), e.g. unmasked from a client. */
  PROTOCOL_ERROR: 1002,
  /** A text frame that is not valid UTF-8. */
  INVALID_PAYLOAD: 1007,
} as const;

export type CloseCode = (typeof CloseCode)[keyof typeof CloseCode];

export function shouldReconnect(code: number): boolean {
  return code < 4500;
}
