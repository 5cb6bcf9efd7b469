/**
 * What the deployment checks compare against: the services' own config
 * schemas (variable names, values, default ports), the deployment files, and
 * `kubectl kustomize` when it is on PATH.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { appendFileSync, cpSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseAllDocuments, parse as parseYaml } from 'yaml';
import { aggregatorProcessVars } from '@pulse/aggregator';
import { gatewayConfigShape } from '@pulse/gateway';
import { ingestConfigShape } from '@pulse/ingest';
import { proxyConfigShape } from '@pulse/proxy';
import { parseConfig } from '@pulse/runtime';
import { fakeOpenAIVars } from '@pulse/fake-openai';
import { standaloneVars } from '@pulse/standalone';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const read = (path: string) => readFileSync(join(ROOT, path), 'utf8');

type Shape = Parameters<typeof parseConfig>[0];

/** The start command of each service (docs/PROTOCOL.md §2), as the image runs it. */
export const START = /^services\/([a-z0-9-]+)\/dist\/main\.js$/;

const SHAPES: Record<string, Shape> = {
  ingest: ingestConfigShape,
  proxy: proxyConfigShape,
  aggregator: aggregatorProcessVars,
  gateway: gatewayConfigShape,
  standalone: standaloneVars,
  // The proxy's stand-in upstream in compose's `proxy` profile.
  'fake-openai': fakeOpenAIVars,
};

/**
 * The simulator (#6) was written in parallel with these checks: when
 * services/simulator/src/config.ts exists, its exported shapes (objects of
 * zod schemas) are the truth; without it, the variables compose sets must be
 * the ones #6 documents (SIMULATOR_FIXED_VARS).
 */
const SIMULATOR_CONFIG = join(ROOT, 'services/simulator/src/config.ts');
export const simulatorExists = existsSync(SIMULATOR_CONFIG);

async function simulatorShape(): Promise<Shape | null> {
  if (!simulatorExists) return null;
  const mod: Record<string, unknown> = await import(pathToFileURL(SIMULATOR_CONFIG).href);
  const shape: Record<string, unknown> = {};
  for (const value of Object.values(mod)) {
    if (value && typeof value === 'object' && !Array.isArray(value)) {
      const entries = Object.entries(value);
      if (entries.length > 0 && entries.every(([, v]) => typeof (v as { safeParse?: unknown })?.safeParse === 'function')) {
        Object.assign(shape, value);
      }
    }
  }
  return shape as Shape;
}

/** The config schema of a service, by the name in its start command; null when unknown. */
export async function shapeOf(service: string): Promise<Shape | null> {
  if (service === 'simulator') return simulatorShape();
  return SHAPES[service] ?? null;
}

/** The simulator's variables compose sets, as #6 documents them (checked against its schema when present). */
export const SIMULATOR_FIXED_VARS = ['PULSE_INGEST_URL', 'PULSE_SIM_NODES', 'PULSE_SIM_RATE'];

/** The service a container runs, from its command (the image's default is the all-in-one process). */
export function serviceOfCommand(command: readonly string[] | undefined): string | null {
  if (command === undefined || command.length === 0) return 'standalone';
  if (command[0] !== 'node' || command.length !== 2) return null;
  return START.exec(command[1]!)?.[1] ?? null;
}

/** The port a service listens on with `env`: PORT, else its schema's default. */
export function listenPort(shape: Shape, env: Record<string, string>): number {
  return portVar(shape, env, 'PORT');
}

/**
 * The variable naming the port a service answers its probes on, where it is
 * not PORT: the proxy's PORT forwards every path to its upstreams.
 */
const PROBE_PORT_VARS: Record<string, string> = { proxy: 'PULSE_PROXY_ADMIN_PORT' };

/** The port `service` answers /healthz and /readyz on with `env`. */
export function probePort(service: string, shape: Shape, env: Record<string, string>): number {
  return portVar(shape, env, PROBE_PORT_VARS[service] ?? 'PORT');
}

function portVar(shape: Shape, env: Record<string, string>, name: string): number {
  const port = (parseConfig(shape, env) as Record<string, unknown>)[name];
  if (typeof port !== 'number') throw new Error(`service has no ${name}`);
  return port;
}

/** Compose-style `${VAR:-default}` / `${VAR}` with the defaults the file gives (unset otherwise). */
export function interpolate(value: string): string {
  return value.replace(/\$\{([A-Z0-9_]+)(?::?-([^}]*))?\}/g, (_m, _name: string, def?: string) => def ?? '');
}

export function loadYaml(path: string): unknown {
  // merge: YAML 1.1 `<<` keys, which docker compose resolves too.
  return parseYaml(read(path), { merge: true });
}

// --- kubectl ---------------------------------------------------------------

export type K8sObject = { apiVersion: string; kind: string; metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> }; [k: string]: unknown };

export const OVERLAYS = ['dev', 'prod'] as const;

/** Oldest kustomize these overlays are written for (`labels`, inline JSON6902 `patches`). */
const MIN_KUSTOMIZE_MAJOR = 5;

/** Why the kustomize checks cannot run here, or null when they can. */
export const kubectlMissing: string | null = (() => {
  const probe = spawnSync('kubectl', ['version', '--client', '-o', 'json'], { encoding: 'utf8' });
  if (probe.error) return 'kubectl is not on PATH';
  if (probe.status !== 0) return `\`kubectl version --client\` failed: ${probe.stderr.trim().split('\n')[0]}`;
  const kustomize = (JSON.parse(probe.stdout) as { kustomizeVersion?: string }).kustomizeVersion ?? '';
  const major = Number(/^v?(\d+)/.exec(kustomize)?.[1] ?? 0);
  if (major < MIN_KUSTOMIZE_MAJOR) return `kubectl embeds kustomize ${kustomize || '(unknown)'}; the overlays need v${MIN_KUSTOMIZE_MAJOR}+ (kubectl 1.27+)`;
  return null;
})();

/**
 * The optional parts under infra/k8s/components that an overlay may add
 * (docs/DEPLOY.md, docs/MONITORING.md), with the Pulse services each one runs
 * and the ConfigMaps it adds.
 */
export const COMPONENT_PARTS = {
  proxy: { services: ['proxy'], configMaps: [] },
  monitoring: { services: [], configMaps: ['pulse-prometheus-scrape'] },
} as const satisfies Record<string, { services: readonly string[]; configMaps: readonly string[] }>;

export const COMPONENTS = Object.keys(COMPONENT_PARTS) as (keyof typeof COMPONENT_PARTS)[];

/**
 * `kubectl kustomize infra/k8s/overlays/<overlay>`, parsed. With `components`,
 * the overlay as an operator extends it: its kustomization.yaml with those
 * components listed, rendered from a copy of infra/k8s.
 */
export function renderOverlay(overlay: string, components: readonly string[] = []): K8sObject[] {
  const copy = components.length > 0 ? mkdtempSync(join(tmpdir(), 'pulse-k8s-')) : null;
  try {
    let dir = join(ROOT, 'infra/k8s/overlays', overlay);
    if (copy) {
      cpSync(join(ROOT, 'infra/k8s'), copy, { recursive: true });
      dir = join(copy, 'overlays', overlay);
      appendFileSync(join(dir, 'kustomization.yaml'), `\ncomponents:\n${components.map((c) => `  - ../../components/${c}\n`).join('')}`);
    }
    const out = execFileSync('kubectl', ['kustomize', dir], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    return parseAllDocuments(out)
      .map((d) => d.toJS() as K8sObject | null)
      .filter((o): o is K8sObject => o !== null);
  } finally {
    if (copy) rmSync(copy, { recursive: true, force: true });
  }
}
