/**
 * The proxy scenario's second reference: the least an HTTP proxy on Node
 * can do — Node's HTTP server and undici's pool (the proxy's own stack),
 * passing requests and responses through and observing nothing. The gap
 * between it and the bare TCP relay is what Node's HTTP parsing and
 * framing cost here; the gap above it is the proxy's own work.
 *
 * Usage: node http-relay.js <listen port> <upstream port>
 */
import http from 'node:http';
import { Pool } from 'undici';

const [listenPort, upstreamPort] = process.argv.slice(2).map(Number);
if (!listenPort || !upstreamPort) throw new Error('usage: http-relay.js <listen port> <upstream port>');

const pool = new Pool(`http://127.0.0.1:${upstreamPort}`);
/** Headers undici sets itself, or refuses. */
const OWN = new Set(['connection', 'keep-alive', 'transfer-encoding', 'expect']);

http
  .createServer((req, res) => {
    const headers: Record<string, string> = {};
    for (const [name, value] of Object.entries(req.headers)) if (!OWN.has(name) && typeof value === 'string') headers[name] = value;
    const hasBody = req.headers['content-length'] !== undefined || req.headers['transfer-encoding'] !== undefined;
    pool
      .stream({ method: req.method as 'GET', path: req.url ?? '/', headers, body: hasBody ? req : null }, ({ statusCode, headers: upHeaders }) => {
        const out: Record<string, string | string[]> = {};
        for (const [name, value] of Object.entries(upHeaders)) if (!OWN.has(name) && value !== undefined) out[name] = value;
        res.writeHead(statusCode, out);
        return res;
      })
      .catch(() => res.destroy());
  })
  .listen(listenPort, '127.0.0.1');
