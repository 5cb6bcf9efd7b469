/**
 * The ingest ceiling, as a separate process: raw ioredis pipelines of XADD
 * against the same Redis, with payloads of the sizes Pulse writes. Two
 * layouts: one entry per event (the naive layout, what "Redis does ~400k
 * XADD/s" means) and one entry per ingest request of `batch` events (Pulse's
 * layout: the same bytes, a thousand times fewer entries).
 */
import { Redis } from 'ioredis';
import { checkEvent, encodeBatch, type PulseEvent } from '@pulse/protocol';
import { serve } from '../lib/rpc.js';
import { eventObjects } from './event-batch.js';

export interface CeilingRun {
  url: string;
  /** Events per entry: 1 for the per-event layout, the ingest batch for Pulse's. */
  eventsPerEntry: number;
  durationMs: number;
  /** XADDs per pipeline, and pipelines in flight. */
  pipeline: number;
  inFlight: number;
}

export interface CeilingResult {
  eventsPerEntry: number;
  entryBytes: number;
  entries: number;
  seconds: number;
  entriesPerSec: number;
  eventsPerSec: number;
}

/** Entries exactly as Pulse's ingest stores them: validated, then encodeBatch. */
function entries(eventsPerEntry: number): string[] {
  const events = eventObjects(500, 77, 'ceiling', Date.now() / 1000, '00000000').map((e) => {
    const checked = checkEvent(e);
    if (!checked.ok) throw new Error(checked.error);
    return checked.event;
  });
  if (eventsPerEntry === 1) return events.map((e) => encodeBatch([e]));
  const batch: PulseEvent[] = [];
  while (batch.length < eventsPerEntry) batch.push(...events);
  return [encodeBatch(batch.slice(0, eventsPerEntry))];
}

async function run(c: CeilingRun): Promise<CeilingResult> {
  const redis = new Redis(c.url);
  const key = `bench:ceiling:${c.eventsPerEntry}`;
  const payloads = entries(c.eventsPerEntry);
  // Trimmed like Pulse's stream (which trims by age), so memory stays bounded.
  const maxlen = String(Math.max(1000, Math.floor(2_000_000 / c.eventsPerEntry)));
  let done = 0;
  let next = 0;
  const t0 = performance.now();
  const worker = async () => {
    while (performance.now() - t0 < c.durationMs) {
      const p = redis.pipeline();
      for (let i = 0; i < c.pipeline; i++) p.xadd(key, 'MAXLEN', '~', maxlen, '*', 'b', payloads[next++ % payloads.length]!);
      await p.exec();
      done += c.pipeline;
    }
  };
  await Promise.all(Array.from({ length: c.inFlight }, worker));
  const seconds = (performance.now() - t0) / 1000;
  await redis.del(key);
  redis.disconnect();
  const avgBytes = payloads.reduce((a, p) => a + Buffer.byteLength(p), 0) / payloads.length;
  return {
    eventsPerEntry: c.eventsPerEntry,
    entryBytes: Math.round(avgBytes),
    entries: done,
    seconds: Math.round(seconds * 100) / 100,
    entriesPerSec: Math.round(done / seconds),
    eventsPerSec: Math.round((done * c.eventsPerEntry) / seconds),
  };
}

serve({ run });
