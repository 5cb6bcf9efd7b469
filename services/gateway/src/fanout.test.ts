import { describe, expect, it } from 'vitest';
import { buildView, type DeltaBase } from '@pulse/metrics';
import type { InternalSnapshot } from '@pulse/protocol';
import { ClientSession } from './client-session.js';
import { fanout, type FanoutOptions } from './fanout.js';
import { RenderedView } from './frames.js';
import { frameText } from './ws-frame.js';
import { cell, snapshot, TEST_TICK_MS, type Message } from '@pulse/test-support/gateway';

class FakeSocket {
  bufferedAmount = 0;
  readonly frames: Buffer[] = [];
  sendFrame(frame: Buffer): void {
    this.frames.push(frame);
  }
  get last(): Message {
    return JSON.parse(frameText(this.frames.at(-1)!)) as Message;
  }
}

const ZERO: DeltaBase = { totalRequestsPerSec: 0, totalTokensPerSec: 0, activeStreams: 0 };

/** A client connected at t = 0 with `filters`: due from t = 1000 on on its view's phase, from t = 2000 on on any snapshot. */
function client(filters: Record<string, unknown> = {}, base: DeltaBase = ZERO) {
  const socket = new FakeSocket();
  const session = new ClientSession(socket, 'test', TEST_TICK_MS, 0, base);
  if (Object.keys(filters).length > 0) expect(session.subscribe(filters, 0).ok).toBe(true);
  return { socket, session };
}

const CELLS = [
  cell('/chat', 'gpt-4', { requests: 100, responses: 90, completionTokens: 1000, activeStreams: 3, errors: 10 }),
  cell('/chat', 'llama', { requests: 50, responses: 50, completionTokens: 500, activeStreams: 1 }),
  cell('/embed', 'gpt-4', { requests: 20, responses: 20 }),
];

/** The first seq from `from` on at which `session` is due (its view's phase, client-session.ts). */
function nextDue(session: ClientSession, from: number): number {
  let seq = from;
  while (!session.isDue(seq, 2000)) seq++;
  return seq;
}

/** Fans `snap` out at `nowMs`, by default two intervals after connect: every client is due for its first update. */
function run(snap: InternalSnapshot, clients: { session: ClientSession }[], nowMs = 2000, opts: Partial<FanoutOptions> = {}) {
  const slow: ClientSession[] = [];
  const result = fanout(snap, new RenderedView(buildView(snap)), clients.map((c) => c.session), nowMs, {
    maxBufferedBytes: 1000,
    slowTicks: 3,
    onSlow: (s) => slow.push(s),
    ...opts,
  });
  return { ...result, slow };
}

describe('fanout grouping', () => {
  it('serializes each distinct (view, metric types, base) once and shares the buffer', () => {
    const all = [client(), client(), client()];
    const chat = [client({ endpoint: '/chat' }), client({ endpoints: ['/chat'] })];
    const latency = [client({ metric_type: 'latency' })];
    const result = run(snapshot(50, CELLS), [...all, ...chat, ...latency]);

    expect(result).toMatchObject({ sent: 6, views: 2, frames: 3, skipped: 0 });
    expect(all[1]!.socket.frames[0]).toBe(all[0]!.socket.frames[0]);
    expect(all[2]!.socket.frames[0]).toBe(all[0]!.socket.frames[0]);
    expect(chat[1]!.socket.frames[0]).toBe(chat[0]!.socket.frames[0]);
    expect(chat[0]!.socket.frames[0]).not.toEqual(all[0]!.socket.frames[0]);
  });

  it('splits a view by delta base, then merges the group again once both got the same update', () => {
    const a = client({}, ZERO);
    const b = client({}, { totalRequestsPerSec: 5, totalTokensPerSec: 0, activeStreams: 0 });
    expect(run(snapshot(50, CELLS), [a, b]).frames).toBe(2);
    expect(a.socket.last.deltas).not.toEqual(b.socket.last.deltas);
    expect(run(snapshot(nextDue(a.session, 60), CELLS), [a, b]).frames).toBe(1);
    expect(a.socket.frames[1]).toBe(b.socket.frames[1]);
  });

  it('sends nothing to clients not due', () => {
    const early = client();
    expect(run(snapshot(50, CELLS), [early], 999)).toMatchObject({ sent: 0, views: 0, frames: 0 });
    expect(early.socket.frames).toHaveLength(0);
  });

  it('sends one update every interval/tick snapshots after the first, on its view\'s phase', () => {
    const c = client({ interval: 0.3 });
    const sentAt = [];
    for (let seq = 50; seq < 62; seq++) {
      if (run(snapshot(seq, CELLS), [c]).sent) sentAt.push(seq);
    }
    expect(sentAt[0]).toBe(50);
    expect(sentAt[1]).toBeGreaterThanOrEqual(53);
    expect(sentAt[1]).toBeLessThan(56);
    expect(sentAt.slice(2)).toEqual([sentAt[1]! + 3, sentAt[1]! + 6].filter((seq) => seq < 62));
  });
});

describe('fanout content', () => {
  it('sends metrics_update with the snapshot build time and only the subscribed types', () => {
    const c = client({ metric_types: ['queue', 'latency'] });
    run(snapshot(50, CELLS, { builtAt: 1234.5 }), [c]);
    expect(c.socket.last.type).toBe('metrics_update');
    expect(c.socket.last.timestamp).toBe(1234.5);
    expect(Object.keys(c.socket.last.data)).toEqual(['latency', 'queue']);
    expect(c.socket.last.deltas).toEqual({});
  });

  it('applies the endpoint filter to every per-endpoint map and the model filter to totals and gauges', () => {
    const byEndpoint = client({ endpoint: '/embed' });
    const byModel = client({ model: 'llama' });
    run(snapshot(50, CELLS), [byEndpoint, byModel]);
    const e = byEndpoint.socket.last.data;
    expect(Object.keys(e.throughput.requests_per_sec)).toEqual(['/embed']);
    expect(Object.keys(e.error.errors_per_sec)).toEqual(['/embed']);
    expect(e.throughput.total_requests_per_sec).toBe(2);
    const m = byModel.socket.last.data;
    expect(m.throughput.total_requests_per_sec).toBe(5);
    expect(m.streaming.active_streams).toBe(1);
    expect(m.queue.active_streams).toBe(1);
  });

  it('gives deltas from the previous data message, each only with its metric type', () => {
    const everything = client({}, { totalRequestsPerSec: 10, totalTokensPerSec: 100, activeStreams: 1 });
    const throughputOnly = client({ metric_type: 'throughput' }, { totalRequestsPerSec: 10, totalTokensPerSec: 100, activeStreams: 1 });
    run(snapshot(50, CELLS), [everything, throughputOnly]);
    // totals: 170 requests / 10 s, 1500 tokens / 10 s, 4 active streams.
    expect(everything.socket.last.deltas).toEqual({
      throughput: { total_requests_per_sec: 7, total_tokens_per_sec: 50 },
      streaming: { active_streams_delta: 3 },
    });
    expect(throughputOnly.socket.last.deltas).toEqual({ throughput: { total_requests_per_sec: 7, total_tokens_per_sec: 50 } });

    run(snapshot(nextDue(everything.session, 60), [cell('/chat', 'gpt-4', { requests: 200, completionTokens: 1000, activeStreams: 1 })]), [everything]);
    expect(everything.socket.last.deltas).toEqual({
      throughput: { total_requests_per_sec: 3, total_tokens_per_sec: -50 },
      streaming: { active_streams_delta: -3 },
    });
  });
});

describe('fanout and slow clients', () => {
  it('skips a client over its buffer ceiling, serves the others, and gives up after slowTicks snapshots', () => {
    const slow = client();
    const fine = client();
    slow.socket.bufferedAmount = 1001;
    const results = [50, 51, 52].map((seq) => run(snapshot(seq, CELLS), [slow, fine]));
    expect(results.map((r) => r.skipped)).toEqual([1, 1, 1]);
    expect(results.map((r) => r.slow.length)).toEqual([0, 0, 1]);
    expect(slow.socket.frames).toHaveLength(0);
    expect(fine.socket.frames).toHaveLength(1);
  });

  it('gives a client that drained the newest snapshot at once (coalescing) and forgives it', () => {
    const c = client();
    c.socket.bufferedAmount = 5000;
    run(snapshot(50, CELLS), [c]);
    run(snapshot(51, CELLS), [c]);
    c.socket.bufferedAmount = 0;
    run(snapshot(52, CELLS, { builtAt: 5.2 }), [c]);
    expect(c.socket.frames).toHaveLength(1);
    expect(c.socket.last.timestamp).toBe(5.2);
    expect(c.session.slowTicks).toBe(0);
  });
});
