/**
 * Forwards one request to an upstream and its response back, streaming both
 * ways with backpressure (pipes, never a buffered body), and records what it
 * saw as an Exchange. Bytes first: each response chunk is handed to the
 * caller before the observer looks at it.
 *
 * How a request ends (each way calls `finish` once; the first one wins):
 * - the response's last byte is handed to the caller's socket;
 * - no connection to the upstream (refused, unreachable, connect timeout):
 *   502, and the upstream is ejected;
 * - the upstream drops the connection or stays silent past the idle
 *   timeout: 502 / 504 before the response started, else the caller's
 *   connection is cut so it cannot take a truncated stream for a whole one;
 * - the caller hangs up: the upstream request is aborted, so the server
 *   stops generating for nobody.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { PulseEvent } from '@pulse/protocol';
import { Exchange } from './exchange.js';
import { endToEndHeaders } from './headers.js';
import { JsonFieldCapture } from './json-fields.js';
import { proxyErrorBody, ProxyFailure } from './openai-error.js';
import { observeResponse, type ResponseObserver } from './response-observer.js';
import type { UpstreamPool } from './upstream-pool.js';

/** nginx's "client closed request": the caller left before any status was sent. */
const CLIENT_CLOSED_REQUEST = 499;

export interface ForwarderDeps {
  readonly pool: UpstreamPool;
  /** `node` of the events. */
  readonly node: string;
  readonly connectTimeoutMs: number;
  readonly idleTimeoutMs: number;
  /** Takes each event; must not block (the batcher queues it). */
  readonly emit: (event: PulseEvent) => void;
}

export interface Forwarder {
  handle(req: IncomingMessage, res: ServerResponse): void;
  /** Requests between arrival and their end. */
  readonly active: number;
  /** Ends every active request now, recording `failure` (shutdown past its grace). */
  abortAll(failure: ProxyFailure): void;
}

export function createForwarder(deps: ForwarderDeps): Forwarder {
  const aborts = new Set<(failure: ProxyFailure) => void>();
  return {
    handle: (req, res) => forward(deps, aborts, req, res),
    get active() {
      return aborts.size;
    },
    abortAll: (failure) => {
      for (const abort of [...aborts]) abort(failure);
    },
  };
}

function forward(
  { pool, node, connectTimeoutMs, idleTimeoutMs, emit }: ForwarderDeps,
  aborts: Set<(failure: ProxyFailure) => void>,
  req: IncomingMessage,
  res: ServerResponse,
): void {
  const exchange = new Exchange(emit, node, req.url ?? '/');
  const upstream = pool.pick();
  upstream.inFlight++;
  upstream.requests++;

  let done = false;
  let connected = false;
  let timedOut = false;
  let observer: ResponseObserver | null = null;

  const up = upstream.request(req.method ?? 'GET', req.url ?? '/', endToEndHeaders(req.rawHeaders));

  const finish = (status: number, failure?: ProxyFailure) => {
    if (done) return;
    done = true;
    aborts.delete(abort);
    upstream.inFlight--;
    if (!req.readableEnded) {
      // Whatever the caller still uploads is read and discarded, so its connection can carry the reply.
      req.unpipe(up);
      req.resume();
    }
    exchange.end({ status, failure, figures: observer?.figures(), at: performance.now() });
  };

  /** Ends the request from the proxy's side: an error reply while none started, else a cut connection. */
  const fail = (failure: ProxyFailure, detail: string) => {
    if (done) return;
    const status = res.headersSent ? res.statusCode : failure === ProxyFailure.TIMEOUT ? 504 : 502;
    finish(status, failure);
    up.destroy();
    if (res.headersSent) {
      res.destroy();
    } else {
      const body = proxyErrorBody(failure, detail);
      res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
      res.end(body);
    }
  };

  const abort = (failure: ProxyFailure) => fail(failure, 'the proxy is shutting down');
  aborts.add(abort);

  // The caller hung up before the response was complete.
  res.on('close', () => {
    if (done || res.writableFinished) return;
    finish(res.headersSent ? res.statusCode : CLIENT_CLOSED_REQUEST, ProxyFailure.CLIENT_DISCONNECTED);
    up.destroy();
  });

  readRequestFields(req, exchange);
  req.pipe(up);

  up.on('socket', (socket: Socket) => {
    if (!socket.connecting) {
      connected = true; // a kept-alive socket
      return;
    }
    const timer = setTimeout(() => up.destroy(new Error(`no connection within ${connectTimeoutMs} ms`)), connectTimeoutMs);
    socket.once('connect', () => {
      connected = true;
      clearTimeout(timer);
    });
    socket.once('close', () => clearTimeout(timer));
  });
  up.setTimeout(idleTimeoutMs, () => {
    timedOut = true;
    up.destroy(new Error(`no byte from the upstream for ${idleTimeoutMs} ms`));
  });

  up.on('error', (err: NodeJS.ErrnoException) => {
    const detail = err.code ?? err.message;
    if (timedOut) return fail(ProxyFailure.TIMEOUT, detail);
    if (connected) return fail(ProxyFailure.RESET, detail);
    if (!done) pool.eject(upstream, `connection failed: ${detail}`);
    fail(ProxyFailure.CONNECT_FAILED, detail);
  });

  up.on('response', (upRes: IncomingMessage) => {
    if (done) {
      upRes.resume();
      return;
    }
    const status = upRes.statusCode ?? 502;
    observer = observeResponse(upRes.headers['content-type']);
    res.writeHead(status, upRes.statusMessage, endToEndHeaders(upRes.rawHeaders));
    // A body of known length follows its headers at once, and goes out with them in one write.
    // Any other (an event stream) may take its time: its caller sees the response open now.
    if (upRes.headers['content-length'] === undefined) res.flushHeaders();
    upRes.pipe(res);
    // After the pipe's own listener: each chunk is written to the caller before it is observed.
    const seen = observer;
    upRes.on('data', (chunk: Buffer) => seen.write(chunk, performance.now()));
    upRes.on('close', () => {
      if (!upRes.complete) fail(timedOut ? ProxyFailure.TIMEOUT : ProxyFailure.RESET, 'the response was cut short');
    });
    res.on('finish', () => finish(status));
  });
}

/**
 * Reads `model` and `stream` from a JSON body as it streams past, and
 * records the start once the body is in. Stops reading early once both are
 * found: a 5 MB prompt is not scanned past the fields.
 */
function readRequestFields(req: IncomingMessage, exchange: Exchange): void {
  const type = req.headers['content-type']?.split(';', 1)[0]!.trim().toLowerCase();
  if (type !== 'application/json') {
    req.once('end', () => exchange.start());
    return;
  }
  const capture = new JsonFieldCapture(['model', 'stream']);
  const onData = (chunk: Buffer) => {
    capture.write(chunk);
    if (capture.done) req.off('data', onData);
  };
  req.on('data', onData);
  req.once('end', () => {
    exchange.describe(capture.fields());
    exchange.start();
  });
}
