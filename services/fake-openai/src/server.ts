/**
 * The fake upstream: an OpenAI-compatible HTTP server with configurable
 * timing, errors and cache figures, for the proxy's tests, the demo and the
 * benchmark. Plain `node:http`, so that as an upstream it costs little next
 * to the proxy being measured.
 *
 * POST /v1/chat/completions, /v1/completions (streaming or not),
 * /v1/embeddings; GET /v1/models; GET /health, /healthz, /readyz.
 */
import { once } from 'node:events';
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { closingChunks, completionBody, openingChunk, planCompletion, tokenChunk, type Completion, type CompletionKind } from './completions.js';
import { embeddingsBody } from './embeddings.js';
import { withDefaults, type Behaviour, type FakeOpenAIOptions } from './options.js';

/** Largest request body read; OpenAI's own limit is in this range. */
const MAX_BODY_BYTES = 64 * 1024 * 1024;

export interface FakeOpenAIStats {
  /** API requests received (health checks and model lists excluded). */
  readonly requests: number;
  /** Answered with an injected 500. */
  readonly errors: number;
  /** Callers that hung up before the response was complete. */
  readonly cancelled: number;
}

export interface FakeOpenAI {
  readonly server: http.Server;
  stats(): FakeOpenAIStats;
  /** Listens (port 0: any free one) and resolves with the base URL. */
  listen(port?: number, host?: string): Promise<string>;
  /** Stops listening and drops every connection, as a crash would look to a proxy. */
  close(): Promise<void>;
}

const POST_ROUTES: Record<string, CompletionKind | 'embeddings'> = {
  '/v1/chat/completions': 'chat',
  '/v1/completions': 'text',
  '/v1/embeddings': 'embeddings',
};

export function createFakeOpenAI(options: FakeOpenAIOptions = {}): FakeOpenAI {
  const behaviour = withDefaults(options);
  const stats = { requests: 0, errors: 0, cancelled: 0 };
  let nextId = 0;

  const server = http.createServer((req, res) => {
    handle(req, res).catch(() => {
      // Only a failed write to a caller that is gone gets here; nothing is left to answer.
      res.destroy();
    });
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?', 1)[0]!;
    if (req.method === 'GET' && (path === '/health' || path === '/healthz' || path === '/readyz')) {
      return sendJson(res, 200, JSON.stringify({ status: 'ok' }));
    }
    if (req.method === 'GET' && path === '/v1/models') {
      return sendJson(res, 200, JSON.stringify({ object: 'list', data: [{ id: 'fake-gpt', object: 'model', created: 0, owned_by: 'pulse' }] }));
    }
    const route = req.method === 'POST' ? POST_ROUTES[path] : undefined;
    if (!route) return sendError(res, 404, 'invalid_request_error', `Unknown request URL: ${req.method} ${path}`);
    stats.requests++;
    let cancelled = false;
    res.on('close', () => {
      if (res.writableFinished) return;
      cancelled = true;
      stats.cancelled++;
    });

    const body = await readJsonObject(req);
    if (!body) return sendError(res, 400, 'invalid_request_error', 'The request body must be a JSON object.');
    await sleep(behaviour.latencyMs);
    if (cancelled) return;
    if (behaviour.random() < behaviour.errorRate) {
      stats.errors++;
      return sendError(res, 500, 'server_error', 'The server had an error while processing your request.');
    }
    if (route === 'embeddings') return sendJson(res, 200, embeddingsBody(body, behaviour.embeddingDimensions));
    const completion = planCompletion(route, body, behaviour, `${route === 'chat' ? 'chatcmpl' : 'cmpl'}-fake${++nextId}`);
    if (completion.stream) return stream(res, completion, behaviour, () => cancelled);
    await sleep(generationMs(behaviour, completion.completionTokens));
    if (!cancelled) sendJson(res, 200, completionBody(completion));
  }

  return {
    server,
    stats: () => ({ ...stats }),
    async listen(port = 0, host = '127.0.0.1') {
      server.listen(port, host);
      await once(server, 'listening');
      const address = server.address() as AddressInfo;
      return `http://${host.includes(':') ? `[${host}]` : host}:${address.port}`;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** Sends the chunks of a streamed completion on their schedule: first token at TTFT, then one per 1/rate. */
async function stream(res: ServerResponse, c: Completion, behaviour: Behaviour, cancelled: () => boolean): Promise<void> {
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
  const opening = openingChunk(c);
  if (opening) res.write(sse(opening));
  else res.flushHeaders();
  const start = performance.now();
  for (let i = 0; i < c.completionTokens; i++) {
    await sleep(start + generationMs(behaviour, i + 1) - performance.now());
    if (cancelled()) return;
    res.write(sse(tokenChunk(c, i)));
  }
  for (const chunk of closingChunks(c)) res.write(sse(chunk));
  res.end('data: [DONE]\n\n');
}

/** Time from the headers to the `tokens`-th token: TTFT, then one token per 1/rate. */
function generationMs({ ttftMs, tokensPerSecond }: Behaviour, tokens: number): number {
  if (tokens <= 0) return 0;
  return ttftMs + (tokensPerSecond > 0 ? ((tokens - 1) * 1000) / tokensPerSecond : 0);
}

function sse(data: string): string {
  return `data: ${data}\n\n`;
}

function sendJson(res: ServerResponse, status: number, body: string): void {
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

function sendError(res: ServerResponse, status: number, type: string, message: string): void {
  sendJson(res, status, JSON.stringify({ error: { message, type, param: null, code: null } }));
}

async function readJsonObject(req: IncomingMessage): Promise<Record<string, unknown> | null> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) return null;
    chunks.push(chunk);
  }
  try {
    const parsed: unknown = JSON.parse(Buffer.concat(chunks).toString('utf8'));
    return typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed) ? (parsed as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}

/** Waits `ms`; no timer at all for 0, so a zero-delay fake answers in the same turn. */
function sleep(ms: number): Promise<void> {
  return ms > 0 ? new Promise((resolve) => setTimeout(resolve, ms)) : Promise.resolve();
}
