/**
 * The soak's fault-injecting proxy between the simulator and the ingest
 * nodes, in its own process so the harness's sampling never waits on it.
 * A deterministic share of POST /v1/events is answered 503 + Retry-After: 1
 * without reaching ingest (the reporter retries it under the same
 * Idempotency-Key); the rest alternate between the ingest nodes, status,
 * headers and body passed back. Every 202 is counted once per key: the
 * events the cluster accepted, which the aggregators must all apply.
 */
import http from 'node:http';
import { Pool } from 'undici';
import { AcceptedLedger, FaultPlan, type LedgerStats } from '../soak/faults.js';
import { serve } from '../lib/rpc.js';

export interface FaultProxyConfig {
  /** Ingest base URLs, used in turn. */
  upstreams: string[];
  share: number;
}

export interface FaultProxyStats extends LedgerStats {
  posts: number;
  /** Answered 503 here. */
  faults: number;
  forwarded: number;
  /** Replies from ingest by status. */
  statuses: Record<string, number>;
  /** Forwards that got no reply (answered 502 here). */
  upstreamErrors: number;
}

/** Headers undici sets itself, or refuses. */
const OWN = new Set(['connection', 'keep-alive', 'transfer-encoding', 'expect']);
const FAULT_BODY = JSON.stringify({ error: { code: 'unavailable', message: 'injected by the soak fault proxy' } });

const ledger = new AcceptedLedger();
const counts = { posts: 0, faults: 0, forwarded: 0, upstreamErrors: 0, statuses: {} as Record<string, number> };

function readBody(req: http.IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.once('end', () => resolve(Buffer.concat(chunks)));
    req.once('error', reject);
  });
}

function listen(cfg: FaultProxyConfig): Promise<{ port: number }> {
  const pools = cfg.upstreams.map((u) => new Pool(u, { connections: 8 }));
  const plan = new FaultPlan(cfg.share);
  let turn = 0;
  const server = http.createServer((req, res) => {
    void (async () => {
      const events = req.method === 'POST' && (req.url ?? '').split('?')[0] === '/v1/events';
      if (events) {
        counts.posts++;
        if (plan.next()) {
          counts.faults++;
          req.resume();
          res.writeHead(503, { 'content-type': 'application/json', 'retry-after': '1' });
          res.end(FAULT_BODY);
          return;
        }
      }
      const body = await readBody(req);
      const headers: Record<string, string> = {};
      for (const [name, value] of Object.entries(req.headers)) if (!OWN.has(name) && typeof value === 'string') headers[name] = value;
      const pool = pools[turn++ % pools.length]!;
      try {
        const up = await pool.request({ method: req.method as 'POST', path: req.url ?? '/', headers, body: body.length > 0 ? body : null });
        const reply = Buffer.from(await up.body.arrayBuffer());
        if (events) {
          counts.forwarded++;
          counts.statuses[up.statusCode] = (counts.statuses[up.statusCode] ?? 0) + 1;
          ledger.record(headers['idempotency-key'], up.statusCode, reply.toString());
        }
        const out: Record<string, string | string[]> = {};
        for (const [name, value] of Object.entries(up.headers)) if (!OWN.has(name) && value !== undefined) out[name] = value;
        res.writeHead(up.statusCode, out);
        res.end(reply);
      } catch {
        // The reporter retries a 502 like any 5xx; nothing reached the ledger.
        counts.upstreamErrors++;
        res.writeHead(502, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ error: { code: 'bad_gateway', message: 'ingest did not answer' } }));
      }
    })();
  });
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      resolve({ port: typeof address === 'object' && address ? address.port : 0 });
    });
  });
}

serve({
  listen,
  stats: (): FaultProxyStats => ({ ...counts, statuses: { ...counts.statuses }, ...ledger.stats() }),
});
