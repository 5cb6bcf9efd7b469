/**
 * Prometheus out of the box (docs/MONITORING.md), without Docker or a
 * cluster: the compose `monitoring` profile and infra/prometheus/prometheus.yml
 * against docker-compose.yml and the services' own config (who is scraped, on
 * which port, with which token file), `promtool check config` when promtool is
 * on PATH; what the gateway's GET /metrics/prometheus serves, against what
 * the dashboard reads and the token the scrapes send; and the Kubernetes
 * component, rendered with `kubectl kustomize`, by running its
 * scrape config's relabelling over the pods the overlay creates.
 */
import { existsSync, mkdtempSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse as parseYaml, stringify } from 'yaml';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import { encodeSnapshot } from '@pulse/protocol';
import { MemorySnapshotBus } from '@pulse/runtime';
import { cell, snapshot, startGateway, type RunningGateway } from '@pulse/test-support/gateway';
import { familyOf, metricNames, PROMETHEUS_PATH, PULSE_SERIES, SELF_METRICS_PATH } from './promql.js';
import { podTargets, promtool, promtoolKubernetesMissing, promtoolMissing, scrapeTargets, type PodTemplate, type ScrapeConfig } from './scrape.js';
import { interpolate, kubectlMissing, listenPort, loadYaml, probePort, read, renderOverlay, ROOT, serviceOfCommand, shapeOf, type K8sObject } from './support.js';

type Service = {
  image?: string;
  command?: string[];
  environment?: Record<string, string>;
  volumes?: string[];
  configs?: { source: string; target: string }[];
  ports?: string[];
  depends_on?: Record<string, { condition: string }>;
  healthcheck?: { test?: string[] };
  profiles?: string[];
};
const compose = loadYaml('docker-compose.yml') as { services: Record<string, Service>; configs?: Record<string, { content?: string; file?: string }> };
const services = compose.services;
const MONITORING = ['prometheus', 'grafana'];

type DnsSd = { names: string[]; type?: string; port: number };
const prometheusYml = loadYaml('infra/prometheus/prometheus.yml') as { scrape_configs: (ScrapeConfig & { dns_sd_configs?: DnsSd[] })[] };
const job = (name: string) => prometheusYml.scrape_configs.find((j) => j.job_name === name)!;

const envOf = (s: Service): Record<string, string> => Object.fromEntries(Object.entries(s.environment ?? {}).map(([k, v]) => [k, interpolate(String(v ?? ''))]));

/** The dashboard's metric families (infra/grafana/dashboards/pulse.json). */
const dashboardFamilies = (() => {
  const d = JSON.parse(read('infra/grafana/dashboards/pulse.json')) as { panels: { targets?: { expr: string }[] }[] };
  const names = d.panels.flatMap((p) => (p.targets ?? []).flatMap((t) => metricNames(t.expr)));
  return [...new Set(names.map((n) => familyOf(n)!.family))].sort();
})();

describe('docker-compose.yml, monitoring profile', () => {
  it('runs Prometheus and Grafana from pinned official images, only in that profile', () => {
    expect(services.prometheus!.image).toMatch(/^prom\/prometheus:v\d+\.\d+\.\d+$/);
    expect(services.grafana!.image).toMatch(/^grafana\/grafana:\d+\.\d+\.\d+$/);
    for (const name of MONITORING) expect(services[name]!.profiles, name).toEqual(['monitoring']);
  });

  it('mounts, read-only, configuration files that exist in the repository', () => {
    for (const name of MONITORING) {
      const binds = (services[name]!.volumes ?? []).filter((v) => v.startsWith('./'));
      expect(binds.length, name).toBeGreaterThan(0);
      for (const bind of binds) {
        const [host, target, mode] = bind.split(':');
        expect(existsSync(join(ROOT, host!)), `${name}: ${host} exists`).toBe(true);
        expect(mode, `${name}: ${bind}`).toBe('ro');
        // A directory where a file is expected (or the reverse) is how a missing file shows in Docker.
        expect(statSync(join(ROOT, host!)).isDirectory(), bind).toBe(!/\.(ya?ml|json)$/.test(target!));
      }
    }
    expect(services.prometheus!.volumes).toContain('./infra/prometheus/prometheus.yml:/etc/prometheus/prometheus.yml:ro');
    // The image's own command reads that path; overriding it would have to repeat its flags.
    expect(services.prometheus!.command).toBeUndefined();
  });

  it('publishes Prometheus on 9090 and Grafana on 3000, on the loopback only', () => {
    expect(services.prometheus!.ports).toEqual(['127.0.0.1:9090:9090']);
    expect(services.grafana!.ports).toEqual(['127.0.0.1:3000:3000']);
  });

  it('starts Prometheus once the gateways are ready and Grafana once Prometheus is, each with a health check', () => {
    expect(services.prometheus!.depends_on).toEqual({ gateway: { condition: 'service_healthy' } });
    expect(services.grafana!.depends_on).toEqual({ prometheus: { condition: 'service_healthy' } });
    expect(services.prometheus!.healthcheck!.test!.join(' ')).toContain('http://127.0.0.1:9090/-/ready');
    expect(services.grafana!.healthcheck!.test!.join(' ')).toContain('http://127.0.0.1:3000/api/health');
  });

  it('gives Prometheus the token file its scrapes send, empty unless PULSE_PROMETHEUS_TOKEN is set', () => {
    const files = new Set(prometheusYml.scrape_configs.map((j) => j.authorization?.credentials_file));
    expect([...files]).toHaveLength(1);
    const [file] = files;
    const mount = services.prometheus!.configs!.find((c) => c.target === file);
    expect(mount, `a config mounted at ${file}`).toBeDefined();
    const content = compose.configs![mount!.source]!.content!;
    expect(content).toBe('${PULSE_PROMETHEUS_TOKEN:-}');
    expect(interpolate(content)).toBe('');
  });
});

describe('infra/prometheus/prometheus.yml', () => {
  it(`scrapes ${PROMETHEUS_PATH} of every gateway replica, on the port its config listens on, every 5 s`, async () => {
    const pulse = job('pulse');
    expect(pulse.metrics_path).toBe(PROMETHEUS_PATH);
    expect(pulse.scrape_interval).toBe('5s');
    expect(pulse.authorization?.type).toBe('Bearer');
    const sd = pulse.dns_sd_configs!;
    expect(sd.flatMap((c) => c.names)).toEqual(['gateway']);
    for (const c of sd) {
      const s = services[c.names[0]!]!;
      expect(serviceOfCommand(s.command)).toBe('gateway');
      // A records: every replica, one target each (not the load balancer).
      expect(c.type).toBe('A');
      expect(c.port).toBe(listenPort((await shapeOf('gateway'))!, envOf(s)));
    }
  });

  it(`scrapes each Pulse service's own ${SELF_METRICS_PATH} where it serves it, in a job of its own`, async () => {
    const self = job('pulse-self');
    expect(self.metrics_path).toBe(SELF_METRICS_PATH);
    const scraped: string[] = [];
    for (const c of self.dns_sd_configs!) {
      for (const name of c.names) {
        const s = services[name];
        expect(s, `${name} is a compose service`).toBeDefined();
        const service = serviceOfCommand(s!.command)!;
        expect(c.port, name).toBe(probePort(service, (await shapeOf(service))!, envOf(s!)));
        scraped.push(service);
      }
    }
    expect(scraped.sort()).toEqual(['aggregator', 'gateway', 'ingest']);
  });

  const skip = promtoolMissing ? ` — skipped: ${promtoolMissing}` : '';
  if (promtoolMissing) console.warn(`test/deploy: promtool checks skipped: ${promtoolMissing}`);
  it.skipIf(promtoolMissing !== null)(`passes \`promtool check config\` (the token file provided as compose provides it)${skip}`, () => {
    const dir = mkdtempSync(join(tmpdir(), 'pulse-prometheus-'));
    writeFileSync(join(dir, 'token'), '');
    const file = join(dir, 'prometheus.yml');
    writeFileSync(file, read('infra/prometheus/prometheus.yml').replaceAll('/etc/prometheus/pulse-read-token', join(dir, 'token')));
    const r = promtool('check', 'config', file);
    expect(r.status, r.output).toBe(0);
    // Without the file, promtool refuses it: the check sees the credentials path.
    const bare = join(dir, 'bare.yml');
    writeFileSync(bare, read('infra/prometheus/prometheus.yml').replaceAll('/etc/prometheus/pulse-read-token', join(dir, 'missing')));
    expect(promtool('check', 'config', bare).status).not.toBe(0);
  });
});

// --- what the gateway serves ---------------------------------------------------

const TOKEN = 'prometheus-read-token-0123456789';

/** `# TYPE` families and samples' labels of a Prometheus text exposition. */
function parseExposition(text: string) {
  const types = new Map<string, string>();
  const samples: { name: string; labels: Record<string, string> }[] = [];
  for (const line of text.split('\n')) {
    const type = /^# TYPE (\S+) (\S+)$/.exec(line);
    if (type) types.set(type[1]!, type[2]!);
    const sample = /^([A-Za-z_:][\w:]*)(?:\{(.*)\})? \S+/.exec(line);
    if (sample && !line.startsWith('#')) {
      const labels = Object.fromEntries([...(sample[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((m) => [m[1]!, m[2]!]));
      samples.push({ name: sample[1]!, labels });
    }
  }
  return { types, samples };
}

describe(`GET ${PROMETHEUS_PATH} on the gateway, as the scrapes see it`, () => {
  const start = async (env: Record<string, string>) => {
    const bus = new MemorySnapshotBus();
    const gw = await startGateway(bus, env);
    const cells = [
      cell('/v1/chat/completions', 'gpt-4', { requests: 100, responses: 90, completionTokens: 900, errors: 9, activeStreams: 3, queueDepth: 4, sloGood: [80] }),
      cell('/v1/embeddings', 'llama', { requests: 20, responses: 20, lookups: 10, hits: 5, totalLookups: 10, totalHits: 5, sloGood: [20] }),
    ];
    await bus.publish(encodeSnapshot(snapshot(5, cells, { slos: ['interactive'] })));
    await vi.waitFor(() => expect(gw.gateway.ready()).toBe(true));
    return gw;
  };
  let open: RunningGateway;
  beforeAll(async () => {
    open = await start({});
    return () => open.close();
  });

  it('declares every family the dashboard reads, with the contract type, each series labelled endpoint and model', async () => {
    // What Prometheus sends with an empty token file (authentication off).
    const res = await fetch(`${open.http}${PROMETHEUS_PATH}`, { headers: { authorization: 'Bearer ' } });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    const { types, samples } = parseExposition(await res.text());
    for (const family of dashboardFamilies) {
      expect(types.get(family), `# TYPE ${family}`).toBe(PULSE_SERIES[family]);
      const of = samples.filter((s) => familyOf(s.name)?.family === family);
      for (const s of of) expect(Object.keys(s.labels), s.name).toEqual(expect.arrayContaining(['endpoint', 'model']));
    }
  });

  it('wants the read token the scrapes send once read tokens are on', async () => {
    const guarded = await start({ PULSE_READ_TOKENS: TOKEN });
    try {
      expect((await fetch(`${guarded.http}${PROMETHEUS_PATH}`)).status).toBe(401);
      expect((await fetch(`${guarded.http}${PROMETHEUS_PATH}`, { headers: { authorization: 'Bearer ' } })).status).toBe(401);
      expect((await fetch(`${guarded.http}${PROMETHEUS_PATH}`, { headers: { authorization: `Bearer ${TOKEN}` } })).status).toBe(200);
    } finally {
      await guarded.close();
    }
  });
});

// --- Kubernetes ------------------------------------------------------------------

const skipK8s = kubectlMissing ? ` — skipped: ${kubectlMissing}` : '';

describe.skipIf(kubectlMissing !== null).each(['dev', 'prod'])(`infra/k8s/components/monitoring in overlays/%s (with components/proxy)${skipK8s}`, (overlay) => {
  let objs: K8sObject[] = [];
  let jobs: ScrapeConfig[] = [];
  beforeAll(() => {
    objs = renderOverlay(overlay, ['proxy', 'monitoring']);
    const cm = objs.find((o) => o.kind === 'ConfigMap' && o.metadata.name === 'pulse-prometheus-scrape') as K8sObject & { data: Record<string, string> };
    jobs = parseYaml(cm.data['scrape-configs.yaml']!) as ScrapeConfig[];
  });
  const workloads = () => objs.filter((o) => o.kind === 'Deployment' || o.kind === 'StatefulSet') as (K8sObject & { spec: { template: PodTemplate & { spec: { containers: { command?: string[]; env?: { name: string; value?: string }[] }[] } } } })[];
  const namespace = () => objs.find((o) => o.kind === 'Namespace')!.metadata.name;
  /** Two running pods of every workload, as the pod role discovers them (IPv4 and IPv6). */
  const discovered = () =>
    workloads().flatMap((w, i) => [
      ...podTargets(w.spec.template, `${w.metadata.name}-a`, namespace(), `10.0.${i}.1`),
      ...podTargets(w.spec.template, `${w.metadata.name}-b`, namespace(), `fd00::${i}:2`),
    ]);
  const envOf = (w: ReturnType<typeof workloads>[number]) =>
    Object.fromEntries((w.spec.template.spec.containers[0]!.env ?? []).filter((e) => e.value !== undefined).map((e) => [e.name, e.value!]));

  it(`annotates the gateway pods, and only them, for ${PROMETHEUS_PATH} on the port the gateway listens on`, async () => {
    const annotated = workloads().filter((w) => w.spec.template.metadata.annotations?.['prometheus.io/scrape'] === 'true');
    expect(annotated.map((w) => serviceOfCommand(w.spec.template.spec.containers[0]!.command))).toEqual(['gateway']);
    const [gw] = annotated;
    const a = gw!.spec.template.metadata.annotations!;
    expect(a['prometheus.io/path']).toBe(PROMETHEUS_PATH);
    const port = listenPort((await shapeOf('gateway'))!, envOf(gw!));
    expect(Number(a['prometheus.io/port'])).toBe(port);
    expect(gw!.spec.template.spec.containers[0]!.ports!.map((p) => p.containerPort)).toContain(port);
  });

  it(`job pulse scrapes each gateway pod once, at its IP and port, on ${PROMETHEUS_PATH}, labelled by pod and namespace`, async () => {
    const targets = scrapeTargets(jobs.find((j) => j.job_name === 'pulse')!, discovered());
    const gateways = workloads().filter((w) => serviceOfCommand(w.spec.template.spec.containers[0]!.command) === 'gateway');
    const port = listenPort((await shapeOf('gateway'))!, envOf(gateways[0]!));
    const i = workloads().indexOf(gateways[0]!);
    expect(targets.map((t) => [t.__address__, t.__metrics_path__, t.instance, t.namespace]).sort()).toEqual(
      [
        [`10.0.${i}.1:${port}`, PROMETHEUS_PATH, 'pulse-gateway-a', namespace()],
        [`[fd00::${i}:2]:${port}`, PROMETHEUS_PATH, 'pulse-gateway-b', namespace()],
      ].sort(),
    );
    // No target label Pulse's own series carry: they keep their `node`, `endpoint` and `model`.
    for (const t of targets) for (const l of ['node', 'endpoint', 'model', 'pod']) expect(t[l]).toBeUndefined();
  });

  it(`job pulse-self scrapes every Pulse pod's ${SELF_METRICS_PATH} on the port that serves it (never the proxy's forwarding port, never Redis)`, async () => {
    const targets = scrapeTargets(jobs.find((j) => j.job_name === 'pulse-self')!, discovered());
    const expected: string[] = [];
    for (const [i, w] of workloads().entries()) {
      const service = serviceOfCommand(w.spec.template.spec.containers[0]!.command);
      if (w.kind !== 'Deployment' || !service) continue;
      const port = probePort(service, (await shapeOf(service))!, envOf(w));
      expected.push(`${service} 10.0.${i}.1:${port}${SELF_METRICS_PATH}`, `${service} [fd00::${i}:2]:${port}${SELF_METRICS_PATH}`);
    }
    expect(expected.map((e) => e.split(' ')[0]).sort()).toEqual(['aggregator', 'aggregator', 'gateway', 'gateway', 'ingest', 'ingest', 'proxy', 'proxy']);
    expect(targets.map((t) => `${t.service} ${t.__address__}${t.__metrics_path__}`).sort()).toEqual(expected.sort());
  });

  it('looks for pods in the prod overlay’s namespace (docs/MONITORING.md: pulse-dev for dev)', () => {
    for (const j of jobs) {
      const sd = (j.kubernetes_sd_configs as { role: string; namespaces: { names: string[] } }[])[0]!;
      expect(sd.role).toBe('pod');
      expect(sd.namespaces.names).toEqual(overlay === 'prod' ? [namespace()] : ['pulse']);
    }
  });

  /** promtool on the jobs, the token file present; `swap` replaces each job's discovery. */
  const check = (swap?: Record<string, unknown>) => {
    const dir = mkdtempSync(join(tmpdir(), 'pulse-k8s-scrape-'));
    const token = join(dir, 'read');
    writeFileSync(token, '');
    const file = join(dir, 'prometheus.yml');
    const checked = jobs.map(({ kubernetes_sd_configs, ...j }) => ({ ...j, ...(swap ?? { kubernetes_sd_configs }), authorization: { ...j.authorization, credentials_file: token } }));
    writeFileSync(file, stringify({ scrape_configs: checked }));
    return promtool('check', 'config', file);
  };

  it.skipIf(promtoolMissing !== null)(`has relabelling, intervals and authorization \`promtool check config\` accepts (discovery swapped for a static target)${promtoolMissing ? ` — skipped: ${promtoolMissing}` : ''}`, () => {
    const r = check({ static_configs: [{ targets: ['127.0.0.1:8000'] }] });
    expect(r.status, r.output).toBe(0);
  });

  it.skipIf(promtoolKubernetesMissing !== null)(`is a valid scrape_configs list, Kubernetes discovery included (\`promtool check config\`)${promtoolKubernetesMissing ? ` — skipped: ${promtoolKubernetesMissing}` : ''}`, () => {
    const r = check();
    expect(r.status, r.output).toBe(0);
  });
});
