/**
 * The WebSocket side of the gateway: upgrades on /metrics/stream (anything
 * else 404; a foreign origin 403; no valid read token 401; over capacity or
 * shutting down 503; too many from one address 429 — all before the
 * upgrade, so no WebSocket is opened), one ClientSession per connection, its
 * frames answered, and the protections of the `ws` README: heartbeats that
 * terminate dead peers, `maxPayload`, a per-client rate limit, slow
 * consumers closed, an 'error' listener on every socket. Every refusal is
 * counted in the self-metrics.
 */
import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type ServerOptions, type WebSocket } from 'ws';
import { CloseCode, ErrorCode, HTTP_STATUS, type SubscribeLimits } from '@pulse/protocol';
import { errorBody, errorHeaders, pathOf, type LimitCounters, type Logger } from '@pulse/runtime';
import type { AccessPolicy } from './access.js';
import type { Backfills } from './backfill.js';
import { clientAddress } from './client-address.js';
import { handleClientFrame, type SubscribeGuard } from './client-messages.js';
import { ClientSession } from './client-session.js';
import type { ViewRegistry } from './view-registry.js';
import type { GatewayClock } from './clock.js';
import { ConnectionQuota } from './connection-quota.js';
import { errorReply } from './frames.js';
import { MessageRateLimiter } from './rate-limit.js';
import { writeRawReply } from './raw-reply.js';
import { FrameSocket } from './ws-frame.js';
import type { SnapshotState } from './snapshot-state.js';

export const STREAM_PATH = '/metrics/stream';

export interface StreamServerOptions {
  tickMs: number;
  maxConnections: number;
  maxPayloadBytes: number;
  heartbeatMs: number;
  messagesPerSec: number;
  maxConnectionsPerIp: number;
  /** X-Forwarded-For entries trusted for the per-address limit (see client-address.ts). */
  trustedProxyHops: number;
  subscribeLimits: SubscribeLimits;
  access: AccessPolicy;
  counters: LimitCounters;
  /** How long a closing handshake may take before the socket is destroyed. */
  closeTimeoutMs: number;
  state: SnapshotState;
  /** The distinct views served and their ceiling. */
  views: ViewRegistry;
  clock: GatewayClock;
  logger: Logger;
  /** Answers subscribes with `since` (docs/PROTOCOL.md §5.11); without it `since` is checked and ignored. */
  backfills?: Backfills;
}

/** What the server keeps per client beyond the session's pure state. */
interface Connection {
  readonly ws: WebSocket;
  readonly session: ClientSession;
  readonly limiter: MessageRateLimiter;
  readonly connectedAt: number;
  lastPongAt: number;
  /** Which slice of the heartbeat period pings this client. */
  readonly pingSlice: number;
}

/**
 * Each heartbeat period pings its clients in this many slices, so 10,000
 * pings (and their pongs) never land in one burst beside a snapshot's sends.
 */
const PING_SLICES = 10;

const TEXT = { binary: false } as const;

export class StreamServer {
  private readonly wss: WebSocketServer;
  /** Clients that get updates; one leaves it as soon as it is being closed. */
  private readonly clients = new Map<ClientSession, Connection>();
  private readonly heartbeat: NodeJS.Timeout;
  private readonly log: Logger;
  private readonly quota: ConnectionQuota;
  private readonly guard: SubscribeGuard;
  private accepting = true;
  /** The slice the next heartbeat pings, and the slice the next client joins. */
  private beatSlice = 0;
  private joinSlice = 0;

  constructor(
    server: Server,
    private readonly opts: StreamServerOptions,
  ) {
    this.log = opts.logger.child({ component: 'ws' });
    this.quota = new ConnectionQuota(opts.maxConnectionsPerIp);
    this.guard = { limits: opts.subscribeLimits, onLimit: (limit) => opts.counters.hit(limit) };
    // `closeTimeout` exists in ws 8 but not in its type definitions.
    const wsOptions = {
      noServer: true,
      maxPayload: opts.maxPayloadBytes,
      // Off: fan-out writes whole frames past `ws` (ws-frame.ts), which a compressed send could be queued behind.
      perMessageDeflate: false,
      closeTimeout: opts.closeTimeoutMs,
    } as ServerOptions;
    this.wss = new WebSocketServer(wsOptions);
    this.wss.on('error', (err) => this.log.error({ err }, 'websocket server error'));
    server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => this.upgrade(req, socket, head));
    this.heartbeat = setInterval(() => this.beat(), opts.heartbeatMs / PING_SLICES);
    this.heartbeat.unref();
  }

  /** The clients fan-out serves. */
  get sessions(): Iterable<ClientSession> {
    return this.clients.keys();
  }

  get size(): number {
    return this.clients.size;
  }

  private upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    // A peer resetting mid-handshake must not become an uncaught 'error'. This listener lives as
    // long as the socket: it must not hold `req` (with its headers, ~2 KB a client) alive.
    const client = addressOf(req);
    socket.on('error', (err) => this.log.debug({ err, client }, 'socket error during upgrade'));
    const path = pathOf(req.url);
    if (path !== STREAM_PATH) {
      return refuse(socket, ErrorCode.NOT_FOUND, `no WebSocket endpoint at ${path}; use ${STREAM_PATH}`);
    }
    if (!this.accepting) return refuse(socket, ErrorCode.NOT_READY, 'gateway shutting down');
    const refusal = this.opts.access.check(req);
    if (refusal) return refuse(socket, refusal.code, refusal.message, refusal.headers);
    // The upgrade below completes synchronously, so neither count can be overtaken.
    if (this.clients.size >= this.opts.maxConnections) {
      this.opts.counters.hit('connections');
      this.log.warn({ client: addressOf(req), max: this.opts.maxConnections }, 'connection refused: gateway at capacity');
      return refuse(socket, ErrorCode.OVER_CAPACITY, `gateway holds its maximum of ${this.opts.maxConnections} connections`);
    }
    const ip = clientAddress(req, this.opts.trustedProxyHops);
    if (this.quota.of(ip) >= this.opts.maxConnectionsPerIp) {
      this.opts.counters.hit('connections_per_ip');
      this.log.warn({ client: addressOf(req), max: this.opts.maxConnectionsPerIp }, 'connection refused: address at its connection limit');
      const message = `at most ${this.opts.maxConnectionsPerIp} connections per client address; close one first`;
      return refuse(socket, ErrorCode.TOO_MANY_CONNECTIONS, message, { 'Retry-After': '5' });
    }
    // `ws` hands `req` back: capturing it here would keep it in the error listener's closure context.
    this.wss.handleUpgrade(req, socket, head, (ws, request) => this.connected(ws, socket, request, ip));
  }

  private connected(ws: WebSocket, socket: Duplex, req: IncomingMessage, ip: string): void {
    const { state, clock } = this.opts;
    const now = clock.nowMs();
    const address = addressOf(req);
    // historical_data and the base of the first deltas come from the same snapshot.
    const frame = state.historicalFrame(clock.epochSeconds());
    const session = new ClientSession(new FrameSocket(ws, socket), address, this.opts.tickMs, now, state.fullView().view.base, this.opts.views);
    const conn: Connection = { ws, session, limiter: new MessageRateLimiter(this.opts.messagesPerSec, now), connectedAt: now, lastPongAt: now, pingSlice: this.joinSlice };
    this.joinSlice = (this.joinSlice + 1) % PING_SLICES;
    this.clients.set(session, conn);
    // Taken once the WebSocket exists, so a handshake `ws` aborts (a bad key) holds no slot.
    this.quota.acquire(ip);
    this.log.debug({ client: address, clients: this.clients.size }, 'client connected');

    ws.on('error', (err: Error & { code?: string }) => {
      // ws closes the connection with 1009 right after.
      if (err.code === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH') this.opts.counters.hit('frame_bytes');
      this.log.debug({ err, client: address }, 'client socket error');
    });
    ws.on('pong', () => (conn.lastPongAt = clock.nowMs()));
    ws.on('message', (data, isBinary) => this.message(conn, data as Buffer, isBinary));
    ws.on('close', (code, reason) => {
      this.clients.delete(session);
      this.opts.backfills?.cancel(session);
      session.close();
      this.quota.release(ip);
      this.log.debug(
        { client: address, code, reason: reason.toString(), seconds: Math.round((clock.nowMs() - conn.connectedAt) / 1000), clients: this.clients.size },
        'client disconnected',
      );
    });
    ws.send(frame, TEXT);
  }

  private message(conn: Connection, data: Buffer, isBinary: boolean): void {
    // A client being closed is not answered: frames it had queued are dropped, not each counted as another flood.
    if (!this.clients.has(conn.session)) return;
    const { clock } = this.opts;
    const nowMs = clock.nowMs();
    switch (conn.limiter.take(nowMs)) {
      case 'accept': {
        let changed = false;
        let since: number | undefined;
        const reply = handleClientFrame(conn.session, data, isBinary, { nowMs, timestamp: clock.epochSeconds() }, this.guard, (s) => {
          changed = true;
          since = s;
        });
        // A new subscribe or an unsubscribe drops a `history` answer still being prepared; one with `since` asks for its own, after `subscribed`.
        if (changed) this.opts.backfills?.cancel(conn.session);
        conn.ws.send(reply);
        if (since !== undefined) this.opts.backfills?.start(conn.session, since);
        return;
      }
      case 'reject': {
        this.opts.counters.hit('client_messages_per_sec');
        const message = `rate limit: at most ${this.opts.messagesPerSec} messages per second; extra messages are dropped`;
        conn.ws.send(errorReply(clock.epochSeconds(), message, ErrorCode.RATE_LIMITED));
        return;
      }
      case 'drop':
        this.opts.counters.hit('client_messages_per_sec');
        return;
      case 'flood':
        this.opts.counters.hit('client_flood');
        this.log.warn({ client: conn.session.address }, 'closing a client flooding messages');
        this.close(conn, CloseCode.RATE_LIMITED, 'rate limit exceeded');
    }
  }

  /** Closes a client fan-out gave up on: it stayed over its buffer ceiling. */
  closeSlow(session: ClientSession): void {
    const conn = this.clients.get(session);
    if (!conn) return;
    this.opts.counters.hit('buffered_bytes');
    this.log.warn({ client: session.address, bufferedBytes: conn.ws.bufferedAmount }, 'closing a slow consumer');
    this.close(conn, CloseCode.SLOW_CONSUMER, 'slow consumer');
  }

  private close(conn: Connection, code: number, reason: string): void {
    this.clients.delete(conn.session);
    // The close frame queues behind unsent data; closeTimeout destroys the socket if it never drains.
    conn.ws.close(code, reason);
  }

  /** Pings one slice of the clients; terminates those of it that did not answer within two periods. */
  private beat(): void {
    const now = this.opts.clock.nowMs();
    const slice = this.beatSlice;
    this.beatSlice = (slice + 1) % PING_SLICES;
    for (const conn of this.clients.values()) {
      if (conn.pingSlice !== slice) continue;
      if (now - conn.lastPongAt > 2 * this.opts.heartbeatMs) {
        this.log.info({ client: conn.session.address }, 'terminating a client that stopped answering pings');
        this.clients.delete(conn.session);
        conn.ws.terminate();
      } else {
        conn.ws.ping();
      }
    }
  }

  /**
   * Refuses new upgrades, closes every client with `code` and resolves once
   * all sockets are closed (each within the close timeout).
   */
  async closeAll(code: number, reason: string): Promise<void> {
    this.accepting = false;
    clearInterval(this.heartbeat);
    this.clients.clear();
    const closing: Promise<void>[] = [];
    for (const ws of this.wss.clients) {
      if (ws.readyState === ws.CLOSED) continue;
      closing.push(new Promise((resolve) => ws.once('close', () => resolve())));
      ws.close(code, reason);
    }
    this.log.info({ clients: closing.length, code }, 'closing every client');
    await Promise.all(closing);
    await new Promise<void>((resolve) => this.wss.close(() => resolve()));
  }
}

function addressOf(req: IncomingMessage): string {
  return `${req.socket.remoteAddress ?? '?'}:${req.socket.remotePort ?? '?'}`;
}

/** Answers an upgrade request with the API's error reply, before any WebSocket exists. */
function refuse(socket: Duplex, code: ErrorCode, message: string, headers: Readonly<Record<string, string>> = {}): void {
  writeRawReply(socket, HTTP_STATUS[code], errorBody(code, message), { ...errorHeaders(code), ...headers });
}
