/**
 * An HTTP reply written straight to a socket, then the socket ended: for
 * refusals before any WebSocket exists (the upgrade) and for requests Node
 * could not parse. The body is the API's JSON error shape.
 */
import { STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';

export function writeRawReply(socket: Duplex, status: number, body: string, headers: Readonly<Record<string, string>> = {}): void {
  let head = `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}\r\nConnection: close\r\nContent-Type: application/json; charset=utf-8\r\n`;
  for (const [name, value] of Object.entries(headers)) head += `${name}: ${value}\r\n`;
  socket.end(`${head}Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
}
