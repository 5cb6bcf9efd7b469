/** The transport over the platform's global WebSocket (browsers; Node 22+). */
import type { TransportFactory } from './transport.js';

export const browserTransport: TransportFactory = (url, handlers, token) => {
  if (typeof WebSocket === 'undefined') {
    throw new Error("no global WebSocket here: in Node 20 import from '@pulse/client/node', or pass a transport");
  }
  const ws = new WebSocket(token === undefined ? url : withToken(url, token));
  ws.onopen = () => handlers.onOpen();
  ws.onmessage = (event) => {
    if (typeof event.data === 'string') handlers.onMessage(event.data);
  };
  // The browser hides the cause (by design); the close code that follows is what the client acts on.
  ws.onerror = () => handlers.onError('connection error');
  ws.onclose = (event) => handlers.onClose(event.code, event.reason);
  return {
    send: (text) => ws.send(text),
    close: (code, reason) => ws.close(code, reason),
  };
};

/** A page cannot set headers on a WebSocket: the gateway takes the token from the `token` query parameter instead. */
export function withToken(url: string, token: string): string {
  const u = new URL(url);
  u.searchParams.set('token', token);
  return u.toString();
}
