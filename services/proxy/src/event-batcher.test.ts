import { afterEach, describe, expect, it } from 'vitest';
import { ErrorCode, PulseError, type PulseEvent } from '@pulse/protocol';
import { MemoryEventLog, silentLogger, type AppendResult, type EventLog } from '@pulse/runtime';
import { EventBatcher, type BatcherSettings } from './event-batcher.js';

const gauge = (i: number): PulseEvent => ({ type: 'node.gauge', ts: 1_700_000_000 + i, node: 'proxy', queue_depth: i });

/** An event log whose appends wait for `release()` and fail while `down`. */
class ControlledLog implements EventLog {
  readonly batches: PulseEvent[][] = [];
  down = false;
  private gate: Promise<void> | null = null;
  private open: (() => void) | null = null;

  hold(): void {
    this.gate = new Promise((resolve) => (this.open = resolve));
  }
  release(): void {
    this.open?.();
    this.gate = null;
  }
  async append(events: readonly PulseEvent[]): Promise<AppendResult> {
    await this.gate;
    if (this.down) throw new PulseError(ErrorCode.STORE_UNAVAILABLE, 'down');
    this.batches.push([...events]);
    return { id: `${this.batches.length}-0`, replay: null };
  }
  async ping(): Promise<boolean> {
    return !this.down;
  }
  async close(): Promise<void> {}
}

const batchers: EventBatcher[] = [];
function batcher(log: EventLog, settings: Partial<BatcherSettings> = {}): EventBatcher {
  const b = new EventBatcher(log, { flushMs: 20, batchEvents: 500, maxQueued: 10_000, ...settings }, silentLogger());
  batchers.push(b);
  return b;
}
afterEach(async () => {
  await Promise.all(batchers.splice(0).map((b) => b.close()));
});

describe('EventBatcher', () => {
  it('appends what is queued within the flush period, one entry per batch, in order', async () => {
    const log = new MemoryEventLog(60_000);
    const b = batcher(log);
    for (let i = 0; i < 3; i++) b.push(gauge(i));
    expect(log.readAfter('0-0', 10)).toEqual([]); // pushing never appends on the spot
    await expect.poll(() => log.readAfter('0-0', 10).length).toBe(1);
    expect(log.readAfter('0-0', 10)[0]!.events).toEqual([gauge(0), gauge(1), gauge(2)]);
    expect(b.stats()).toEqual({ queued: 0, appended: 3, dropped: 0, failedAppends: 0 });
  });

  it('splits a burst into full batches without waiting for the period', async () => {
    const log = new ControlledLog();
    const b = batcher(log, { flushMs: 60_000, batchEvents: 500 });
    for (let i = 0; i < 1200; i++) b.push(gauge(i));
    await expect.poll(() => log.batches.map((x) => x.length)).toEqual([500, 500]);
    await b.close();
    expect(log.batches.map((x) => x.length)).toEqual([500, 500, 200]);
    expect(log.batches.flat().map((e) => (e as { queue_depth: number }).queue_depth)).toEqual(Array.from({ length: 1200 }, (_, i) => i));
  });

  it('holds at most maxQueued while the store is slow, and counts what it drops', async () => {
    const log = new ControlledLog();
    log.hold();
    const b = batcher(log, { batchEvents: 10, maxQueued: 100 });
    for (let i = 0; i < 10; i++) b.push(gauge(i));
    await expect.poll(() => b.stats().queued).toBe(0); // the first batch is in flight, stuck
    for (let i = 10; i < 150; i++) b.push(gauge(i));
    expect(b.stats()).toMatchObject({ queued: 100, dropped: 40 });
    log.release();
    await expect.poll(() => b.stats().appended).toBe(110);
    expect(b.stats()).toMatchObject({ queued: 0, dropped: 40 });
  });

  it('drops and counts a batch the store refuses, and carries on when it is back', async () => {
    const log = new ControlledLog();
    log.down = true;
    const b = batcher(log);
    for (let i = 0; i < 5; i++) b.push(gauge(i));
    await expect.poll(() => b.stats()).toEqual({ queued: 0, appended: 0, dropped: 5, failedAppends: 1 });
    log.down = false;
    b.push(gauge(5));
    await expect.poll(() => b.stats().appended).toBe(1);
    expect(log.batches).toEqual([[gauge(5)]]);
  });

  it('close appends everything queued; after a refusal it drops the rest at once', async () => {
    const up = new ControlledLog();
    const b1 = batcher(up, { flushMs: 60_000, batchEvents: 4 });
    for (let i = 0; i < 3; i++) b1.push(gauge(i));
    await b1.close();
    expect(up.batches).toEqual([[gauge(0), gauge(1), gauge(2)]]);
    b1.push(gauge(9));
    expect(b1.stats().dropped).toBe(1); // closed: nothing more is taken

    const down = new ControlledLog();
    down.down = true;
    const b2 = batcher(down, { flushMs: 60_000, batchEvents: 2, maxQueued: 100 });
    for (let i = 0; i < 3; i++) b2.push(gauge(i));
    await b2.close();
    expect(b2.stats()).toMatchObject({ queued: 0, dropped: 3, failedAppends: 1 });
  });
});
