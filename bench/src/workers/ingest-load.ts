/**
 * Load generator process: POSTs pre-built event batches to one ingest node
 * at a target rate (open loop: batches leave on schedule whatever the replies
 * do, up to `connections` in flight), and logs when each batch was
 * acknowledged, for the lag match against the aggregator's snapshots.
 */
import { Agent, request } from 'node:http';
import { serve } from '../lib/rpc.js';
import { bodyTemplate, stamp, type BodyTemplate } from './event-batch.js';

export interface IngestLoadConfig {
  url: string;
  /** Events per request. */
  batch: number;
  /** Keep-alive connections, and the most requests in flight. */
  connections: number;
  /** Distinct request ids across generators. */
  prefix: string;
  /** Nodes the events come from (default 8). */
  nodes?: number;
  /** Each batch from one node, as a FakeAI node's reporter sends them (template i from `fakeai-<i>`), rather than from all of them. */
  nodePerBatch?: boolean;
  /**
   * Distinct bodies, sent in turn (default 8). Each holds its own random draws of node, endpoint and model, so the
   * cells the load reaches are at most templates × batch ÷ 2: 8 × 50 pairs cover only ~390 of 64 × 20 × 5 cells.
   */
  templates?: number;
}

export interface IngestRunResult {
  startedAt: number;
  elapsedMs: number;
  sentEvents: number;
  ackedEvents: number;
  /** Requests that did not get a 202, by status ('error' for no reply). */
  failures: Record<string, number>;
  /** Wall-clock ms of each 202, in the order they came, and the events each acknowledged. */
  ackAt: Float64Array;
  ackEvents: Uint32Array;
  /** Request round trips, ms, sorted. */
  roundTripMs: Float64Array;
}

const TEMPLATES = 8;
/** How often the pacer looks at the schedule. */
const PACE_MS = 2;

let config: IngestLoadConfig | null = null;
let templates: BodyTemplate[] = [];
let agent: Agent | null = null;
let seq = 0;
/** Set by 'stop': the run in progress ends at its next pacing step. */
let stopRequested = false;

function post(body: Buffer): Promise<number | 'error'> {
  const { hostname, port } = new URL(config!.url);
  return new Promise((resolve) => {
    const req = request(
      { agent: agent!, hostname, port, path: '/v1/events', method: 'POST', headers: { 'content-type': 'application/json', 'content-length': body.length } },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
        res.on('error', () => resolve('error'));
      },
    );
    req.on('error', () => resolve('error'));
    req.end(body);
  });
}

/** Sends at `eventsPerSec` for `durationMs` (0 = as fast as the connections allow), then waits for the replies. */
async function run({ eventsPerSec, durationMs }: { eventsPerSec: number; durationMs: number }): Promise<IngestRunResult> {
  if (!config) throw new Error('configure first');
  stopRequested = false;
  const { batch, connections } = config;
  const ackAt: number[] = [];
  const ackEvents: number[] = [];
  const roundTrips: number[] = [];
  const failures: Record<string, number> = {};
  let started = 0;
  let inFlight = 0;
  let sentEvents = 0;
  let ackedEvents = 0;
  const t0 = Date.now();

  const send = () => {
    const template = templates[seq % templates.length]!;
    const sentAt = Date.now();
    const body = stamp(template, sentAt, seq++);
    started++;
    inFlight++;
    sentEvents += template.events;
    void post(body).then((status) => {
      inFlight--;
      const now = Date.now();
      roundTrips.push(now - sentAt);
      if (status === 202) {
        ackAt.push(now);
        ackEvents.push(template.events);
        ackedEvents += template.events;
      } else {
        failures[String(status)] = (failures[String(status)] ?? 0) + 1;
      }
    });
  };

  await new Promise<void>((resolve) => {
    const pace = setInterval(() => {
      const elapsed = Date.now() - t0;
      if (elapsed >= durationMs || stopRequested) {
        clearInterval(pace);
        resolve();
        return;
      }
      const due = eventsPerSec > 0 ? Math.floor((eventsPerSec * elapsed) / 1000 / batch) + 1 - started : Infinity;
      for (let i = 0; i < due && inFlight < connections; i++) send();
    }, PACE_MS);
  });
  const elapsedMs = Date.now() - t0;
  while (inFlight > 0) await new Promise((r) => setTimeout(r, 5));
  return {
    startedAt: t0,
    elapsedMs,
    sentEvents,
    ackedEvents,
    failures,
    ackAt: Float64Array.from(ackAt),
    ackEvents: Uint32Array.from(ackEvents),
    roundTripMs: Float64Array.from(roundTrips).sort(),
  };
}

serve({
  configure(c: IngestLoadConfig) {
    config = c;
    templates = Array.from({ length: c.templates ?? TEMPLATES }, (_, i) => bodyTemplate(c.batch, 1000 + i, `${c.prefix}${i}`, c.nodes, c.nodePerBatch ? `fakeai-${i}` : undefined));
    agent?.destroy();
    agent = new Agent({ keepAlive: true, maxSockets: c.connections });
    return { bodyBytes: templates[0]!.bytes.length, events: templates[0]!.events };
  },
  run,
  /** Ends the run in progress early (it still answers with what it did). */
  stop() {
    stopRequested = true;
  },
});
