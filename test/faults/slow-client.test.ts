/**
 * Clients that stop reading while big updates flow (1000 endpoints, ~330 KB
 * per message, every 0.5 s) on a gateway with a 64 KiB buffer ceiling: the
 * gateway stops writing to them and closes them as slow consumers (4000), its
 * memory stays bounded, and the clients that do read keep getting their
 * updates on time.
 */
import { describe, expect, it } from 'vitest';
import { CloseCode } from '@pulse/protocol';
import { clusterPerFile, type Cluster, mb, postEvents, requests, rssBytes, sleep, until, UpdateRecorder } from './support.js';

const TICK_MS = 500;
const INTERVAL_S = 0.5;
const MAX_BUFFERED_BYTES = 65_536;
const ENDPOINTS = 1000;
const SLOW_CLIENTS = 4;
/** Stated ceiling on the gateway's growth over its steady state while the slow clients hang. */
const RSS_GROWTH_CEILING = 64 * 1024 * 1024;

let cluster: Cluster;

clusterPerFile(
  {
    ingest: 1,
    aggregators: 1,
    gateways: 1,
    env: { PULSE_TICK_MS: String(TICK_MS) },
    gatewayEnv: { PULSE_GATEWAY_MAX_BUFFERED_BYTES: String(MAX_BUFFERED_BYTES) },
  },
  (c) => (cluster = c),
);

const slowClosures = () => cluster.gateways[0]!.output().split('closing a slow consumer').length - 1;

describe('slow consumers', () => {
  it('a client that stops reading is closed with 4000; gateway memory stays bounded; other clients stay on time', async () => {
    const gateway = cluster.gateways[0]!;
    const pid = gateway.child.pid!;
    const events: object[] = [];
    for (let i = 0; i < ENDPOINTS; i++) events.push(...requests(1, { endpoint: `/v1/endpoint-${i}` }).events);
    expect((await postEvents(cluster.ingest[0]!.url, events)).status).toBe(202);

    const readers = await Promise.all([0, 1].map(() => UpdateRecorder.connect(cluster.wsUrl(gateway), { interval: INTERVAL_S })));
    const big = await readers[0]!.waitFor('all endpoints in an update', (u) => Object.keys(u.data.latency).length >= ENDPOINTS, 10_000);
    const messageBytes = readers[0]!.client.received.find((r) => r.at === big.at)!.raw.length;
    await sleep(1000);
    const baseline = rssBytes(pid);
    let peak = baseline;
    const sampler = setInterval(() => {
      try {
        peak = Math.max(peak, rssBytes(pid));
      } catch {
        // exited: the test fails elsewhere
      }
    }, 100);

    const slow = await Promise.all(Array.from({ length: SLOW_CLIENTS }, () => UpdateRecorder.connect(cluster.wsUrl(gateway), { interval: INTERVAL_S })));
    const closures = slowClosures();
    const from = Date.now();
    // Stop reading: the socket is paused, the kernel buffers fill, then the gateway's.
    for (const s of slow) (s.client.ws as unknown as { _socket: { pause(): void } })._socket.pause();
    try {
      await until('the gateway to close every slow client', () => slowClosures() - closures >= SLOW_CLIENTS, 40_000, 100);
      const closedAfter = Date.now() - from;
      const closedAt = Date.now();
      // Reading again, each finds its close frame (4000) behind what was buffered for it.
      const receivedBefore = slow.map((s) => s.client.received.length);
      for (const s of slow) (s.client.ws as unknown as { _socket: { resume(): void } })._socket.resume();
      await until('the slow clients to see their close', () => slow.every((s) => s.client.closed), 8000, 50);
      const drained = slow.map((s, i) => s.client.received.slice(receivedBefore[i]).reduce((n, r) => n + r.raw.length, 0));
      console.log(
        `[slow client] ${SLOW_CLIENTS} paused clients closed as slow consumers ${closedAfter} ms after they stopped reading ` +
          `(messages ${Math.round(messageBytes / 1024)} KB every ${INTERVAL_S} s; ceiling ${MAX_BUFFERED_BYTES / 1024} KiB); ` +
          `close codes ${slow.map((s) => s.client.closed!.code).join(',')}; ` +
          `held for each at most ${Math.round(Math.max(...drained) / 1024)} KB`,
      );
      for (const s of slow) expect(s.client.closed!.code).toBe(CloseCode.SLOW_CONSUMER);
      // It stopped being written to: it holds fewer updates than a reader got over the same time.
      const builtDuringPause = (r: UpdateRecorder) => r.updates.filter((u) => u.timestamp * 1000 >= from && u.timestamp * 1000 <= closedAt).length;
      const readerCount = builtDuringPause(readers[0]!);
      const slowCounts = slow.map(builtDuringPause);
      console.log(`[slow client] updates over the pause: readers ${readerCount}, slow clients ${slowCounts.join(',')} (then closed)`);
      for (const n of slowCounts) expect(n).toBeLessThan(readerCount);
      await sleep(1000);
    } finally {
      clearInterval(sampler);
    }
    const to = Date.now();

    console.log(
      `[slow client] gateway RSS: ${mb(baseline)} MB steady, peak ${mb(peak)} MB while clients hung ` +
        `(growth ${mb(peak - baseline)} MB; stated ceiling: growth ≤ ${mb(RSS_GROWTH_CEILING)} MB, i.e. ${mb(baseline + RSS_GROWTH_CEILING)} MB)`,
    );
    expect(peak - baseline).toBeLessThanOrEqual(RSS_GROWTH_CEILING);

    // The readers never waited longer than one interval plus one tick.
    for (const [i, r] of readers.entries()) {
      const { maxGapMs, count } = r.gaps(from, to);
      console.log(`[slow client] reader ${i + 1}: ${count} updates meanwhile, longest gap ${maxGapMs} ms (bound ${INTERVAL_S * 1000 + TICK_MS} ms)`);
      expect(count).toBeGreaterThan(((to - from) / (INTERVAL_S * 1000)) * 0.8);
      expect(maxGapMs).toBeLessThanOrEqual(INTERVAL_S * 1000 + TICK_MS);
      expect(r.client.closed).toBeNull();
      r.close();
    }
  }, 90_000);
});
