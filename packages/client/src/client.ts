/**
 * The Pulse client core, transport-agnostic: one logical subscription over a
 * succession of WebSocket connections. It reconnects after any close the
 * server does not mark terminal (exponential backoff, full jitter), brings
 * every new connection back to the filters the old one had, keeps the
 * connection alive with pings and replaces one that went silent.
 *
 * Gapless (docs/PROTOCOL.md §5.11): it remembers the timestamp of the last
 * `metrics_update` it delivered and, on each reconnect, re-sends its
 * subscription with `since`; the `history` answer's points reach the
 * application as `metrics_update`s marked `backfill: true`, in order, before
 * the live ones, and no update at or before one already delivered is
 * delivered again.
 */
import type { Deltas, ServerMessage, ViewData } from '@pulse/protocol';
import { backoffDelay } from '@pulse/protocol/backoff';
import { CloseCode, shouldReconnect } from '@pulse/protocol/close-codes';
import { decodeServerMessage } from './decode.js';
import { MessageStream } from './message-stream.js';
import { SubscriptionLedger, type EffectiveFilters, type Request, type SubscribeFilters } from './subscriptions.js';
import type { Transport, TransportFactory } from './transport.js';

export interface PulseClientOptions {
  /** Opens one connection. The entry points fill it in: the global WebSocket, or `ws` for '@pulse/client/node'. */
  transport: TransportFactory;
  /** Reconnect after a close that is not terminal (codes ≥ 4500 are). Default true. */
  reconnect?: boolean;
  /** Ceiling of the first reconnect delay, ms. Default 250. */
  initialDelayMs?: number;
  /** Largest reconnect delay ceiling, ms. Default 10000. */
  maxDelayMs?: number;
  /** Connection attempts in a row that may fail before the client gives up. Default Infinity. */
  maxAttempts?: number;
  /** A `ping` goes out this often, ms; 0 turns keepalive off. Default 15000. */
  pingIntervalMs?: number;
  /** A connection that received nothing for this long is dropped and replaced, ms. Default twice the ping interval. */
  idleTimeoutMs?: number;
  /** Messages an iterator holds for a slow consumer before it drops the oldest. Default 1000. */
  bufferSize?: number;
  /** Random source of the jitter; for tests. */
  random?: () => number;
  /** Read token of a Pulse with authentication on (docs/SECURITY.md); the transport sends it. Default none. */
  token?: string;
  /**
   * Fill the gap of a reconnect (docs/PROTOCOL.md §5.11): ask for the updates
   * missed, deliver them as `metrics_update`s with `backfill: true`, and never
   * deliver an update at or before the last one delivered. Default true.
   */
  backfill?: boolean;
}

export type ConnectionState = 'connecting' | 'open' | 'reconnecting' | 'closed';

export interface ConnectionStatus {
  readonly state: ConnectionState;
  /** Connection attempts that failed in a row; back to 0 once the server sends `historical_data`. */
  readonly attempt: number;
  /** `reconnecting`: ms until the next attempt. */
  readonly delayMs?: number;
  /** `reconnecting`, `closed`: how the last connection ended. */
  readonly code?: number;
  readonly reason?: string;
  /** The last transport error, when the platform gave one (Node does, browsers do not). */
  readonly error?: string;
}

type Listener<T> = (value: T) => void;

/** Close code the client reports for a connection it dropped because it went silent. */
const SILENT = CloseCode.HEARTBEAT_TIMEOUT;

export class PulseClient implements AsyncIterable<ServerMessage> {
  /** Resolves once the client is closed for good: close() was called, or reconnecting stopped. */
  readonly closed: Promise<ConnectionStatus>;

  private readonly opts: Required<Omit<PulseClientOptions, 'idleTimeoutMs' | 'token'>> & { idleTimeoutMs: number; token: string | undefined };
  private readonly ledger = new SubscriptionLedger();
  private readonly messageListeners = new Set<Listener<ServerMessage>>();
  private readonly statusListeners = new Set<Listener<ConnectionStatus>>();
  private readonly streams = new Set<MessageStream<ServerMessage>>();
  private transport: Transport | null = null;
  private isOpen = false;
  private attempt = 0;
  private lastReceivedAt = 0;
  private lastError: string | undefined;
  private reconnectTimer: ReturnType<typeof setTimeout> | null = null;
  private keepaliveTimer: ReturnType<typeof setInterval> | null = null;
  private closing = false;
  private current: ConnectionStatus = { state: 'connecting', attempt: 0 };
  /** Timestamp of the last `metrics_update` delivered, and its delta figures (backfill). */
  private lastUpdateAt: number | null = null;
  private lastFigures: Figures = {};
  private resolveClosed!: (status: ConnectionStatus) => void;

  constructor(
    readonly url: string,
    options: PulseClientOptions,
  ) {
    const pingIntervalMs = options.pingIntervalMs ?? 15_000;
    this.opts = {
      reconnect: true,
      initialDelayMs: 250,
      maxDelayMs: 10_000,
      maxAttempts: Infinity,
      bufferSize: 1000,
      random: Math.random,
      backfill: true,
      ...options,
      pingIntervalMs,
      idleTimeoutMs: options.idleTimeoutMs ?? 2 * pingIntervalMs,
      token: options.token,
    };
    this.closed = new Promise((resolve) => (this.resolveClosed = resolve));
    this.connect();
  }

  get status(): ConnectionStatus {
    return this.current;
  }

  /** The filters the server last confirmed (`subscribed`); null while they are the defaults. */
  get filters(): EffectiveFilters | null {
    return this.ledger.filters;
  }

  /**
   * Adds filters (docs/PROTOCOL.md §5); sent now or on the next connection, and kept
   * across reconnects. Throws a RangeError when 256 requests are unanswered
   * (subscribing in a loop while offline).
   */
  subscribe(filters: SubscribeFilters = {}): void {
    this.request({ type: 'subscribe', filters });
  }

  /** Resets every filter to its default, here and on every later connection. */
  unsubscribe(): void {
    this.request({ type: 'unsubscribe' });
  }

  /** Timestamp of the last `metrics_update` delivered (a reconnect asks for what came after it); null before the first. */
  get lastUpdate(): number | null {
    return this.lastUpdateAt;
  }

  /** Sends a `ping` now; false when not connected. Keepalive pings go out on their own. */
  ping(): boolean {
    return this.send({ type: 'ping' });
  }

  /** Calls `listener` with every server message; returns a function that stops it. */
  onMessage(listener: Listener<ServerMessage>): () => void {
    this.messageListeners.add(listener);
    return () => this.messageListeners.delete(listener);
  }

  /** Calls `listener` on every connection state change; returns a function that stops it. */
  onStatus(listener: Listener<ConnectionStatus>): () => void {
    this.statusListeners.add(listener);
    return () => this.statusListeners.delete(listener);
  }

  /** Every server message from now on, across reconnects, until the client closes. */
  messages(): MessageStream<ServerMessage> {
    const stream = new MessageStream<ServerMessage>(this.opts.bufferSize, () => this.streams.delete(stream));
    if (this.current.state === 'closed') stream.end();
    else this.streams.add(stream);
    return stream;
  }

  [Symbol.asyncIterator](): AsyncIterator<ServerMessage> {
    return this.messages();
  }

  /** Closes the connection (code 1000) and stops reconnecting; iterators end. Idempotent. */
  close(): Promise<ConnectionStatus> {
    if (!this.closing) {
      this.closing = true;
      this.clearReconnect();
      this.stopKeepalive();
      if (this.transport) this.transport.close(1000, 'client closing');
      else this.finish(1000, 'client closing');
    }
    return this.closed;
  }

  private request(request: Request): void {
    if (this.closing) return;
    this.ledger.request(request);
    this.send(request);
  }

  private send(message: object): boolean {
    if (!this.isOpen || !this.transport) return false;
    this.transport.send(JSON.stringify(message));
    return true;
  }

  private connect(): void {
    this.setStatus({ state: 'connecting', attempt: this.attempt });
    // Events of a transport the client has let go of (see dropSilent) are ignored.
    const transport: Transport = this.opts.transport(this.url, {
      onOpen: () => this.transport === transport && this.handleOpen(),
      onMessage: (text) => this.transport === transport && this.handleText(text),
      onError: (message) => {
        if (this.transport === transport) this.lastError = message;
      },
      onClose: (code, reason) => this.transport === transport && this.handleClose(code, reason),
    }, this.opts.token);
    this.transport = transport;
  }

  private handleOpen(): void {
    this.isOpen = true;
    this.lastError = undefined;
    this.lastReceivedAt = performance.now();
    this.setStatus({ state: 'open', attempt: this.attempt });
    const since = this.opts.backfill && this.lastUpdateAt !== null ? this.lastUpdateAt : undefined;
    for (const request of this.ledger.replay(since)) this.send(request);
    this.startKeepalive();
  }

  private handleText(text: string): void {
    this.lastReceivedAt = performance.now();
    const message = decodeServerMessage(text);
    if (!message) return;
    // The server's first message proves the connection works: only then does the backoff start over.
    if (message.type === 'historical_data') this.attempt = 0;
    this.ledger.settle(message);
    if (this.opts.backfill) {
      if (message.type === 'metrics_update') {
        // Already delivered (from a history answer, or a gateway behind the last one): never twice, never backwards.
        if (this.lastUpdateAt !== null && message.timestamp <= this.lastUpdateAt) return;
        this.noteUpdate(message.timestamp, message.data);
      } else if (message.type === 'history') {
        this.deliverHistory(message);
        return;
      }
    }
    this.deliver(message);
  }

  private deliver(message: ServerMessage): void {
    for (const listener of this.messageListeners) listener(message);
    for (const stream of this.streams) stream.push(message);
  }

  private noteUpdate(timestamp: number, data: ViewData): void {
    this.lastUpdateAt = timestamp;
    this.lastFigures = figuresOf(data, this.lastFigures);
  }

  /**
   * The points of a `history` answer not delivered yet, as updates marked
   * `backfill`, their deltas each from the update before; the answer itself
   * only when it carries an `error` (the gap is not, or not all, filled),
   * with its points emptied, as they went out as updates.
   */
  private deliverHistory(message: Extract<ServerMessage, { type: 'history' }>): void {
    for (const point of message.points) {
      if (this.lastUpdateAt !== null && point.timestamp <= this.lastUpdateAt) continue;
      const deltas = deltasOf(point.data, this.lastFigures);
      this.noteUpdate(point.timestamp, point.data);
      this.deliver({ type: 'metrics_update', timestamp: point.timestamp, data: point.data, deltas, backfill: true });
    }
    if (message.error !== undefined) this.deliver({ ...message, points: [] });
  }

  private handleClose(code: number, reason: string): void {
    this.transport = null;
    this.isOpen = false;
    this.stopKeepalive();
    const { reconnect, maxAttempts, initialDelayMs, maxDelayMs, random } = this.opts;
    if (this.closing || !reconnect || !shouldReconnect(code) || this.attempt >= maxAttempts) {
      this.finish(code, reason);
      return;
    }
    const delayMs = backoffDelay(this.attempt, { initialDelayMs, maxDelayMs }, random);
    this.attempt += 1;
    this.setStatus({ state: 'reconnecting', attempt: this.attempt, delayMs, code, reason, ...(this.lastError ? { error: this.lastError } : {}) });
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = null;
      this.connect();
    }, delayMs);
  }

  private finish(code: number, reason: string): void {
    this.closing = true;
    const status: ConnectionStatus = { state: 'closed', attempt: this.attempt, code, reason, ...(this.lastError ? { error: this.lastError } : {}) };
    this.setStatus(status);
    for (const stream of [...this.streams]) stream.end();
    this.resolveClosed(status);
  }

  private startKeepalive(): void {
    const { pingIntervalMs, idleTimeoutMs } = this.opts;
    if (pingIntervalMs <= 0) return;
    this.keepaliveTimer = setInterval(() => {
      if (performance.now() - this.lastReceivedAt > idleTimeoutMs) this.dropSilent();
      else this.send({ type: 'ping' });
    }, pingIntervalMs);
  }

  /**
   * A connection that answers nothing, not even pings, is as good as gone
   * (a half-open TCP connection can look alive for minutes): let it go
   * without waiting for its closing handshake, and reconnect.
   */
  private dropSilent(): void {
    const silent = this.transport;
    this.transport = null;
    silent?.close(1000, 'no message from the server');
    this.handleClose(SILENT, 'no message from the server within the idle timeout');
  }

  private stopKeepalive(): void {
    if (this.keepaliveTimer) clearInterval(this.keepaliveTimer);
    this.keepaliveTimer = null;
  }

  private clearReconnect(): void {
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    this.reconnectTimer = null;
  }

  private setStatus(status: ConnectionStatus): void {
    this.current = status;
    for (const listener of this.statusListeners) listener(status);
  }
}

/** The three figures deltas compare (docs/PROTOCOL.md §5.6), as last seen. */
interface Figures {
  requests?: number;
  tokens?: number;
  active?: number;
}

function figuresOf(data: ViewData, prev: Figures): Figures {
  return {
    requests: data.throughput?.total_requests_per_sec ?? prev.requests,
    tokens: data.throughput?.total_tokens_per_sec ?? prev.tokens,
    active: data.queue?.active_streams ?? data.streaming?.active_streams ?? prev.active,
  };
}

/** A backfilled point's deltas, as the server computes a live update's: from the update delivered before it. */
function deltasOf(data: ViewData, prev: Figures): Deltas {
  const now = figuresOf(data, prev);
  const d = (a: number | undefined, b: number | undefined) => (a === undefined || b === undefined ? 0 : a - b);
  const deltas: Deltas = {};
  if (data.throughput) deltas.throughput = { total_requests_per_sec: d(now.requests, prev.requests), total_tokens_per_sec: d(now.tokens, prev.tokens) };
  if (data.streaming) deltas.streaming = { active_streams_delta: d(now.active, prev.active) };
  return deltas;
}
