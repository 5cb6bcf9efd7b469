/**
 * The dashboard as served (needs `tsc -b` output, as `npm test` builds
 * first): the page and its CSP, and the whole browser module graph — every
 * import, bare or relative, resolves through the page's import map to a
 * JavaScript file this handler serves. A missing mapping would only show up
 * in a browser otherwise.
 */
import { createHash } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dashboardHandler } from './handler.js';

let server: Server;
let base: string;

beforeAll(async () => {
  const handler = dashboardHandler();
  server = createServer((req, res) => {
    if (!handler(req, res)) res.writeHead(404).end();
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
});

afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

async function page(): Promise<{ html: string; csp: string; importMap: Record<string, string>; importMapText: string }> {
  const res = await fetch(base);
  expect(res.status).toBe(200);
  const html = await res.text();
  const importMapText = /<script type="importmap">([\s\S]*?)<\/script>/.exec(html)![1]!;
  return { html, csp: res.headers.get('content-security-policy') ?? '', importMap: JSON.parse(importMapText).imports, importMapText };
}

describe('dashboardHandler', () => {
  it('serves the page with a CSP that allows its import map and no other inline script', async () => {
    const { csp, importMapText } = await page();
    const hash = createHash('sha256').update(importMapText).digest('base64');
    expect(csp).toContain(`script-src 'self' 'sha256-${hash}'`);
    expect(csp).not.toContain('unsafe-inline');
  });

  it('serves every stylesheet and script the page links', async () => {
    const { html } = await page();
    const links = [...html.matchAll(/(?:href|src)="([^"]+\.(?:css|js))"/g)].map((m) => m[1]!);
    expect(links.length).toBeGreaterThanOrEqual(3);
    for (const link of links) {
      const res = await fetch(new URL(link, base));
      expect(res.status, link).toBe(200);
      expect(res.headers.get('content-type'), link).toMatch(link.endsWith('.css') ? /^text\/css/ : /^text\/javascript/);
    }
  });

  it('resolves the whole browser module graph through the import map', async () => {
    const { importMap } = await page();
    const seen = new Set<string>();
    const queue = [new URL('dashboard/app/main.js', base).toString()];
    while (queue.length > 0) {
      const url = queue.pop()!;
      if (seen.has(url)) continue;
      seen.add(url);
      const res = await fetch(url);
      expect(res.status, url).toBe(200);
      expect(res.headers.get('content-type'), url).toMatch(/^text\/javascript/);
      const source = await res.text();
      // Static imports and re-exports; type-only imports are gone from the compiled files.
      for (const [, specifier] of source.matchAll(/^(?:import|export)\s[^'"]*?from\s+'([^']+)'/gm)) {
        const target = specifier!.startsWith('.') ? new URL(specifier!, url) : importMap[specifier!] && new URL(importMap[specifier!]!, base);
        expect(target, `${specifier} imported by ${url} has no mapping`).toBeTruthy();
        queue.push(target!.toString());
      }
    }
    // The app, the client and its protocol parts, uPlot.
    expect([...seen].some((u) => u.endsWith('/uPlot.esm.js'))).toBe(true);
    expect([...seen].some((u) => u.includes('/lib/client/'))).toBe(true);
  });

  it('does not serve the rest of @pulse/protocol, which needs Node', async () => {
    expect((await fetch(new URL('dashboard/lib/protocol/index.js', base))).status).toBe(404);
    expect((await fetch(new URL('dashboard/lib/protocol/close-codes.js', base))).status).toBe(200);
  });
});
