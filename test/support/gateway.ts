/**
 * A gateway for tests: snapshot builders, a snapshot ticker, a recording
 * WebSocket client and a gateway on port 0.
 */
import type { AddressInfo } from 'node:net';
import { WebSocket, type ClientOptions } from 'ws';
import { buildView } from '@pulse/metrics';
import { EMPTY_DISTRIBUTION, encodeSnapshot, NO_KEYED_COUNTS, zeroCumulative, type CellData, type InternalSnapshot } from '@pulse/protocol';
import { silentLogger, type Logger, type SnapshotFeed, type SnapshotPublisher } from '@pulse/runtime';
import { createGateway, parseGatewayConfig, STREAM_PATH, type Gateway, type GatewayDeps } from '@pulse/gateway';

export const TEST_TICK_MS = 100;

export function cell(endpoint: string, model: string, figures: Partial<CellData> = {}): CellData {
  return {
    node: 'n1',
    endpoint,
    model,
    requests: 0,
    responses: 0,
    completionTokens: 0,
    errors: 0,
    lookups: 0,
    hits: 0,
    cachedTokens: 0,
    lookupPromptTokens: 0,
    prefixSum: 0,
    latency: EMPTY_DISTRIBUTION,
    ttft: EMPTY_DISTRIBUTION,
    tokensPerSecond: EMPTY_DISTRIBUTION,
    itl: EMPTY_DISTRIBUTION,
    queueDepth: 0,
    activeStreams: 0,
    completedStreams: 0,
    failedStreams: 0,
    totalLookups: 0,
    totalHits: 0,
    errorsByStatus: NO_KEYED_COUNTS,
    errorsByType: NO_KEYED_COUNTS,
    sloGood: [],
    cumulative: zeroCumulative(),
    ...figures,
  };
}

/** Two endpoints, two models: enough for every filter to show. Rates over 10 s. */
export const SAMPLE_CELLS: CellData[] = [
  cell('/v1/chat/completions', 'gpt-4', { requests: 100, responses: 90, completionTokens: 900, errors: 9, activeStreams: 3, queueDepth: 4 }),
  cell('/v1/chat/completions', 'llama', { requests: 40, responses: 40, completionTokens: 400, activeStreams: 1, queueDepth: 1 }),
  cell('/v1/embeddings', 'gpt-4', { requests: 20, responses: 20, lookups: 10, hits: 5, totalLookups: 10, totalHits: 5 }),
];

/** The `data` a client receives for `s`: its unfiltered view after the JSON round trip. */
export function wireData(s: InternalSnapshot | null): unknown {
  return JSON.parse(JSON.stringify(buildView(s).data));
}

/** A snapshot covering 10 s, so a cell's `requests: 30` is 3 requests/s. */
export function snapshot(seq: number, cells: CellData[] = [], fields: Partial<InternalSnapshot> = {}): InternalSnapshot {
  return {
    epoch: 1,
    seq,
    builtAt: (seq * TEST_TICK_MS) / 1000,
    coveredSeconds: 10,
    stats: { eventsApplied: 0, eventsDropped: 0, labelsFolded: 0 },
    slos: [],
    nodes: [],
    cells,
    ...fields,
  };
}

/**
 * Publishes a snapshot every tick, seq counting up from the current time's,
 * with the cells `cellsAt(n)` gives for the n-th one (n from 0).
 */
export function startTicker(
  publisher: SnapshotPublisher,
  cellsAt: (n: number) => CellData[],
  tickMs = TEST_TICK_MS,
): { stop(): void; readonly published: number } {
  const firstSeq = Math.floor(Date.now() / tickMs);
  let n = 0;
  const publish = () => {
    const seq = firstSeq + n;
    void publisher.publish(encodeSnapshot(snapshot(seq, cellsAt(n), { builtAt: (seq * tickMs) / 1000 })));
    n++;
  };
  publish();
  const timer = setInterval(publish, tickMs);
  return {
    stop: () => clearInterval(timer),
    get published() {
      return n;
    },
  };
}

export type Message = { type: string; timestamp: number; [key: string]: any };

export interface Received {
  message: Message;
  raw: Buffer;
  /** performance.now() at arrival. */
  at: number;
}

/** A WebSocket client that records everything it receives, in order. */
export class TestClient {
  readonly received: Received[] = [];
  readonly closed: Promise<{ code: number; reason: string }>;
  private cursor = 0;
  private wake: (() => void) | null = null;

  private constructor(readonly ws: WebSocket) {
    ws.on('message', (data: Buffer) => {
      this.received.push({ message: JSON.parse(data.toString()) as Message, raw: data, at: performance.now() });
      this.wake?.();
    });
    this.closed = new Promise((resolve) => ws.on('close', (code, reason) => resolve({ code, reason: reason.toString() })));
    ws.on('error', () => {});
  }

  static connect(url: string, options?: ClientOptions): Promise<TestClient> {
    const client = new TestClient(new WebSocket(url, options));
    return new Promise((resolve, reject) => {
      client.ws.once('open', () => resolve(client));
      client.ws.once('unexpected-response', (_req, res) => reject(new Error(`upgrade refused: ${res.statusCode}`)));
      client.ws.once('error', reject);
    });
  }

  send(message: unknown): void {
    this.ws.send(typeof message === 'string' ? message : JSON.stringify(message));
  }

  /** The next message of `type` after the last one `next` returned; waits up to `timeoutMs`. */
  async next(type: string, timeoutMs = 3000): Promise<Received> {
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      while (this.cursor < this.received.length) {
        const r = this.received[this.cursor++]!;
        if (r.message.type === type) return r;
      }
      const left = deadline - performance.now();
      if (left <= 0) throw new Error(`no ${type} within ${timeoutMs} ms; got ${this.received.map((r) => (r.message.type === 'error' ? `error(${String(r.message.message)})` : r.message.type)).join(', ')}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
  }

  /** Sends `message` and returns the reply (the next non-data message). */
  async request(message: unknown, reply: string): Promise<Message> {
    this.send(message);
    return (await this.next(reply)).message;
  }

  ofType(type: string): Received[] {
    return this.received.filter((r) => r.message.type === type);
  }

  close(): Promise<{ code: number; reason: string }> {
    this.ws.close();
    return this.closed;
  }
}

/** GET (or `init`) `url`, with the JSON body parsed. */
export async function getJson(url: string, init?: RequestInit): Promise<{ status: number; headers: Headers; body: Message }> {
  const res = await fetch(url, init);
  return { status: res.status, headers: res.headers, body: (await res.json()) as Message };
}

export interface RunningGateway {
  gateway: Gateway;
  /** http://127.0.0.1:port */
  http: string;
  /** ws://127.0.0.1:port/metrics/stream */
  ws: string;
  close(): Promise<void>;
}

/** A gateway on port 0 with a 100 ms tick and `env` on top; `deps` adds to what it is built with (a history reader…). */
export async function startGateway(
  feed: SnapshotFeed,
  env: Record<string, string> = {},
  logger: Logger = silentLogger(),
  deps: Partial<Omit<GatewayDeps, 'config' | 'feed' | 'logger'>> = {},
): Promise<RunningGateway> {
  const config = parseGatewayConfig({ PULSE_TICK_MS: String(TEST_TICK_MS), PORT: '0', HOST: '127.0.0.1', ...env });
  const gateway = createGateway({ ...deps, config, feed, logger });
  await new Promise<void>((resolve) => gateway.server.listen(0, '127.0.0.1', resolve));
  const { port } = gateway.server.address() as AddressInfo;
  return { gateway, http: `http://127.0.0.1:${port}`, ws: `ws://127.0.0.1:${port}${STREAM_PATH}`, close: () => gateway.close() };
}
