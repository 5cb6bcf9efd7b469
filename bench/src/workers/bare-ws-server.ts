/**
 * The fan-out floor: a bare `ws` server that, every tick, sends each
 * connected client one pre-built frame of the size Pulse sent that client's
 * filter group — the same bytes to the same client processes, with nothing
 * else to do: no Redis, no views, no per-client state. Its frames start like
 * Pulse's (type, then timestamp) so the same clients measure both. It ticks
 * half a tick after Pulse does, so the two bursts take turns.
 */
import type { IncomingMessage } from 'node:http';
import { WebSocketServer, type WebSocket } from 'ws';
import { serve } from '../lib/rpc.js';

let wss: WebSocketServer | null = null;
const groups: Set<WebSocket>[] = [];
let timer: NodeJS.Timeout | null = null;

function groupOf(req: IncomingMessage): number {
  const g = Number(new URL(req.url ?? '/', 'http://floor').searchParams.get('g'));
  return Number.isInteger(g) && g >= 0 ? g : 0;
}

/** `{"type":"metrics_update","timestamp":<t>,"data":{"pad":"…"}}` of exactly `bytes` bytes (when bytes allow). */
function frame(timestamp: number, bytes: number): Buffer {
  const head = `{"type":"metrics_update","timestamp":${timestamp},"data":{"pad":"`;
  const tail = '"}}';
  return Buffer.from(head + 'x'.repeat(Math.max(0, bytes - head.length - tail.length)) + tail, 'latin1');
}

function tickEvery(tickMs: number, offsetMs: number, frameBytes: readonly number[]): void {
  const schedule = () => {
    const now = Date.now();
    const next = (Math.floor((now - offsetMs) / tickMs) + 1) * tickMs + offsetMs;
    timer = setTimeout(() => {
      const frames = frameBytes.map((b) => frame(next / 1000, b));
      groups.forEach((clients, g) => {
        const f = frames[g] ?? frames[0]!;
        for (const ws of clients) ws.send(f, { binary: false });
      });
      schedule();
    }, next - now);
  };
  schedule();
}

serve({
  async listen(): Promise<{ port: number }> {
    wss = new WebSocketServer({ port: 0, host: '127.0.0.1', perMessageDeflate: false });
    wss.on('connection', (ws, req) => {
      const g = groupOf(req);
      const set = (groups[g] ??= new Set());
      set.add(ws);
      ws.on('error', () => undefined);
      ws.on('close', () => set.delete(ws));
    });
    await new Promise((resolve) => wss!.once('listening', resolve));
    return { port: (wss.address() as { port: number }).port };
  },
  /** Starts sending: `frameBytes[g]` bytes to group g every `tickMs`, at `offsetMs` past each tick of the wall clock. */
  start({ tickMs, offsetMs, frameBytes }: { tickMs: number; offsetMs: number; frameBytes: number[] }) {
    if (timer) clearTimeout(timer);
    tickEvery(tickMs, offsetMs, frameBytes);
  },
  stop() {
    if (timer) clearTimeout(timer);
    timer = null;
  },
});
