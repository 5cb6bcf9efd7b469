/**
 * What the client needs from a WebSocket, and nothing more, so the core runs
 * on the browser's WebSocket and on `ws` alike. A transport is one connection
 * attempt: the client makes a new one for every reconnect.
 */

export interface TransportHandlers {
  onOpen(): void;
  /** A text frame. Binary frames are not part of the protocol and are not passed on. */
  onMessage(text: string): void;
  /** Why the connection failed, when the platform says (a browser does not). Always followed by onClose. */
  onError(message: string): void;
  /** Called exactly once per transport, whether it ever opened or not. */
  onClose(code: number, reason: string): void;
}

export interface Transport {
  send(text: string): void;
  /** Starts the closing handshake; onClose follows, within a bounded time. */
  close(code: number, reason: string): void;
}

/**
 * `token`: a read token for a Pulse with authentication on (docs/SECURITY.md),
 * sent the way the platform can: an Authorization header where headers can be
 * set, else the `token` query parameter.
 */
export type TransportFactory = (url: string, handlers: TransportHandlers, token?: string) => Transport;
