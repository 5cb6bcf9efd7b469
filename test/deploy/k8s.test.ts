/**
 * infra/k8s: every manifest validates strictly against the Kubernetes API
 * schemas (kubernetes-models 4.5: v1.33.0); each overlay, as `kubectl
 * kustomize` renders it — alone, and with the optional components added as
 * docs/DEPLOY.md says — is checked against the services' code (variables,
 * ports, probe paths, drain deadline) and against itself (selectors, names,
 * ports that refer to one another). Without a kubectl that embeds kustomize
 * v5, the render checks are skipped and say why.
 */
import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { beforeAll, describe, expect, it } from 'vitest';
import { parseGatewayConfig } from '@pulse/gateway';
import { ingestConfigShape } from '@pulse/ingest';
import { commonVars, parseConfig } from '@pulse/runtime';
import { validateObject } from './k8s-schema.js';
import { PROBE_PATHS } from './probes.js';
import { COMPONENT_PARTS, COMPONENTS, kubectlMissing, listenPort, OVERLAYS, probePort, read, renderOverlay, ROOT, serviceOfCommand, shapeOf, type K8sObject } from './support.js';

/** Secrets the prod overlay expects the operator to create (docs/DEPLOY.md), with a stand-in value. */
const EXTERNAL_SECRETS: Record<string, Record<string, string>> = {
  'pulse-redis': { REDIS_URL: 'rediss://redis.example:6380' },
  'pulse-tokens': { write: 'stand-in-write-token-0123456789', read: 'stand-in-read-token-0123456789' },
};

type Container = { name: string; image: string; command?: string[]; args?: string[]; ports?: { name?: string; containerPort: number }[]; env?: any[]; envFrom?: any[]; [k: string]: any };

const yamlFiles = (dir: string): string[] =>
  readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    return statSync(p).isDirectory() ? yamlFiles(p) : n.endsWith('.yaml') && n !== 'kustomization.yaml' ? [p] : [];
  });

describe('infra/k8s manifests, as written (no kubectl needed)', () => {
  it('every object validates strictly against the Kubernetes schemas', async () => {
    const problems: string[] = [];
    const files = yamlFiles(join(ROOT, 'infra/k8s'));
    expect(files.length).toBeGreaterThanOrEqual(6);
    for (const file of files) {
      for (const doc of parseAllDocuments(read(relative(ROOT, file)))) {
        const obj = doc.toJS() as K8sObject;
        const { errors, unknown } = await validateObject(obj);
        for (const p of [...errors, ...unknown.map((u) => `unknown field ${u}`)]) problems.push(`${relative(ROOT, file)} ${obj.kind}/${obj.metadata.name}: ${p}`);
      }
    }
    expect(problems).toEqual([]);
  });

  it('the validator reports a misspelt field, a bad quantity and a missing required field (so it can fail)', async () => {
    const [deployment] = parseAllDocuments(read('infra/k8s/base/gateway.yaml')).map((d) => d.toJS() as any);
    const c = deployment.spec.template.spec.containers[0];
    c.readinesProbe = c.readinessProbe;
    expect((await validateObject(deployment)).unknown).toEqual(['$.spec.template.spec.containers[0].readinesProbe']);
    c.resources.requests.cpu = 'lots';
    expect((await validateObject(deployment)).errors.join()).toMatch(/cpu/);
    delete deployment.spec.selector;
    c.resources.requests.cpu = '1';
    expect((await validateObject(deployment)).errors.join()).toMatch(/selector/);
  });
});

const skip = kubectlMissing ? ` — skipped: ${kubectlMissing}` : '';
if (kubectlMissing) console.warn(`test/deploy: Kubernetes render checks skipped: ${kubectlMissing}`);

/** Each overlay alone, then with every optional component. */
const RENDERS = OVERLAYS.flatMap((overlay) => [
  { overlay, components: [] as readonly (keyof typeof COMPONENT_PARTS)[], label: overlay },
  { overlay, components: COMPONENTS, label: `${overlay} + ${COMPONENTS.map((c) => `components/${c}`).join(', ')}` },
]);

describe.skipIf(kubectlMissing !== null).each(RENDERS)(`kubectl kustomize infra/k8s/overlays/$label${skip}`, ({ overlay, components }) => {
  let objs: K8sObject[] = [];
  beforeAll(() => {
    objs = renderOverlay(overlay, components);
  });
  const all = (kind: string) => objs.filter((o) => o.kind === kind) as any[];
  const find = (kind: string, name: string) => objs.find((o) => o.kind === kind && o.metadata.name === name) as any;
  const workloads = () => [...all('Deployment'), ...all('StatefulSet')];
  const matches = (selector: Record<string, string>, labels: Record<string, string> = {}) =>
    Object.keys(selector).length > 0 && Object.entries(selector).every(([k, v]) => labels[k] === v);
  const pulseContainers = () =>
    all('Deployment').flatMap((d) => (d.spec.template.spec.containers as Container[]).map((c) => ({ d, c, service: serviceOfCommand(c.command) })));

  /** The environment a container starts with: env, then envFrom ConfigMaps/Secrets, resolved. */
  const envOf = (c: Container): Record<string, string> => {
    const env: Record<string, string> = {};
    const secret = (name: string) => {
      const s = find('Secret', name);
      if (s) return Object.fromEntries(Object.entries<string>(s.data ?? {}).map(([k, v]) => [k, Buffer.from(v, 'base64').toString()]));
      if (overlay === 'prod' && EXTERNAL_SECRETS[name]) return EXTERNAL_SECRETS[name]!;
      throw new Error(`${c.name}: Secret ${name} is neither rendered nor a documented external Secret`);
    };
    for (const from of c.envFrom ?? []) {
      if (from.configMapRef) {
        const cm = find('ConfigMap', from.configMapRef.name);
        expect(cm, `${c.name}: ConfigMap ${from.configMapRef.name}`).toBeDefined();
        Object.assign(env, cm.data);
      } else Object.assign(env, secret(from.secretRef.name));
    }
    for (const e of c.env ?? []) {
      if (e.valueFrom?.secretKeyRef) {
        const value = secret(e.valueFrom.secretKeyRef.name)[e.valueFrom.secretKeyRef.key];
        expect(value, `${c.name}: ${e.name} from Secret ${e.valueFrom.secretKeyRef.name}`).toBeDefined();
        env[e.name] = value!;
      } else if (e.valueFrom?.configMapKeyRef) env[e.name] = find('ConfigMap', e.valueFrom.configMapKeyRef.name).data[e.valueFrom.configMapKeyRef.key];
      else env[e.name] = String(e.value ?? '');
    }
    return env;
  };

  it('renders objects that all validate strictly against the Kubernetes schemas', async () => {
    expect(objs.length).toBeGreaterThan(10);
    const problems: string[] = [];
    for (const obj of objs) {
      const { errors, unknown } = await validateObject(obj);
      for (const p of [...errors, ...unknown.map((u) => `unknown field ${u}`)]) problems.push(`${obj.kind}/${obj.metadata.name}: ${p}`);
    }
    expect(problems).toEqual([]);
  });

  it('has a Deployment, Service and PDB per tier, HPAs for gateway and ingest, an Ingress and a ConfigMap (plus what the components add)', () => {
    const services = pulseContainers().map((p) => p.service).sort();
    expect(services).toEqual(['aggregator', 'gateway', 'ingest', ...components.flatMap((c) => COMPONENT_PARTS[c].services)].sort());
    for (const d of all('Deployment')) {
      expect(all('Service').some((s) => matches(s.spec.selector, d.spec.template.metadata.labels)), `Service for ${d.metadata.name}`).toBe(true);
      expect(all('PodDisruptionBudget').some((p) => matches(p.spec.selector.matchLabels, d.spec.template.metadata.labels)), `PDB for ${d.metadata.name}`).toBe(true);
    }
    const scaled = all('HorizontalPodAutoscaler').map((h) => serviceOfCommand(find('Deployment', h.spec.scaleTargetRef.name)?.spec.template.spec.containers[0].command));
    expect(scaled.sort()).toEqual(['gateway', 'ingest']);
    expect(all('Ingress')).toHaveLength(1);
    const added: string[] = components.flatMap((c) => COMPONENT_PARTS[c].configMaps);
    expect(all('ConfigMap').filter((c) => !added.includes(c.metadata.name))).toHaveLength(1);
    for (const name of added) expect(find('ConfigMap', name), name).toBeDefined();
  });

  it('creates its namespace, with Pod Security "restricted" enforced, and puts everything in it', () => {
    const [ns] = all('Namespace');
    expect(ns.metadata.labels['pod-security.kubernetes.io/enforce']).toBe('restricted');
    for (const o of objs) if (o.kind !== 'Namespace') expect(o.metadata.namespace, `${o.kind}/${o.metadata.name}`).toBe(ns.metadata.name);
  });

  it('runs every pod non-root on a read-only root filesystem, without privilege escalation, capabilities or service links', () => {
    for (const w of workloads()) {
      const pod = w.spec.template.spec;
      expect(pod.enableServiceLinks, w.metadata.name).toBe(false);
      expect(pod.securityContext.runAsNonRoot, w.metadata.name).toBe(true);
      expect(pod.securityContext.runAsUser, w.metadata.name).toBeGreaterThan(0);
      expect(pod.securityContext.seccompProfile?.type, w.metadata.name).toBe('RuntimeDefault');
      for (const c of pod.containers) {
        expect(c.securityContext, `${w.metadata.name}/${c.name}`).toMatchObject({ allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } });
        expect(c.resources.requests.cpu && c.resources.requests.memory && c.resources.limits.memory, `${c.name} resources`).toBeTruthy();
      }
    }
  });

  it('spreads each workload over nodes and zones by its own pods', () => {
    for (const d of all('Deployment')) {
      const spread = d.spec.template.spec.topologySpreadConstraints as any[];
      expect(spread.map((t) => t.topologyKey).sort(), d.metadata.name).toEqual(['kubernetes.io/hostname', 'topology.kubernetes.io/zone']);
      for (const t of spread) expect(matches(t.labelSelector.matchLabels, d.spec.template.metadata.labels), d.metadata.name).toBe(true);
    }
  });

  it("sets only variables each service's config schema knows, with values it accepts", async () => {
    for (const { c, service } of pulseContainers()) {
      const shape = await shapeOf(service!);
      const env = envOf(c);
      expect(Object.keys(env).filter((k) => !(k in shape!)), `${c.name}: variables its config does not read`).toEqual([]);
      expect(() => parseConfig(shape!, env), c.name).not.toThrow();
    }
  });

  it('probes /healthz (liveness) and /readyz (readiness) on the port the code answers them on, and exposes the ports it listens on', async () => {
    for (const { c, service } of pulseContainers()) {
      const shape = (await shapeOf(service!))!;
      const port = probePort(service!, shape, envOf(c));
      // The proxy listens on two: its traffic (PORT) and its own endpoints; the others on PORT alone.
      const listening = [...new Set([listenPort(shape, envOf(c)), port])];
      const named = (p: number | string) => (typeof p === 'number' ? p : c.ports!.find((cp) => cp.name === p)?.containerPort);
      expect(c.ports!.map((p) => p.containerPort), c.name).toEqual(listening);
      expect(c.livenessProbe.httpGet.path, c.name).toBe(PROBE_PATHS.liveness);
      expect(c.readinessProbe.httpGet.path, c.name).toBe(PROBE_PATHS.readiness);
      expect(named(c.livenessProbe.httpGet.port), c.name).toBe(port);
      expect(named(c.readinessProbe.httpGet.port), c.name).toBe(port);
    }
  });

  it('lets each drain finish: terminationGracePeriodSeconds ≥ preStop + PULSE_SHUTDOWN_TIMEOUT_MS + 2 s', () => {
    for (const { d, c } of pulseContainers()) {
      // Every service reads the deadline with the same schema: the common variables'.
      const deadlineS = parseConfig({ PULSE_SHUTDOWN_TIMEOUT_MS: commonVars.PULSE_SHUTDOWN_TIMEOUT_MS }, envOf(c)).PULSE_SHUTDOWN_TIMEOUT_MS / 1000;
      const sleep = c.lifecycle?.preStop?.exec?.command;
      const preStopS = sleep ? Number(sleep[1]) : 0;
      if (sleep) expect(sleep[0]).toBe('sleep');
      // Pods behind a Service that takes traffic keep serving while endpoint removal propagates.
      if (c.name !== 'aggregator') expect(preStopS, `${c.name} preStop`).toBeGreaterThanOrEqual(3);
      expect(d.spec.template.spec.terminationGracePeriodSeconds, c.name).toBeGreaterThanOrEqual(preStopS + deadlineS + 2);
    }
  });

  it('Services, PDBs and HPAs point at workloads that exist, on ports they expose', () => {
    for (const s of all('Service')) {
      const targets = workloads().filter((w) => matches(s.spec.selector, w.spec.template.metadata.labels));
      expect(targets, `Service ${s.metadata.name} selects one workload`).toHaveLength(1);
      const ports = targets[0].spec.template.spec.containers.flatMap((c: Container) => c.ports ?? []);
      for (const p of s.spec.ports) expect(ports.some((cp: any) => cp.name === p.targetPort || cp.containerPort === p.targetPort), `${s.metadata.name}:${p.targetPort}`).toBe(true);
    }
    for (const p of all('PodDisruptionBudget')) expect(workloads().filter((w) => matches(p.spec.selector.matchLabels, w.spec.template.metadata.labels)), p.metadata.name).toHaveLength(1);
    for (const h of all('HorizontalPodAutoscaler')) {
      const d = find('Deployment', h.spec.scaleTargetRef.name);
      expect(d, h.metadata.name).toBeDefined();
      // A `replicas` field would reset the HPA's count on every apply.
      expect(d.spec.replicas, d.metadata.name).toBeUndefined();
      expect(h.spec.minReplicas).toBeGreaterThanOrEqual(2);
    }
  });

  it('routes /v1/events to ingest and the rest to the gateways, with WebSocket-friendly timeouts', () => {
    const [ing] = all('Ingress');
    const serviceOf = (backend: { name: string; port: { name?: string; number?: number } }) => {
      const s = find('Service', backend.name);
      expect(s, `Service ${backend.name}`).toBeDefined();
      expect(s.spec.ports.some((p: any) => p.name === backend.port.name || p.port === backend.port.number), `${backend.name} port`).toBe(true);
      const w = workloads().find((w) => matches(s.spec.selector, w.spec.template.metadata.labels));
      return serviceOfCommand(w.spec.template.spec.containers[0].command);
    };
    const routes = ing.spec.rules.flatMap((r: any) => r.http.paths.map((p: any) => [p.path, serviceOf(p.backend.service)]));
    expect(routes).toEqual([['/v1/events', 'ingest'], ['/', 'gateway']]);
    const heartbeatS = parseGatewayConfig({}).PULSE_GATEWAY_HEARTBEAT_MS / 1000;
    for (const k of ['proxy-read-timeout', 'proxy-send-timeout']) expect(Number(ing.metadata.annotations[`nginx.ingress.kubernetes.io/${k}`]), k).toBeGreaterThan(2 * heartbeatS);
    const body = /^(\d+)m$/.exec(ing.metadata.annotations['nginx.ingress.kubernetes.io/proxy-body-size']);
    expect(Number(body?.[1]) * 1024 * 1024).toBeGreaterThanOrEqual(parseConfig(ingestConfigShape, {}).PULSE_MAX_BODY_BYTES);
  });

  it(overlay === 'prod' ? 'turns read tokens on for every service that takes them' : 'leaves read tokens off', async () => {
    for (const { c, service } of pulseContainers()) {
      if (!('PULSE_READ_TOKENS' in (await shapeOf(service!))!)) continue;
      const ref = c.env?.find((e: any) => e.name === 'PULSE_READ_TOKENS')?.valueFrom?.secretKeyRef;
      if (overlay === 'prod') expect(ref, c.name).toEqual({ name: 'pulse-tokens', key: 'read' });
      else expect(ref, c.name).toBeUndefined();
    }
  });

  it('gives every Pulse container a pinned image (not :latest)', () => {
    for (const { c } of pulseContainers()) expect(c.image, c.name).toMatch(/:(?!latest$)[\w.-]+$/);
  });

  it(overlay === 'dev' ? 'runs its own Redis 7 (StatefulSet, AOF, noeviction) and points REDIS_URL at it' : 'reads REDIS_URL from the external Secret pulse-redis and runs no Redis', () => {
    const redis = all('StatefulSet');
    if (overlay === 'prod') {
      expect(redis).toEqual([]);
      expect(all('Secret')).toEqual([]);
    } else {
      expect(redis).toHaveLength(1);
      const c = redis[0].spec.template.spec.containers[0];
      expect(c.image).toMatch(/^redis:7(\.|-|$)/);
      expect(c.args.join(' ')).toMatch(/--appendonly yes\b.*--maxmemory-policy noeviction\b/);
      expect(redis[0].spec.volumeClaimTemplates).toHaveLength(1);
    }
    for (const { c } of pulseContainers()) {
      const ref = c.env?.find((e: any) => e.name === 'REDIS_URL')?.valueFrom?.secretKeyRef;
      expect(ref?.name, c.name).toMatch(/^pulse-redis/);
      if (overlay === 'dev') {
        const url = new URL(envOf(c).REDIS_URL!);
        const svc = find('Service', url.hostname);
        expect(svc && matches(svc.spec.selector, redis[0].spec.template.metadata.labels), `${c.name}: REDIS_URL host is the Redis Service`).toBe(true);
        expect(svc.spec.ports.map((p: any) => p.port)).toContain(Number(url.port || 6379));
      }
    }
  });
});
