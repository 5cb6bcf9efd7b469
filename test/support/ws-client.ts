/**
 * A WebSocket test client that records every message it receives and lets a
 * test wait for the next one matching a predicate.
 */
import { once } from 'node:events';
import WebSocket from 'ws';

export interface Received {
  at: number;
  msg: Record<string, unknown> & { type: string };
  raw: string;
}

export class TestClient {
  readonly received: Received[] = [];
  private waiters: { ok: (r: Received) => boolean; resolve: (r: Received) => void }[] = [];
  closed: { code: number; reason: string } | null = null;

  private constructor(readonly ws: WebSocket) {
    ws.on('message', (data, isBinary) => {
      const raw = isBinary ? '<binary>' : data.toString();
      const r: Received = { at: Date.now(), msg: JSON.parse(raw), raw };
      this.received.push(r);
      this.waiters = this.waiters.filter((w) => (w.ok(r) ? (w.resolve(r), false) : true));
    });
    ws.on('close', (code, reason) => (this.closed = { code, reason: reason.toString() }));
    ws.on('error', () => {});
  }

  static async connect(url: string, options?: WebSocket.ClientOptions): Promise<TestClient> {
    const ws = new WebSocket(url, options);
    const client = new TestClient(ws);
    await once(ws, 'open');
    return client;
  }

  send(msg: unknown): void {
    this.ws.send(typeof msg === 'string' ? msg : JSON.stringify(msg));
  }

  /** The next message (from now on, or already received after `since`) for which `ok` holds. */
  next(ok: (m: Received['msg']) => boolean = () => true, timeoutMs = 5000, since?: number): Promise<Received> {
    if (since !== undefined) {
      const hit = this.received.slice(since).find((r) => ok(r.msg));
      if (hit) return Promise.resolve(hit);
    }
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no matching message within ${timeoutMs} ms; got ${this.received.map((r) => r.msg.type).join(',')}`)), timeoutMs);
      this.waiters.push({ ok: (r) => ok(r.msg), resolve: (r) => (clearTimeout(timer), resolve(r)) });
    });
  }

  nextOfType(type: string, timeoutMs?: number): Promise<Received> {
    return this.next((m) => m.type === type, timeoutMs);
  }

  close(): void {
    this.ws.close();
  }
}
