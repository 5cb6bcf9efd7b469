/**
 * The address a connection counts against for PULSE_GATEWAY_MAX_CONNECTIONS_PER_IP.
 * Behind a load balancer every socket comes from the balancer, so the
 * client's own address must be read from X-Forwarded-For — but only as many
 * entries from the right as there are proxies the operator trusts: anything
 * further left was written by the client and may be forged.
 */
import type { IncomingMessage } from 'node:http';

/**
 * `trustedHops` 0: the socket's peer. N: the entry N places from the right
 * of X-Forwarded-For (the address the outermost trusted proxy saw), or the
 * leftmost when the header is shorter; the peer without the header.
 */
export function clientAddress(req: IncomingMessage, trustedHops: number): string {
  const peer = req.socket.remoteAddress ?? 'unknown';
  if (trustedHops === 0) return peer;
  const header = req.headers['x-forwarded-for'];
  const hops = (Array.isArray(header) ? header.join(',') : (header ?? ''))
    .split(',')
    .map((h) => h.trim())
    .filter((h) => h !== '');
  if (hops.length === 0) return peer;
  return hops[Math.max(0, hops.length - trustedHops)]!;
}
