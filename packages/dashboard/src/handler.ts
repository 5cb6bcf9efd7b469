/**
 * The dashboard as the gateway serves it: the page at `/`, its stylesheet,
 * the compiled browser app, and the browser modules it imports by name
 * (mapped in the page's import map): @pulse/client, the dependency-free parts
 * of @pulse/protocol, and uPlot — all from this installation, no CDN.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { packageDir } from './package-dir.js';
import { staticFiles, type OptionalHandler } from './static-files.js';

/** This package's directory: the handler runs from dist/ (or src/ under vitest), one level down. */
const PACKAGE_DIR = fileURLToPath(new URL('..', import.meta.url));

/** Files of @pulse/protocol the browser loads; the rest of it needs zod and Node. */
const BROWSER_PROTOCOL_FILES = ['backoff.js', 'close-codes.js', 'snapshot-data.js'];

export function dashboardHandler(): OptionalHandler {
  const publicDir = join(PACKAGE_DIR, 'public');
  const page = { dir: publicDir, file: 'index.html', headers: { 'Content-Security-Policy': contentSecurityPolicy(join(publicDir, 'index.html')) } };
  return staticFiles([
    { prefix: '/', ...page },
    { prefix: '/index.html', ...page },
    { prefix: '/dashboard/static/', dir: publicDir },
    { prefix: '/dashboard/app/', dir: join(PACKAGE_DIR, 'dist', 'app') },
    { prefix: '/dashboard/lib/client/', dir: join(packageDir('@pulse/client', PACKAGE_DIR), 'dist') },
    { prefix: '/dashboard/lib/protocol/', dir: join(packageDir('@pulse/protocol', PACKAGE_DIR), 'dist'), only: BROWSER_PROTOCOL_FILES },
    { prefix: '/dashboard/lib/uplot/', dir: join(packageDir('uplot', PACKAGE_DIR), 'dist'), only: ['uPlot.esm.js', 'uPlot.min.css'] },
  ]);
}

/**
 * Scripts and styles from this origin only, plus the page's one inline
 * script (the import map) by its hash: even if a producer-supplied name ever
 * reached the page as markup, it could not run.
 */
function contentSecurityPolicy(pagePath: string): string {
  const html = readFileSync(pagePath, 'utf8');
  const importMap = /<script type="importmap">([\s\S]*?)<\/script>/.exec(html)?.[1];
  if (importMap === undefined) throw new Error(`${pagePath} has no import map`);
  const hash = createHash('sha256').update(importMap).digest('base64');
  return [
    "default-src 'self'",
    `script-src 'self' 'sha256-${hash}'`,
    "style-src 'self'",
    "img-src 'self' data:",
    // ws: and wss: so ?ws= can point the page at another gateway.
    "connect-src 'self' ws: wss:",
    "base-uri 'none'",
    "frame-ancestors 'none'",
  ].join('; ');
}
