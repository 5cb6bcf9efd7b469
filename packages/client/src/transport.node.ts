/** The transport over `ws`, for Node. */
import WebSocket from 'ws';
import type { TransportFactory } from './transport.js';

/** How long a closing handshake may take before the socket is destroyed (the peer may be gone). */
const CLOSE_GRACE_MS = 2000;
/** How long the opening handshake may take; a half-open peer would otherwise hold the attempt forever. */
const HANDSHAKE_TIMEOUT_MS = 10_000;

export const nodeTransport: TransportFactory = (url, handlers, token) => {
  // A header, not the query: it stays out of URLs and the access logs of proxies on the way.
  const headers = token === undefined ? undefined : { authorization: `Bearer ${token}` };
  const ws = new WebSocket(url, { handshakeTimeout: HANDSHAKE_TIMEOUT_MS, headers });
  let kill: NodeJS.Timeout | undefined;
  ws.on('open', () => handlers.onOpen());
  ws.on('message', (data, isBinary) => {
    if (!isBinary) handlers.onMessage(data.toString());
  });
  // An 'error' listener is required (else `ws` throws); a 'close' always follows it.
  ws.on('error', (err) => handlers.onError(err.message));
  ws.on('close', (code, reason) => {
    clearTimeout(kill);
    handlers.onClose(code, reason.toString());
  });
  return {
    send: (text) => ws.send(text),
    close: (code, reason) => {
      if (ws.readyState === WebSocket.CLOSED) return;
      if (ws.readyState === WebSocket.CONNECTING) return ws.terminate();
      ws.close(code, reason);
      kill = setTimeout(() => ws.terminate(), CLOSE_GRACE_MS);
      kill.unref();
    },
  };
};
