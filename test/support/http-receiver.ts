/**
 * A real HTTP receiver for the delivery tests: an http.Server on 127.0.0.1,
 * port 0, that records every request and answers with scripted replies (in
 * order, then the fallback). Not shipped: outside src/.
 */
import http, { type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface RecordedRequest {
  readonly method: string;
  readonly path: string;
  readonly headers: IncomingHttpHeaders;
  /** JSON when it parses, else the text. */
  readonly body: any;
  /** Date.now() when the request's body had arrived. */
  readonly at: number;
}

export interface ScriptedReply {
  readonly status: number;
  readonly headers?: Record<string, string>;
  readonly body?: string;
  /** Wait this long before answering (a slow or hanging receiver). */
  readonly delayMs?: number;
}

export class TestReceiver {
  readonly requests: RecordedRequest[] = [];
  private readonly script: ScriptedReply[] = [];
  fallback: ScriptedReply = { status: 200, body: 'ok' };

  private constructor(
    private readonly server: http.Server,
    readonly url: string,
  ) {}

  static async start(): Promise<TestReceiver> {
    let receiver: TestReceiver | null = null;
    const server = http.createServer((req, res) => receiver?.handle(req, res));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    receiver = new TestReceiver(server, `http://127.0.0.1:${port}/hook`);
    return receiver;
  }

  /** Replies for the next requests, in order. */
  reply(...replies: ScriptedReply[]): void {
    this.script.push(...replies);
  }

  /** The requests carrying this Idempotency-Key. */
  requestsFor(id: string): RecordedRequest[] {
    return this.requests.filter((r) => r.headers['idempotency-key'] === id);
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      let body: unknown = text;
      try {
        body = JSON.parse(text);
      } catch {
        // Recorded as text.
      }
      this.requests.push({ method: req.method ?? '', path: req.url ?? '', headers: req.headers, body, at: Date.now() });
      const reply = this.script.shift() ?? this.fallback;
      const send = () => {
        if (res.destroyed) return;
        res.writeHead(reply.status, reply.headers ?? {});
        res.end(reply.body ?? '');
      };
      if (reply.delayMs) setTimeout(send, reply.delayMs);
      else send();
    });
  }
}
