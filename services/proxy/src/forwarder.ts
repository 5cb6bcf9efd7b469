/**
 * Forwards one request to an upstream (undici, over its keep-alive pool) and
 * its response back, streaming both ways with backpressure, and, for a
 * recorded route (routes.ts), records what it saw as an Exchange. Bytes
 * first: each response chunk is handed to the caller before the observer
 * looks at it. A request on any other route is forwarded the same way and
 * observed not at all.
 *
 * How a request ends (each way calls `finish` once; the first one wins):
 * - the response's last byte is handed to the caller's socket;
 * - no connection to the upstream (refused, unreachable, connect timeout):
 *   502, and the upstream is ejected;
 * - the upstream drops the connection or stays silent past the idle
 *   timeout: 502 / 504 before the response started, else the caller's
 *   connection is cut so it cannot take a truncated stream for a whole one;
 * - the caller hangs up: the upstream request is aborted, so the server
 *   stops generating for nobody;
 * - a request undici refuses to send as it came (a duplicate Host): 400.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Transform, type TransformCallback } from 'node:stream';
import type { Dispatcher } from 'undici';
import type { PulseEvent } from '@pulse/protocol';
import { Exchange } from './exchange.js';
import { requestHeaders, responseHeaders } from './headers.js';
import { JsonFieldCapture } from './json-fields.js';
import { proxyErrorBody, ProxyFailure } from './openai-error.js';
import { observeResponse, type ResponseObserver } from './response-observer.js';
import type { RouteFilter } from './routes.js';
import type { Upstream, UpstreamPool } from './upstream-pool.js';

/** nginx's "client closed request": the caller left before any status was sent. */
const CLIENT_CLOSED_REQUEST = 499;

/** undici's codes for the upstream's silence, and for requests it will not send. */
const TIMEOUT_CODES = new Set(['UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT']);
const INVALID_CODES = new Set(['UND_ERR_INVALID_ARG', 'UND_ERR_NOT_SUPPORTED']);

/** Request bodies up to this size are read whole before they are sent on. */
const SMALL_BODY = 64 * 1024;

/** What a request body says of the request. */
const REQUEST_FIELDS = ['model', 'stream'];

export interface ForwarderDeps {
  readonly pool: UpstreamPool;
  /** `node` of the events. */
  readonly node: string;
  /** Which requests are recorded; the others make no event. */
  readonly records: RouteFilter;
  /** Takes each event; must not block (the batcher queues it). */
  readonly emit: (event: PulseEvent) => void;
}

export interface Forwarder {
  handle(req: IncomingMessage, res: ServerResponse): void;
  /** Requests between arrival and their end. */
  readonly active: number;
  /** Those of them that are recorded. */
  readonly recording: number;
  /** Ends every active request now, recording `failure` (shutdown past its grace). */
  abortAll(failure: ProxyFailure): void;
}

export function createForwarder(deps: ForwarderDeps): Forwarder {
  const active = new Set<ProxiedRequest>();
  return {
    handle: (req, res) => new ProxiedRequest(deps, active, req, res).send(),
    get active() {
      return active.size;
    },
    get recording() {
      let n = 0;
      for (const request of active) if (request.recorded) n++;
      return n;
    },
    abortAll: (failure) => {
      for (const request of [...active]) request.fail(failure, 'the proxy is shutting down');
    },
  };
}

/** One request on its way through: undici's handler for the upstream side. */
class ProxiedRequest implements Dispatcher.DispatchHandler {
  /** Null when the route is not recorded. */
  private readonly exchange: Exchange | null;
  private readonly upstream: Upstream;
  private done = false;
  /** Set once undici has a connection for the request: failures before it are connection failures. */
  private controller: Dispatcher.DispatchController | null = null;
  private observer: ResponseObserver | null = null;
  private status = 0;

  constructor(
    private readonly deps: ForwarderDeps,
    private readonly active: Set<ProxiedRequest>,
    private readonly req: IncomingMessage,
    private readonly res: ServerResponse,
  ) {
    const target = req.url ?? '/';
    this.exchange = deps.records(req.method, target) ? new Exchange(deps.emit, deps.node, target) : null;
    this.upstream = deps.pool.pick();
  }

  get recorded(): boolean {
    return this.exchange !== null;
  }

  send(): void {
    const { req, res, upstream } = this;
    upstream.inFlight++;
    upstream.requests++;
    this.active.add(this);
    res.on('close', this.onCallerClose);
    res.on('finish', this.onCallerFinish);
    const length = bodyLength(req);
    if (length === 0) {
      req.once('end', () => this.exchange?.start());
      req.resume();
      this.dispatch(null);
    } else if (length !== null && length <= SMALL_BODY) {
      this.sendWhole();
    } else {
      this.sendStreamed();
    }
  }

  private dispatch(body: Buffer | Transform | null): void {
    const { req } = this;
    this.upstream.dispatch(req.method ?? 'GET', req.url ?? '/', requestHeaders(req.rawHeaders), body, this);
  }

  /**
   * A small body (a chat request, nearly always in the packet of its head) is
   * sent with its head in one write, as nginx buffers request bodies: one
   * wake-up of the upstream instead of two.
   */
  private sendWhole(): void {
    const { req, exchange } = this;
    const parts: Buffer[] = [];
    req.on('data', (part: Buffer) => parts.push(part));
    req.once('end', () => {
      if (this.done) return;
      const body = parts.length === 1 ? parts[0]! : Buffer.concat(parts);
      if (exchange && isJson(req)) {
        const capture = new JsonFieldCapture(REQUEST_FIELDS);
        capture.write(body);
        exchange.describe(capture.fields());
      }
      exchange?.start();
      this.dispatch(body);
    });
  }

  /**
   * A large or chunked body streams through. Never as `req` itself: on a
   * failure undici destroys the body it was given, and destroying an
   * unfinished request would cut the caller's connection before it could
   * read the 502.
   */
  private sendStreamed(): void {
    const { exchange } = this;
    const body = new RequestBody(exchange && isJson(this.req) ? new JsonFieldCapture(REQUEST_FIELDS) : null, exchange);
    this.req.pipe(body);
    this.dispatch(body);
  }

  // --- undici's side

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.controller = controller;
    if (this.done) controller.abort(new Error('the request already ended'));
  }

  onResponseStart(controller: Dispatcher.DispatchController, statusCode: number, headers: Record<string, string | string[] | undefined>, statusMessage?: string): void {
    if (this.done || statusCode < 200) return; // informational responses are the proxy's own business
    const { res } = this;
    this.status = statusCode;
    const type = headers['content-type'];
    if (this.exchange) this.observer = observeResponse(Array.isArray(type) ? type[0] : type);
    res.writeHead(statusCode, statusMessage, responseHeaders(controller.rawHeaders as Buffer[]));
    // A body of known length follows its headers at once, and goes out with them in one write.
    // Any other (an event stream) may take its time: its caller sees the response open now.
    if (headers['content-length'] === undefined) res.flushHeaders();
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    if (this.done) return;
    if (!this.res.write(chunk) && !controller.paused) {
      controller.pause();
      this.res.once('drain', () => controller.resume());
    }
    this.observer?.write(chunk, performance.now());
  }

  onResponseEnd(): void {
    if (!this.done) this.res.end(); // 'finish' ends the request
  }

  onResponseError(_controller: Dispatcher.DispatchController, err: Error & { code?: string }): void {
    if (this.done) return;
    const detail = err.code === 'UND_ERR_SOCKET' ? 'the connection was closed' : (err.code ?? err.message);
    if (err.code !== undefined && TIMEOUT_CODES.has(err.code)) return this.fail(ProxyFailure.TIMEOUT, detail);
    if (err.code !== undefined && INVALID_CODES.has(err.code)) return this.fail(ProxyFailure.INVALID_REQUEST, err.message);
    if (this.controller) return this.fail(ProxyFailure.RESET, detail);
    this.deps.pool.eject(this.upstream, `connection failed: ${detail}`);
    this.fail(ProxyFailure.CONNECT_FAILED, detail);
  }

  // --- the caller's side

  /** The last byte is handed to the caller's socket. */
  private readonly onCallerFinish = () => this.finish(this.status);

  /** The caller hung up before the response was complete. */
  private readonly onCallerClose = () => {
    if (this.done || this.res.writableFinished) return;
    this.finish(this.res.headersSent ? this.res.statusCode : CLIENT_CLOSED_REQUEST, ProxyFailure.CLIENT_DISCONNECTED);
    this.controller?.abort(new Error('the caller hung up'));
  };

  /** Ends the request from the proxy's side: an error reply while none started, else a cut connection. */
  fail(failure: ProxyFailure, detail: string): void {
    if (this.done) return;
    const { res } = this;
    const status = res.headersSent ? res.statusCode : failureStatus(failure);
    this.finish(status, failure);
    this.controller?.abort(new Error(detail));
    if (res.headersSent) {
      res.destroy();
    } else {
      const body = proxyErrorBody(failure, detail);
      res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
      res.end(body);
    }
  }

  private finish(status: number, failure?: ProxyFailure): void {
    if (this.done) return;
    this.done = true;
    this.active.delete(this);
    this.upstream.inFlight--;
    const { req } = this;
    if (!req.readableEnded) {
      // Whatever the caller still uploads is read and discarded, so its connection can carry the reply.
      req.unpipe();
      req.resume();
    }
    this.exchange?.end({ status, failure, figures: this.observer?.figures(), at: performance.now() });
  }
}

function failureStatus(failure: ProxyFailure): number {
  if (failure === ProxyFailure.TIMEOUT) return 504;
  if (failure === ProxyFailure.INVALID_REQUEST) return 400;
  return 502;
}

/** The body's declared length: 0 when there is none, null when chunked. */
function bodyLength(req: IncomingMessage): number | null {
  if (req.headers['transfer-encoding'] !== undefined) return null;
  const length = req.headers['content-length'];
  return length === undefined ? 0 : Number(length);
}

function isJson(req: IncomingMessage): boolean {
  return req.headers['content-type']?.split(';', 1)[0]!.trim().toLowerCase() === 'application/json';
}

/**
 * The request body on its way to undici, untouched. Reads `model` and
 * `stream` from a JSON body as it streams past, and stops looking once both
 * are found: a 5 MB prompt is not scanned past the fields. The start is
 * recorded once the body is in, with the fields it named (when the request
 * is recorded at all: `exchange` null passes the bytes on and nothing else).
 */
class RequestBody extends Transform {
  constructor(
    private capture: JsonFieldCapture | null,
    private readonly exchange: Exchange | null,
  ) {
    super();
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    const capture = this.capture;
    if (capture) {
      capture.write(chunk);
      if (capture.done) this.describe();
    }
    callback(null, chunk);
  }

  override _flush(callback: TransformCallback): void {
    this.describe();
    this.exchange?.start();
    callback();
  }

  private describe(): void {
    if (!this.capture) return;
    this.exchange?.describe(this.capture.fields());
    this.capture = null;
  }
}
