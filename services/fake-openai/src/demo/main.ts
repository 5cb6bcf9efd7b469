/**
 * `npm run demo:proxy`: real HTTP traffic through the proxy into Pulse.
 * Starts, as `node` processes, Pulse all-in-one on PORT (8000), two fake
 * OpenAI upstreams, and the proxy (services/proxy) in front of them on
 * DEMO_PROXY_PORT (8090); then sends a mix of OpenAI requests through the
 * proxy until Ctrl-C, printing what Pulse sees every few seconds. Pulse and
 * the proxy share a Redis: REDIS_URL, else a redis-server from PATH.
 */
import { intVar, loadConfigOrExit, numVar, redisUrlVar } from '@pulse/runtime';
import { freePort, startNode, startRedis, stop, waitReady, type Child } from './children.js';
import { startLoad, type Load } from './load.js';

const config = loadConfigOrExit('demo:proxy', {
  PORT: intVar(8000, 1, 65_535),
  /** Where the proxy takes the demo's (and your) requests. */
  DEMO_PROXY_PORT: intVar(8090, 1, 65_535),
  REDIS_URL: redisUrlVar.optional(),
  /** Requests per second sent through the proxy. */
  DEMO_REQUESTS_PER_SEC: numVar(20, 0.1, 10_000),
});
const PATH = process.env.PATH ?? '';
const PREFIX = 'pulse-demo-proxy';
const REPORT_MS = 5000;

const children: Child[] = [];
let load: Load | null = null;
let stopping = false;

async function shutdown(code: number): Promise<never> {
  if (!stopping) {
    stopping = true;
    await load?.stop();
    for (const child of [...children].reverse()) await stop(child);
  }
  process.exit(code);
}
process.on('SIGINT', () => void shutdown(0));
process.on('SIGTERM', () => void shutdown(0));

try {
  let redisUrl = config.REDIS_URL;
  if (!redisUrl) {
    const redis = await startRedis();
    children.push(redis.child);
    redisUrl = redis.url;
  }
  const pulseUrl = `http://localhost:${config.PORT}`;
  const pulse = startNode('pulse', 'standalone', { PATH, REDIS_URL: redisUrl, PORT: String(config.PORT), PULSE_KEY_PREFIX: PREFIX });
  children.push(pulse);

  const fakes = await Promise.all(
    [1, 2].map(async (n) => {
      const port = await freePort();
      const child = startNode(`fake-openai-${n}`, 'fake-openai', { PATH, PORT: String(port) });
      children.push(child);
      return { child, url: `http://127.0.0.1:${port}` };
    }),
  );
  const adminUrl = `http://127.0.0.1:${await freePort()}`;
  const proxy = startNode('proxy', 'proxy', {
    PATH,
    REDIS_URL: redisUrl,
    PORT: String(config.DEMO_PROXY_PORT),
    PULSE_PROXY_ADMIN_PORT: new URL(adminUrl).port,
    PULSE_KEY_PREFIX: PREFIX,
    PULSE_PROXY_UPSTREAMS: fakes.map((f) => f.url).join(','),
    PULSE_NODE_ID: 'demo-proxy',
  });
  children.push(proxy);
  for (const child of children) {
    child.process.once('exit', (code) => {
      if (stopping) return;
      console.error(`demo:proxy: ${child.name} exited (code ${code}); stopping`);
      void shutdown(1);
    });
  }

  await Promise.all([
    waitReady(pulse, `${pulseUrl}/readyz`),
    ...fakes.map((f) => waitReady(f.child, `${f.url}/readyz`)),
    waitReady(proxy, `${adminUrl}/readyz`),
  ]);

  const proxyUrl = `http://localhost:${config.DEMO_PROXY_PORT}`;
  console.log(
    [
      '',
      `Pulse demo: ${config.DEMO_REQUESTS_PER_SEC} OpenAI requests/s through the proxy into Pulse (Ctrl-C stops everything)`,
      `  dashboard        ${pulseUrl}/`,
      `  live metrics     ws://localhost:${config.PORT}/metrics/stream   snapshot: ${pulseUrl}/metrics/snapshot`,
      `  proxy            ${proxyUrl}  (in front of ${fakes.map((f) => f.url).join(', ')})`,
      `  proxy status     ${adminUrl}/status   Prometheus: ${adminUrl}/metrics`,
      `  try it           curl -N ${proxyUrl}/v1/chat/completions -H 'content-type: application/json' \\`,
      `                     -d '{"model":"gpt-4","messages":[{"role":"user","content":"hi"}],"stream":true}'`,
      '',
    ].join('\n'),
  );

  load = startLoad(proxyUrl, config.DEMO_REQUESTS_PER_SEC);
  setInterval(() => void report(pulseUrl, load!), REPORT_MS).unref();
} catch (err) {
  console.error(`demo:proxy: ${(err as Error).message}`);
  await shutdown(1);
}

/** One line: what the demo sent, and what Pulse reports from the proxy's events. */
async function report(pulseUrl: string, traffic: Load): Promise<void> {
  const { sent, ok, failed } = traffic.stats();
  try {
    const { data } = (await (await fetch(`${pulseUrl}/metrics/snapshot`)).json()) as { data: SnapshotView };
    const chat = data.latency['/v1/chat/completions'];
    console.log(
      `sent ${sent} (ok ${ok}, failed ${failed}) | Pulse: ${fixed(data.throughput.total_requests_per_sec)} req/s, ` +
        `chat p50 ${fixed(chat?.p50)} ms, TTFT p50 ${fixed(data.streaming.ttft?.p50)} ms, ` +
        `${data.streaming.active_streams} active streams, cache hit ${fixed(data.cache.hit_rate)} %, ${fixed(data.error.total_errors_per_sec)} errors/s`,
    );
  } catch (err) {
    console.log(`sent ${sent} (ok ${ok}, failed ${failed}) | Pulse snapshot unavailable: ${(err as Error).message}`);
  }
}

interface SnapshotView {
  throughput: { total_requests_per_sec: number };
  latency: Record<string, { p50: number } | undefined>;
  streaming: { active_streams: number; ttft?: { p50: number } };
  cache: { hit_rate: number };
  error: { total_errors_per_sec: number };
}

function fixed(n: number | undefined): string {
  return n === undefined ? '-' : n.toFixed(1);
}
