/**
 * SIGTERM of a gateway: its clients are closed with 1001 (going away), so they
 * reconnect — to the other gateway — and get `historical_data` at once, then
 * updates; the other gateway's clients never notice.
 */
import { describe, expect, it } from 'vitest';
import { CloseCode, shouldReconnect } from '@pulse/protocol';
import { TestClient } from '@pulse/test-support/ws-client';
import { clusterPerFile, type Cluster, postEvents, requests, UpdateRecorder } from './support.js';

const CLIENTS = 5;
/** The other gateway's client (interval 0.2 s, tick 0.1 s) keeps its pace: a generous bound, it only must not notice. */
const BYSTANDER_MAX_GAP_MS = 1000;

let cluster: Cluster;

clusterPerFile({ ingest: 2, aggregators: 2, gateways: 2, env: { PULSE_TICK_MS: '100' } }, (c) => (cluster = c));

describe('gateway SIGTERM', () => {
  it('closes its clients with 1001; they reconnect to the other gateway and get historical_data', async () => {
    const [leaving, staying] = cluster.gateways as [typeof cluster.gateways[0], typeof cluster.gateways[0]];
    expect((await postEvents(cluster.ingest[0]!.url, requests(3).events)).status).toBe(202);
    const bystander = await UpdateRecorder.connect(cluster.wsUrl(staying), { interval: 0.2 });
    await bystander.waitFor('the events', (u) => u.data.streaming.completed_streams === 3, 5000);

    // Clients that reconnect on a reconnect code, to the next gateway of their list, as a dashboard would.
    const clients = await Promise.all(Array.from({ length: CLIENTS }, () => TestClient.connect(cluster.wsUrl(leaving))));
    const reconnected = clients.map(
      (client) =>
        new Promise<{ code: number; client: TestClient; hist: Record<string, any>; ms: number }>((resolve, reject) => {
          client.ws.once('close', (code: number) => {
            const closedAt = Date.now();
            if (!shouldReconnect(code)) return reject(new Error(`closed with terminal code ${code}`));
            TestClient.connect(cluster.wsUrl(staying))
              .then(async (next) => {
                const hist = await next.next((m) => m.type === 'historical_data', 5000, 0);
                resolve({ code, client: next, hist: hist.msg, ms: Date.now() - closedAt });
              })
              .catch(reject);
          });
        }),
    );

    const signalledAt = Date.now();
    const exitCode = leaving.stop('SIGTERM');
    const results = await Promise.all(reconnected);
    expect(await exitCode).toBe(0);
    console.log(
      `[gateway] SIGTERM → ${CLIENTS} clients closed with ${[...new Set(results.map((r) => r.code))].join('/')}, ` +
        `reconnected to the other gateway with historical_data within ${Math.max(...results.map((r) => r.ms))} ms; ` +
        `gateway exited 0 after ${Date.now() - signalledAt} ms`,
    );

    for (const { code, hist, client } of results) {
      expect(code).toBe(CloseCode.GOING_AWAY);
      expect(hist.type).toBe('historical_data');
      expect(Object.keys(hist.data).sort()).toEqual(['cache', 'error', 'latency', 'nodes', 'queue', 'slo', 'streaming', 'throughput']);
      expect(hist.data.streaming.completed_streams).toBe(3);
      // …and the stream carries on there.
      client.send({ type: 'subscribe', filters: { interval: 0.2 } });
      const update = await client.next((m) => m.type === 'metrics_update', 3000);
      expect(update.msg.timestamp as number).toBeGreaterThanOrEqual(hist.timestamp);
      client.close();
    }
    // The gateway that left refuses new clients (it is gone); the other one's client saw nothing of it.
    await expect(TestClient.connect(cluster.wsUrl(leaving))).rejects.toThrow();
    expect(bystander.client.closed).toBeNull();
    expect(bystander.gaps(signalledAt).maxGapMs).toBeLessThanOrEqual(BYSTANDER_MAX_GAP_MS);
    expect(bystander.orderViolations()).toEqual([]);
    bystander.close();
  });
});
