/**
 * `rediss://` (issue 16 item 1, CONTRACT §10): a redis-server that listens
 * only on a TLS port (`--port 0 --tls-port …`), its certificate signed by a
 * CA made for this run. Ingest, an aggregator and a gateway on
 * REDIS_URL=rediss://localhost:<port>, trusting that CA through Node's own
 * NODE_EXTRA_CA_CERTS, carry events end to end — there is no plain port, so
 * every connection that works is TLS. A process that does not trust the CA
 * is not ready and says why in its log, instead of falling back to anything.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { findRedisServerBinary, freePort } from '@pulse/test-support/redis-server';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { completedStreams, getJson, postEvents, requests, spawnService, until, UpdateRecorder } from './support.js';
import { TopologyServices } from './topology-support.js';

function tlsUnavailable(): string | null {
  if (!findRedisServerBinary()) return 'no redis-server on PATH';
  try {
    execFileSync('openssl', ['version'], { stdio: 'ignore' });
  } catch {
    return 'no openssl on PATH';
  }
  return null;
}

const unavailable = tlsUnavailable();
if (unavailable) console.warn(`[tls] skipped: ${unavailable}`);

/** A CA and a server certificate for localhost and 127.0.0.1 signed by it, in `dir`. */
function makeCertificates(dir: string): { ca: string; cert: string; key: string } {
  const path = (name: string) => join(dir, name);
  const openssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'ignore' });
  openssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '1', '-subj', '/CN=pulse-test-ca');
  openssl('req', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=localhost');
  writeFileSync(path('san.ext'), 'subjectAltName=DNS:localhost,IP:127.0.0.1\n');
  openssl('x509', '-req', '-in', 'server.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'server.pem', '-days', '1', '-extfile', 'san.ext');
  return { ca: path('ca.pem'), cert: path('server.pem'), key: path('server.key') };
}

/** redis-server with TLS only: no plain port at all. */
async function startTlsRedis(dir: string, certs: { ca: string; cert: string; key: string }): Promise<{ port: number; child: ChildProcess }> {
  const port = await freePort();
  const child = spawn(
    findRedisServerBinary()!,
    ['--port', '0', '--tls-port', String(port), '--bind', '127.0.0.1', '--tls-cert-file', certs.cert, '--tls-key-file', certs.key, '--tls-ca-cert-file', certs.ca, '--tls-auth-clients', 'no', '--save', '', '--appendonly', 'no', '--dir', dir],
    { stdio: 'ignore' },
  );
  process.on('exit', () => child.kill('SIGKILL'));
  await until('redis-server to answer over TLS', () => {
    try {
      return execFileSync('redis-cli', ['--tls', '--cacert', certs.ca, '-h', 'localhost', '-p', String(port), 'ping'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim() === 'PONG';
    } catch {
      return false;
    }
  }, 10_000, 100);
  return { port, child };
}

describe.skipIf(unavailable !== null)('rediss://: every service over TLS', () => {
  let dir: string;
  let redis: { port: number; child: ChildProcess };
  let pulse: TopologyServices;
  let client: UpdateRecorder;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'pulse-tls-'));
    const certs = makeCertificates(dir);
    redis = await startTlsRedis(dir, certs);
    pulse = new TopologyServices(`rediss://localhost:${redis.port}`, { NODE_EXTRA_CA_CERTS: certs.ca });
    await pulse.start({ ingest: 1, aggregators: 1, gateways: 1 });
    client = await UpdateRecorder.connect(pulse.wsUrl(), { interval: 0.5 });
  }, 60_000);
  afterEach((ctx) => {
    if (ctx.task.result?.state === 'fail') console.log(pulse?.logTail());
  });
  afterAll(async () => {
    client?.close();
    await pulse?.stop();
    redis?.child.kill('SIGKILL');
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('ingest → aggregator → gateway over TLS only', { timeout: 30_000 }, async () => {
    const { events } = requests(5, { tag: 'tls' });
    const res = await postEvents(pulse.ingest[0]!.url, events);
    expect(res.status).toBe(202);
    await client.waitFor('completed_streams = 5', (u) => completedStreams(u) === 5, 15_000);
    const status = await getJson(`${pulse.aggregators[0]!.url}/status`, 1000);
    expect(status.body.role).toBe('leader');
  });

  it('a process that does not trust the server certificate is not ready, and its log says why', { timeout: 30_000 }, async () => {
    // Same URL, without the CA: the connection must fail verification, not carry on unverified.
    const untrusting = spawnService('ingest', { REDIS_URL: `rediss://localhost:${redis.port}`, PULSE_KEY_PREFIX: pulse.prefix, LOG_LEVEL: 'info' }, 4000);
    await expect(untrusting).rejects.toThrow(/not ready after 4000 ms/);
    const log = await untrusting.catch((err: Error) => err.message);
    expect(log).toMatch(/self[- ]signed certificate|unable to (get local issuer|verify)/i);
  });
});
