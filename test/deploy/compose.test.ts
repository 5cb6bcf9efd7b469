/**
 * docker-compose.yml and its entry point (infra/haproxy/haproxy.cfg), without
 * a Docker engine: the Compose Specification's JSON schema, then what the
 * schema cannot know — that `up --wait` has a health check to wait for, that
 * every variable and value is one the service's config schema accepts, and
 * that every port and check path is the one the code serves.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Ajv } from 'ajv';
import draft7 from 'ajv/dist/refs/json-schema-draft-07.json' with { type: 'json' };
import { describe, expect, it } from 'vitest';
import { commonVars, parseConfig } from '@pulse/runtime';
import { gatewayConfigShape } from '@pulse/gateway';
import { proxyConfigShape } from '@pulse/proxy';
import { interpolate, listenPort, loadYaml, probePort, read, ROOT, serviceOfCommand, shapeOf, SIMULATOR_FIXED_VARS } from './support.js';
import { PROBE_PATHS } from './probes.js';

type Service = {
  image?: string;
  build?: unknown;
  command?: string[];
  environment?: Record<string, string | number | boolean | null>;
  depends_on?: Record<string, { condition: string }>;
  healthcheck?: { test?: string[]; disable?: boolean };
  deploy?: { replicas?: number };
  ports?: string[];
  profiles?: string[];
  stop_grace_period?: string;
  read_only?: boolean;
};

const compose = loadYaml('docker-compose.yml') as { services: Record<string, Service> };
const services = compose.services;
const pulse = Object.entries(services).filter(([, s]) => s.image?.startsWith('pulse:'));

// The Compose Specification schema as shipped by dclint (compose-spec/compose-go's copy).
const dclintDir = dirname(createRequire(import.meta.url).resolve('dclint/package.json'));
const schema = JSON.parse(readFileSync(join(dclintDir, 'schemas/compose.schema.json'), 'utf8'));
// The schema names its draft by the https URL; Ajv registers draft-07 under http.
// strictTypes lints how a schema is written (union types, implied `type`),
// which is compose-spec's business; unknown keywords stay errors.
const ajv = new Ajv({ allErrors: true, strictTypes: false });
ajv.addMetaSchema({ ...draft7, $id: schema.$schema });
const validate = ajv.compile(schema);

const envOf = (s: Service): Record<string, string> =>
  Object.fromEntries(Object.entries(s.environment ?? {}).map(([k, v]) => [k, interpolate(String(v ?? ''))]));

const seconds = (d: string) => {
  const m = /^(\d+)(ms|s|m)$/.exec(d);
  if (!m) throw new Error(`unsupported duration ${d}`);
  return Number(m[1]) * { ms: 0.001, s: 1, m: 60 }[m[2] as 'ms' | 's' | 'm'];
};

describe('docker-compose.yml', () => {
  it('validates against the Compose Specification JSON schema', () => {
    expect(validate(compose), JSON.stringify(validate.errors, null, 1)).toBe(true);
  });

  it('the schema check catches a misspelt key (so it can fail)', () => {
    const broken = structuredClone(compose);
    (broken.services.gateway as Record<string, unknown>).healthchek = { test: ['CMD', 'true'] };
    expect(validate(broken)).toBe(false);
  });

  it('runs Redis 7 with AOF, noeviction and a health check', () => {
    const redis = services.redis!;
    expect(redis.image).toMatch(/^redis:7(\.|-|$)/);
    const cmd = (redis.command ?? []).map((a) => interpolate(String(a))).join(' ');
    expect(cmd).toMatch(/--appendonly yes\b/);
    expect(cmd).toMatch(/--maxmemory-policy noeviction\b/);
    expect(cmd).toMatch(/--maxmemory \d+[kmg]b\b/);
    expect(redis.healthcheck?.test?.join(' ')).toMatch(/redis-cli ping/);
  });

  it('runs ingest, aggregator and gateway twice each, from the one image, by start command', () => {
    const byService = Object.fromEntries(pulse.map(([name, s]) => [name, serviceOfCommand(s.command)]));
    expect(byService).toMatchObject({ ingest: 'ingest', aggregator: 'aggregator', gateway: 'gateway' });
    for (const name of ['ingest', 'aggregator', 'gateway']) {
      expect(services[name]!.deploy?.replicas, name).toBe(2);
      expect(services[name]!.build, name).toBeDefined();
    }
  });

  it('lets `up --wait` finish: every depends_on target exists and has a health check when waited on', () => {
    for (const [name, s] of Object.entries(services)) {
      for (const [target, { condition }] of Object.entries(s.depends_on ?? {})) {
        expect(services[target], `${name} depends on ${target}`).toBeDefined();
        if (condition === 'service_healthy') expect(services[target]!.healthcheck?.disable, `${target} is waited on`).not.toBe(true);
        if (condition === 'service_healthy') expect(services[target]!.healthcheck?.test, `${target} has a check`).toBeDefined();
      }
      // A service with no HTTP server must not inherit the image's /readyz check, or it is never healthy.
      if (serviceOfCommand(s.command) === 'simulator') expect(s.healthcheck?.disable).toBe(true);
    }
  });

  it('health checks probe paths the services serve, on the port they serve them on', async () => {
    const hc: { portFor(env: object, cmdline: string): number } = await import(pathToFileURL(join(ROOT, 'infra/docker/healthcheck.mjs')).href);
    for (const [name, s] of pulse) {
      if (s.healthcheck?.disable) continue;
      const [cmd, node, script, path] = s.healthcheck!.test!;
      expect([cmd, node, script], name).toEqual(['CMD', 'node', 'healthcheck.mjs']);
      expect(path, name).toBe(PROBE_PATHS.readiness);
      const service = serviceOfCommand(s.command)!;
      expect(hc.portFor(envOf(s), (s.command ?? []).join(' ')), name).toBe(probePort(service, (await shapeOf(service))!, envOf(s)));
    }
  });

  it('gives every drain its deadline before SIGKILL (stop_grace_period > PULSE_SHUTDOWN_TIMEOUT_MS)', () => {
    for (const [name, s] of pulse) {
      const env = envOf(s);
      const shape = { PULSE_SHUTDOWN_TIMEOUT_MS: commonVars.PULSE_SHUTDOWN_TIMEOUT_MS };
      const deadline = parseConfig(shape, env).PULSE_SHUTDOWN_TIMEOUT_MS / 1000;
      expect(seconds(s.stop_grace_period ?? '10s'), name).toBeGreaterThanOrEqual(deadline + 5);
    }
  });

  it("sets only variables each service's config schema knows, with values it accepts", async () => {
    for (const [name, s] of pulse) {
      const service = serviceOfCommand(s.command);
      expect(service, `${name} runs a Pulse start command`).not.toBeNull();
      const env = envOf(s);
      const shape = await shapeOf(service!);
      if (service === 'simulator' && !shape) {
        // Until services/simulator exists (#6): only the variable its brief fixes.
        expect(Object.keys(env), name).toEqual(SIMULATOR_FIXED_VARS);
        continue;
      }
      expect(shape, `${service} has a config schema`).not.toBeNull();
      const unknown = Object.keys(env).filter((k) => !(k in shape!));
      expect(unknown, `${name}: variables its config does not read`).toEqual([]);
      expect(() => parseConfig(shape!, env), name).not.toThrow();
    }
  });

  it('points every service at this file’s Redis', () => {
    for (const [name, s] of pulse) {
      const url = envOf(s).REDIS_URL;
      if (url === undefined) continue;
      const { hostname, port } = new URL(url);
      expect(services[hostname], `${name}: REDIS_URL host`).toBeDefined();
      expect(port || '6379').toBe('6379');
    }
  });

  it('adds the simulator in the demo profile, the proxy and its stand-in upstream in the proxy profile, Prometheus and Grafana in the monitoring profile, nothing else in one', () => {
    const profiles: Record<string, string[]> = { simulator: ['demo'], proxy: ['proxy'], 'fake-openai': ['proxy'], prometheus: ['monitoring'], grafana: ['monitoring'] };
    for (const [name, s] of Object.entries(services)) expect(s.profiles, name).toEqual(profiles[name]);
  });

  it('the simulator posts to the entry point', () => {
    const sim = services.simulator!;
    expect(sim.command).toEqual(['node', 'services/simulator/dist/main.js']);
    const url = new URL(envOf(sim).PULSE_INGEST_URL!);
    expect(url.hostname).toBe('lb');
    expect(haproxy.frontends.find((f) => f.bind === Number(url.port))?.defaultBackend).toBe('ingest');
  });

  it('the proxy takes callers on its published PORT and forwards to the stand-in unless told otherwise; its admin port stays inside', async () => {
    const proxy = services.proxy!;
    const fake = services['fake-openai']!;
    expect(serviceOfCommand(proxy.command)).toBe('proxy');
    expect(serviceOfCommand(fake.command)).toBe('fake-openai');
    const env = envOf(proxy);
    const port = listenPort(proxyConfigShape, env);
    expect(proxy.ports).toEqual([`${port}:${port}`]);
    expect(proxy.ports!.join()).not.toContain(String(probePort('proxy', proxyConfigShape, env)));
    const [upstream, ...others] = parseConfig(proxyConfigShape, env).PULSE_PROXY_UPSTREAMS.map((u) => new URL(u));
    expect(others).toEqual([]);
    expect(services[upstream!.hostname]).toBe(fake);
    expect(Number(upstream!.port)).toBe(listenPort((await shapeOf('fake-openai'))!, envOf(fake)));
  });
});

// --- the entry point ---------------------------------------------------------

interface Frontend { name: string; bind: number; defaultBackend?: string; rules: { backend: string; path: string }[] }
interface Backend { name: string; host: string; port: number; check?: string }

/** The parts of haproxy.cfg these checks need: frontends' binds and routes, backends' servers and checks. */
function parseHaproxy(text: string) {
  const frontends: Frontend[] = [];
  const backends: Backend[] = [];
  let tunnel = '';
  let section: Frontend | Backend | null = null;
  for (const raw of text.split('\n')) {
    const line = raw.replace(/#.*/, '').trim();
    if (!line) continue;
    const [word, ...rest] = line.split(/\s+/);
    if (word === 'frontend') frontends.push((section = { name: rest[0]!, bind: 0, rules: [] }));
    else if (word === 'backend') backends.push((section = { name: rest[0]!, host: '', port: 0 }));
    else if (['global', 'defaults', 'resolvers', 'listen'].includes(word!)) section = null;
    else if (word === 'timeout' && rest[0] === 'tunnel') tunnel = rest[1]!;
    else if (section && 'bind' in section && word === 'bind') section.bind = Number(rest[0]!.split(':').at(-1));
    else if (section && 'bind' in section && word === 'default_backend') section.defaultBackend = rest[0];
    else if (section && 'bind' in section && word === 'use_backend') {
      const m = /^(\S+) if \{ path (\S+) \}$/.exec(rest.join(' '));
      expect(m, `unsupported rule: ${line}`).not.toBeNull();
      section.rules.push({ backend: m![1]!, path: m![2]! });
    } else if (section && 'host' in section && word === 'server-template') {
      const [host, port] = rest[2]!.split(':');
      Object.assign(section, { host, port: Number(port) });
    } else if (section && 'host' in section && word === 'http-check' && rest[0] === 'send') {
      section.check = rest[rest.indexOf('uri') + 1];
    }
  }
  return { frontends, backends, tunnel };
}

const haproxy = parseHaproxy(read('infra/haproxy/haproxy.cfg'));
const backendFor = (name: string | undefined) => haproxy.backends.find((b) => b.name === name);

describe('infra/haproxy/haproxy.cfg (the compose entry point)', () => {
  it('is mounted by the `lb` service from the official image, publishing 8000 and 8080', () => {
    const lb = services.lb!;
    expect(lb.image).toMatch(/^haproxy:\d/);
    expect((lb as { volumes?: string[] }).volumes).toContain('./infra/haproxy/haproxy.cfg:/usr/local/etc/haproxy/haproxy.cfg:ro');
    expect(lb.ports).toEqual(['8000:8000', '8080:8080']);
    expect(haproxy.frontends.map((f) => f.bind).sort()).toEqual([8000, 8080]);
  });

  it('is healthy only when both entry points reach a ready backend', () => {
    const probes = [...services.lb!.healthcheck!.test!.join(' ').matchAll(/http:\/\/127\.0\.0\.1:(\d+)(\/\S*)/g)];
    expect(probes.map((m) => Number(m[1])).sort()).toEqual(haproxy.frontends.map((f) => f.bind).sort());
    for (const m of probes) expect(m[2]).toBe(PROBE_PATHS.readiness);
  });

  it('routes :8000 to the gateways (POST /v1/events to ingest) and :8080 to ingest', () => {
    const web = haproxy.frontends.find((f) => f.bind === 8000)!;
    const api = haproxy.frontends.find((f) => f.bind === 8080)!;
    expect(backendFor(web.defaultBackend)?.host).toBe('gateway');
    expect(web.rules.map((r) => [r.path, backendFor(r.backend)?.host])).toEqual([['/v1/events', 'ingest']]);
    expect(backendFor(api.defaultBackend)?.host).toBe('ingest');
  });

  it('sends each backend to the compose service on the port its code listens on, checking /readyz', async () => {
    expect(haproxy.backends.length).toBeGreaterThan(0);
    for (const b of haproxy.backends) {
      const s = services[b.host];
      expect(s, `backend ${b.name} → service ${b.host}`).toBeDefined();
      const shape = await shapeOf(serviceOfCommand(s!.command)!);
      expect(b.port, b.name).toBe(listenPort(shape!, envOf(s!)));
      expect(b.check, b.name).toBe(PROBE_PATHS.readiness);
    }
  });

  it('keeps idle WebSockets open longer than two gateway heartbeats', () => {
    const m = /^(\d+)(s|m|h)$/.exec(haproxy.tunnel);
    expect(m, `timeout tunnel ${haproxy.tunnel}`).not.toBeNull();
    const tunnelMs = Number(m![1]) * { s: 1e3, m: 6e4, h: 3.6e6 }[m![2] as 's' | 'm' | 'h'];
    const heartbeatMs = parseConfig(gatewayConfigShape, envOf(services.gateway!)).PULSE_GATEWAY_HEARTBEAT_MS;
    expect(tunnelMs).toBeGreaterThan(2 * heartbeatMs);
  });

  const haproxyBin = spawnSync('haproxy', ['-v']).error ? null : 'haproxy';
  it.skipIf(!haproxyBin)(`passes \`haproxy -c\`${haproxyBin ? '' : ' — skipped: haproxy is not on PATH'}`, () => {
    // Service names resolve only inside compose; `init-addr none` skips the
    // start-up lookup (5 s of DNS time-outs here) and changes nothing else.
    const cfg = join(mkdtempSync(join(tmpdir(), 'pulse-haproxy-')), 'haproxy.cfg');
    writeFileSync(cfg, read('infra/haproxy/haproxy.cfg').replace(/init-addr \S+/, 'init-addr none'));
    const r = spawnSync('haproxy', ['-c', '-f', cfg], { encoding: 'utf8' });
    expect(r.status, r.stderr + r.stdout).toBe(0);
  });
});
