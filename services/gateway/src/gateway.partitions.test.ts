/**
 * A gateway of a partitioned deployment (PULSE_PARTITIONS > 1): one feed per
 * partition, merged tick by tick (@pulse/metrics' PartitionMerge). A tick goes
 * out once every partition has it; a partition more than a tick behind keeps
 * its last figures and is named in `stale_partitions` (docs/PROTOCOL.md §5.4),
 * which is absent while none is.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { encodeSnapshot, type CellData } from '@pulse/protocol';
import { MemorySnapshotBus, silentLogger } from '@pulse/runtime';
import { cell, getJson, snapshot, TEST_TICK_MS, TestClient } from '@pulse/test-support/gateway';
import type { AddressInfo } from 'node:net';
import { createGateway, type Gateway } from './gateway.js';
import { parseGatewayConfig } from './config.js';
import { STREAM_PATH } from './ws-server.js';

let gateway: Gateway | null = null;
const clients: TestClient[] = [];

afterEach(async () => {
  for (const c of clients.splice(0)) c.ws.terminate();
  await gateway?.close();
  gateway = null;
});

const cellOf = (node: string, requests: number): CellData => ({ ...cell('/v1/chat/completions', 'gpt-4', { requests, responses: requests }), node });

describe('a gateway merging partitions', () => {
  it('sends each tick once every partition has it, and names a partition that falls behind without dropping its figures', async () => {
    const buses = [new MemorySnapshotBus(), new MemorySnapshotBus(), new MemorySnapshotBus()];
    const config = parseGatewayConfig({ PULSE_TICK_MS: String(TEST_TICK_MS), PORT: '0', HOST: '127.0.0.1', PULSE_PARTITIONS: '3' });
    gateway = createGateway({ config, feed: buses, logger: silentLogger() });
    await new Promise<void>((resolve) => gateway!.server.listen(0, '127.0.0.1', resolve));
    const { port } = gateway.server.address() as AddressInfo;
    const http = `http://127.0.0.1:${port}`;
    const publish = (p: number, seq: number) =>
      buses[p]!.publish(encodeSnapshot(snapshot(seq, [cellOf(`node-p${p}`, 10 * (p + 1))], { epoch: 1, nodes: [{ node: `node-p${p}`, lastSeen: seq, queueAdjust: 0, activeAdjust: 0 }] })));

    await publish(0, 100);
    await publish(1, 100);
    expect(gateway.ready()).toBe(false);
    await publish(2, 100);
    await vi.waitFor(() => expect(gateway!.ready()).toBe(true));
    const fresh = (await getJson(`${http}/metrics/snapshot`)).body;
    expect(fresh.data.throughput.total_requests_per_sec).toBe(6); // (10 + 20 + 30) / 10 s
    expect(fresh.stale_partitions).toBeUndefined();

    const c = await TestClient.connect(`ws://127.0.0.1:${port}${STREAM_PATH}`);
    clients.push(c);
    await c.request({ type: 'subscribe', filters: { interval: 0.1 } }, 'subscribed');
    await new Promise((r) => setTimeout(r, 150));

    // Tick 101 from all three: one update, merged, nothing stale.
    for (const p of [0, 1, 2]) await publish(p, 101);
    let update = (await c.next('metrics_update')).message;
    expect(update.timestamp).toBe(10.1);
    expect(update.data.throughput.total_requests_per_sec).toBe(6);
    expect('stale_partitions' in update).toBe(false);

    // Partition 1 goes silent: 102 goes out after the wait (one tick behind: not stale yet), 103 names it.
    await publish(0, 102);
    await publish(2, 102);
    update = (await c.next('metrics_update')).message;
    expect(update.timestamp).toBe(10.2);
    expect('stale_partitions' in update).toBe(false);
    await publish(0, 103);
    await publish(2, 103);
    update = (await c.next('metrics_update')).message;
    expect(update.timestamp).toBe(10.3);
    expect(update.stale_partitions).toEqual([1]);
    // Stale, not missing: its node and its requests are still counted.
    expect(update.data.throughput.total_requests_per_sec).toBe(6);
    expect(Object.keys(update.data.nodes).sort()).toEqual(['node-p0', 'node-p1', 'node-p2']);
    expect((await getJson(`${http}/metrics/snapshot`)).body.stale_partitions).toEqual([1]);
    const metrics = await (await fetch(`${http}/metrics`)).text();
    expect(metrics).toMatch(/^pulse_gateway_partitions_stale 1$/m);

    // Back (a new leader's keyframe, another epoch): fresh again.
    await buses[1]!.publish(encodeSnapshot(snapshot(104, [cellOf('node-p1', 40)], { epoch: 2 })));
    await publish(0, 104);
    await publish(2, 104);
    update = (await c.next('metrics_update')).message;
    expect(update.timestamp).toBe(10.4);
    expect('stale_partitions' in update).toBe(false);
    expect(update.data.throughput.total_requests_per_sec).toBe(8);
  });
});
