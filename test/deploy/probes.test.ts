/**
 * The probe paths the deployment files use are routes each service's code
 * serves: every service's HTTP surface, built by its own factory on port 0.
 */
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHealthServer, type AggregatorStatus } from '@pulse/aggregator';
import { createGateway, parseGatewayConfig, type Gateway } from '@pulse/gateway';
import { createIngestApp, ingestConfigShape } from '@pulse/ingest';
import { createAdminServer, createProxy, proxyConfigShape, proxySettings, type Proxy } from '@pulse/proxy';
import { MemoryEventLog, MemorySnapshotBus, parseConfig, silentLogger } from '@pulse/runtime';
import { PROBE_PATHS } from './probes.js';

const standby: AggregatorStatus = {
  role: 'standby',
  state: 'standby',
  epoch: null,
  lastPublishedSeq: null,
  lastPublishedAt: null,
  cells: 0,
  buckets: 0,
  eventsApplied: 0,
  appliedId: '',
  inFlight: 0,
  nodes: 0,
  recordedEntries: 0,
  labelsFolded: 0,
  lagMs: null,
  ticksSkipped: 0,
  lastTickMs: 0,
};

let gateway: Gateway;
let proxy: Proxy;
const servers: Record<string, Server> = {};

beforeAll(async () => {
  gateway = createGateway({ config: parseGatewayConfig({}), feed: new MemorySnapshotBus(), logger: silentLogger() });
  servers.gateway = gateway.server;
  servers.ingest = createServer(
    createIngestApp({ config: parseConfig(ingestConfigShape, {}), log: new MemoryEventLog(60_000), logger: silentLogger(), isReady: () => true }),
  );
  servers.aggregator = createHealthServer({ status: () => standby, storeReachable: () => true });
  // The proxy's probes are on its admin server: its own port forwards every path. No upstream answers here.
  const settings = proxySettings(parseConfig(proxyConfigShape, { PULSE_PROXY_UPSTREAMS: 'http://127.0.0.1:9' }));
  proxy = createProxy({ settings, log: new MemoryEventLog(60_000), logger: silentLogger() });
  servers.proxy = createAdminServer({ proxy, readTokens: [] });
  for (const server of Object.values(servers)) {
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
  }
});

afterAll(async () => {
  await gateway?.close();
  await proxy?.close(0);
  for (const [name, server] of Object.entries(servers)) if (name !== 'gateway') server.close();
});

const get = async (service: string, path: string) => {
  const { port } = servers[service]!.address() as AddressInfo;
  const res = await fetch(`http://127.0.0.1:${port}${path}`);
  await res.arrayBuffer();
  return res.status;
};

describe.each(['ingest', 'proxy', 'aggregator', 'gateway'])('%s serves the probe paths', (service) => {
  it(`${PROBE_PATHS.liveness} answers 200`, async () => {
    expect(await get(service, PROBE_PATHS.liveness)).toBe(200);
  });

  it(`${PROBE_PATHS.readiness} is a route (200 ready, 503 not yet)`, async () => {
    expect([200, 503]).toContain(await get(service, PROBE_PATHS.readiness));
  });

  it('an unknown path is 404, so the two above are real routes', async () => {
    expect(await get(service, '/no-such-probe')).toBe(404);
  });
});
