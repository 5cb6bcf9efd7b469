/**
 * The Pulse client core, transport-agnostic: one logical subscription over a
 * succession of WebSocket connections. It reconnects after any close the
 * server does not mark terminal (exponential backoff, full jitter), brings
 * every new connection back to the filters the old one had, keeps the
 * connection alive with pings and replaces one that went silent.
 */
import type { ServerMessage } from '@pulse/protocol';
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
    for (const request of this.ledger.replay()) this.send(request);
    this.startKeepalive();
  }

  private handleText(text: string): void {
    this.lastReceivedAt = performance.now();
    const message = decodeServerMessage(text);
    if (!message) return;
    // The server's first message proves the connection works: only then does the backoff start over.
    if (message.type === 'historical_data') this.attempt = 0;
    this.ledger.settle(message);
    for (const listener of this.messageListeners) listener(message);
    for (const stream of this.streams) stream.push(message);
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
