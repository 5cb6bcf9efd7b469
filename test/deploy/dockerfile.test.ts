/**
 * The Dockerfile, read statically (no Docker engine here): the rules issue #5
 * sets for the image, that the build context holds what it copies, that the
 * production install gives the built code every package it imports, and that
 * the image's health check script probes the right port.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { builtinModules } from 'node:module';
import type { AddressInfo } from 'node:net';
import { join, relative } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { probePort, read, ROOT, shapeOf } from './support.js';

interface Stage {
  from: string;
  name: string | undefined;
  lines: string[];
}

/** Instructions with continuations joined and comments dropped, grouped by stage. */
function stages(dockerfile: string): { args: Record<string, string>; stages: Stage[] } {
  const joined = dockerfile.replace(/\\\n/g, ' ').split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
  const args: Record<string, string> = {};
  const out: Stage[] = [];
  for (const line of joined) {
    const from = /^FROM\s+(\S+)(?:\s+AS\s+(\S+))?/i.exec(line);
    if (from) out.push({ from: from[1]!, name: from[2], lines: [] });
    else if (out.length === 0 && /^ARG\s+(\w+)=(\S+)/.test(line)) {
      const [, k, v] = /^ARG\s+(\w+)=(\S+)/.exec(line)!;
      args[k!] = v!;
    } else out.at(-1)?.lines.push(line);
  }
  return { args, stages: out };
}

const { args, stages: all } = stages(read('Dockerfile'));
const runtime = all.at(-1)!;
const imageOf = (s: Stage) => s.from.replace(/^\$\{(\w+)\}$/, (_m, k: string) => args[k] ?? '');
const workspaces: string[] = JSON.parse(read('package.json')).workspaces;
/** The one workspace that is not shipped: what tests share. */
const TEST_SUPPORT = 'test/support';
/** The workspaces the image builds and ships. */
const built = workspaces.filter((ws) => ws !== TEST_SUPPORT);

describe('Dockerfile', () => {
  it('is multi-stage on a small Node 20 base', () => {
    expect(all.length).toBeGreaterThanOrEqual(2);
    for (const s of all) expect(imageOf(s)).toMatch(/^node:20(\.\d+)*-(alpine|slim|bookworm-slim)/);
  });

  it('ends with a runtime stage: production deps only, built output only, non-root, a HEALTHCHECK', () => {
    const text = runtime.lines.join('\n');
    expect(text).toMatch(/^RUN .*npm ci --omit=dev --ignore-scripts/m);
    // Nothing from the build context but the health check script; the rest comes from the build stages.
    const contextCopies = runtime.lines.filter((l) => /^COPY\s/.test(l) && !/--from=/.test(l));
    expect(contextCopies).toEqual(['COPY infra/docker/healthcheck.mjs ./healthcheck.mjs']);
    const user = /^USER\s+(\d+)(?::(\d+))?$/m.exec(text);
    expect(user, 'USER must be numeric so runAsNonRoot can verify it').not.toBeNull();
    expect(Number(user![1])).toBeGreaterThan(0);
    expect(text).toMatch(/^HEALTHCHECK .*CMD \["node", "healthcheck\.mjs", "\/readyz"\]$/m);
    // Exec form: node is PID 1 and gets SIGTERM itself.
    expect(text).toMatch(/^CMD \["node", "services\/standalone\/dist\/main\.js"\]$/m);
  });

  it('builds every workspace: each lives where the build loops look (packages/*, services/*)', () => {
    // test/support is a workspace too (tests' helpers): its manifest goes in, so `npm ci` sees
    // every workspace the lock names; it is never built, and it has no dependencies to install.
    for (const ws of built) expect(ws).toMatch(/^(packages|services)\/[^/]+$/);
    expect(read(`${TEST_SUPPORT}/package.json`)).not.toMatch(/"dependencies"/);
    expect(all.find((s) => s.name === 'manifests')!.lines.join('\n')).toContain(`COPY ${TEST_SUPPORT}/package.json`);
    const build = all.find((s) => s.name === 'build')!.lines.join('\n');
    expect(build).toMatch(/npm ci /);
    expect(build).toMatch(/npx tsc -b packages\/\* services\/\*/);
    // The glob hands tsc every folder there: each must be a project.
    for (const parent of ['packages', 'services']) {
      for (const dir of readdirSync(join(ROOT, parent), { withFileTypes: true }).filter((e) => e.isDirectory())) {
        const tsconfig = join(ROOT, parent, dir.name, 'tsconfig.json');
        expect(existsSync(tsconfig), `${parent}/${dir.name}/tsconfig.json`).toBe(true);
        // Only tsconfig.base.json, packages/ and services/ are in the build stage.
        const text = readFileSync(tsconfig, 'utf8');
        for (const [, ref] of text.matchAll(/"(?:path|extends)"\s*:\s*"([^"]+)"/g)) {
          expect(relative(ROOT, join(ROOT, parent, dir.name, ref!)), `${parent}/${dir.name} → ${ref}`).toMatch(/^(packages\/|services\/|tsconfig\.base\.json$)/);
        }
      }
    }
  });

  it('ships every folder a workspace has besides its sources: dist/, public/ (dashboard page), bin/ (CLI shims)', () => {
    const build = all.find((s) => s.name === 'build')!.lines.join('\n');
    const shipped = /for part in ([\w ]+); do/.exec(build)?.[1]?.trim().split(/\s+/) ?? [];
    expect(shipped).toEqual(['dist', 'public', 'bin']);
    const left: string[] = [];
    for (const ws of built) {
      for (const entry of readdirSync(join(ROOT, ws), { withFileTypes: true })) {
        if (entry.isDirectory() && !['src', 'node_modules', ...shipped].includes(entry.name)) left.push(`${ws}/${entry.name}/`);
      }
    }
    expect(left, 'folders the image would leave out').toEqual([]);
  });

  it('copies only paths that exist and that .dockerignore lets into the context', () => {
    const ignored = dockerignore(read('.dockerignore'));
    const sources = all.flatMap((s) =>
      s.lines.filter((l) => /^COPY\s/.test(l) && !/--from=/.test(l)).flatMap((l) => l.split(/\s+/).slice(1, -1)),
    );
    expect(sources.length).toBeGreaterThan(3);
    for (const src of sources) {
      expect(existsSync(join(ROOT, src)), `${src} exists`).toBe(true);
      expect(ignored(src.replace(/\/$/, '')), `${src} is not ignored`).toBe(false);
    }
    // What the build needs inside those folders, and what must stay out.
    for (const ws of workspaces) expect(ignored(`${ws}/package.json`)).toBe(false);
    expect(ignored('services/ingest/src/main.ts')).toBe(false);
    for (const out of ['node_modules', 'services/ingest/dist', 'packages/protocol/node_modules', '.git']) {
      expect(ignored(out), `${out} is ignored`).toBe(true);
    }
  });

  it('gives the built code every package it imports: `npm ci --omit=dev` installs only dependencies', () => {
    const missing: string[] = [];
    for (const ws of built) {
      const manifest = JSON.parse(read(`${ws}/package.json`));
      const deps = new Set(Object.keys(manifest.dependencies ?? {}));
      for (const file of shippedSources(join(ROOT, ws, 'src'))) {
        for (const spec of runtimeImports(readFileSync(file, 'utf8'))) {
          const pkg = spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0]!;
          if (!deps.has(pkg)) missing.push(`${relative(ROOT, file)} imports ${spec}, not in ${ws} dependencies`);
        }
      }
    }
    expect(missing).toEqual([]);
  });
});

/** .dockerignore semantics for the patterns used here: `*`, `**`, a match covers everything under it. */
function dockerignore(text: string): (path: string) => boolean {
  const rules = text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'))
    .map((line) => {
      const exception = line.startsWith('!');
      const p = exception ? line.slice(1) : line;
      const regex = new RegExp(
        '^' +
          p
            .replace(/^\//, '')
            .replace(/[.+^${}()|[\]\\]/g, '\\$&')
            .replace(/\*\*\//g, '<DIRS>')
            .replace(/\*\*/g, '.*')
            .replace(/\*/g, '[^/]*')
            .replace(/\?/g, '[^/]')
            .replace(/<DIRS>/g, '(.*/)?') +
          '(/.*)?$',
      );
      return { exception, regex };
    });
  // As Docker reads it: the last pattern that matches decides, and a `!` pattern lets a path back in.
  return (path) => rules.reduce((ignored, rule) => (rule.regex.test(path) ? !rule.exception : ignored), false);
}

/** The files tsc compiles into dist: src/**\/*.ts except tests and benches (see each tsconfig.json). */
function shippedSources(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return shippedSources(path);
    return /\.ts$/.test(name) && !/\.(test|bench)\.ts$/.test(name) && !name.endsWith('.d.ts') ? [path] : [];
  });
}

/** Bare module specifiers a file imports at run time (type-only imports vanish in the build). */
function runtimeImports(source: string): string[] {
  const specs: string[] = [];
  const patterns = [/^\s*import\s+(?!type\s)[^'"]*?from\s+['"]([^'"]+)['"]/gm, /^\s*import\s+['"]([^'"]+)['"]/gm, /^\s*export\s+(?!type\s)[^'"]*?from\s+['"]([^'"]+)['"]/gm, /\bimport\(\s*['"]([^'"]+)['"]\s*\)/g];
  for (const re of patterns) for (const m of source.matchAll(re)) specs.push(m[1]!);
  const builtins = new Set(builtinModules);
  return specs.filter((s) => !s.startsWith('.') && !s.startsWith('node:') && !builtins.has(s));
}

describe('infra/docker/healthcheck.mjs (the image HEALTHCHECK)', () => {
  const script = join(ROOT, 'infra/docker/healthcheck.mjs');
  let hc: { DEFAULT_PORTS: Record<string, number>; portFor(env: object, cmdline: string): number; hostFor(env: object): string };
  let server: Server;
  let port: number;

  beforeAll(async () => {
    hc = await import(/* @vite-ignore */ pathToFileURL(script).href);
    server = createServer((req, res) => {
      res.writeHead(req.url === '/readyz' ? 200 : req.url === '/healthz' ? 200 : req.url === '/busy' ? 503 : 404);
      res.end();
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    port = (server.address() as AddressInfo).port;
  });
  afterAll(() => {
    if (server?.listening) server.close();
  });

  it("knows each service's default probe port, as its config schema says", async () => {
    // What a service cannot start without: the proxy, an upstream.
    const required: Record<string, Record<string, string>> = { proxy: { PULSE_PROXY_UPSTREAMS: 'http://upstream:8000' } };
    for (const [service, expected] of Object.entries(hc.DEFAULT_PORTS)) {
      const shape = await shapeOf(service);
      expect(shape, service).not.toBeNull();
      expect(probePort(service, shape!, required[service] ?? {}), service).toBe(expected);
    }
  });

  it('takes PORT when set, else the default of the service PID 1 runs; the proxy’s admin port for the proxy', () => {
    expect(hc.portFor({ PORT: '1234' }, 'node services/ingest/dist/main.js')).toBe(1234);
    expect(hc.portFor({}, 'node services/ingest/dist/main.js ')).toBe(8080);
    expect(hc.portFor({ PORT: '' }, 'node services/aggregator/dist/main.js ')).toBe(9100);
    expect(hc.portFor({}, 'node services/standalone/dist/main.js ')).toBe(8000);
    // The proxy's PORT forwards every path to its upstreams: its probes are on the admin port.
    expect(hc.portFor({ PORT: '8090' }, 'node services/proxy/dist/main.js ')).toBe(9190);
    expect(hc.portFor({ PORT: '8090', PULSE_PROXY_ADMIN_PORT: '1234' }, 'node services/proxy/dist/main.js ')).toBe(1234);
    expect(hc.hostFor({ HOST: '0.0.0.0' })).toBe('127.0.0.1');
    expect(hc.hostFor({ HOST: '10.1.2.3' })).toBe('10.1.2.3');
  });

  const run = async (path: string, env: Record<string, string>) => {
    const child = spawn(process.execPath, [script, path], { env: { PATH: process.env.PATH ?? '', ...env }, stdio: 'ignore' });
    const [code] = await once(child, 'exit');
    return code as number;
  };

  it('exits 0 on 2xx, 1 on 503, 404 or no listener', async () => {
    expect(await run('/readyz', { PORT: String(port), HOST: '127.0.0.1' })).toBe(0);
    expect(await run('/busy', { PORT: String(port) })).toBe(1);
    expect(await run('/nope', { PORT: String(port) })).toBe(1);
    server.close();
    await once(server, 'close');
    expect(await run('/readyz', { PORT: String(port) })).toBe(1);
  });
});
