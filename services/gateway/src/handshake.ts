/**
 * PULSE_GATEWAY_HANDSHAKE_TIMEOUT_MS: a connection must send its whole
 * request head (a WebSocket upgrade, or a REST request) within the timeout,
 * so slow or silent peers cannot hold sockets open for free (slowloris).
 * Node enforces it through `headersTimeout`; its `clientError` is answered
 * here to count the timeout and reply in the API's JSON shape.
 */
import type { Server } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { ErrorCode, HTTP_STATUS } from '@pulse/protocol';
import { errorBody, type LimitCounters } from '@pulse/runtime';
import { writeRawReply } from './raw-reply.js';

/**
 * How often Node checks the timeout: at most a second late, and never
 * later than half the timeout itself. It is a server construction option.
 */
export function checkingIntervalMs(timeoutMs: number): number {
  return Math.max(10, Math.min(1000, Math.floor(timeoutMs / 2)));
}

export function guardHandshakes(server: Server, timeoutMs: number, counters: LimitCounters): void {
  server.headersTimeout = timeoutMs;
  // Node requires requestTimeout ≥ headersTimeout (or 0); bodies (ingest, in the all-in-one process) keep Node's 5 minutes.
  server.requestTimeout = Math.max(server.requestTimeout, timeoutMs);
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Duplex) => {
    const timedOut = err.code === 'ERR_HTTP_REQUEST_TIMEOUT';
    if (timedOut) counters.hit('handshake_timeout');
    // A socket gone, or that carried a reply already (keep-alive), gets no reply: as Node's own default handler.
    if (!socket.writable || (socket as Socket).bytesWritten > 0) {
      socket.destroy();
      return;
    }
    const code = timedOut ? ErrorCode.REQUEST_TIMEOUT : err.code === 'HPE_HEADER_OVERFLOW' ? ErrorCode.HEADERS_TOO_LARGE : ErrorCode.INVALID_BODY;
    const message = timedOut ? `request headers not complete within ${timeoutMs} ms` : code === ErrorCode.HEADERS_TOO_LARGE ? 'request headers too large' : 'malformed HTTP request';
    writeRawReply(socket, HTTP_STATUS[code], errorBody(code, message));
  });
}
