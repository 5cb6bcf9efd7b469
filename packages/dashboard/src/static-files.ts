/**
 * A small static file server for the dashboard: URL prefixes mapped to
 * directories, GET and HEAD only, known file types only, and no way out of
 * a mounted directory (`..`, encoded or not, absolute paths, NUL bytes).
 */
import { createReadStream, realpathSync, statSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { extname, resolve, sep } from 'node:path';

export interface Mount {
  /** URL path prefix, ending with `/` (or an exact path when `file` is set). */
  readonly prefix: string;
  readonly dir: string;
  /** Serves exactly this file (relative to `dir`) for the prefix as a whole path. */
  readonly file?: string;
  /** Only these file names may be served from `dir` (default: any of a known type). */
  readonly only?: readonly string[];
  /** Extra response headers (the page's Content-Security-Policy). */
  readonly headers?: Readonly<Record<string, string>>;
}

/** Answers the request and returns true when it is one of its paths; false leaves it to the next handler. */
export type OptionalHandler = (req: IncomingMessage, res: ServerResponse) => boolean;

export const CONTENT_TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
};

export function staticFiles(mounts: readonly Mount[]): OptionalHandler {
  // Real paths once, so a symlinked workspace package is compared by where it really is.
  const roots = mounts.map((m) => ({ ...m, dir: realpathSync(m.dir) }));
  return (req, res) => {
    if (req.method !== 'GET' && req.method !== 'HEAD') return false;
    const path = requestPath(req.url);
    if (path === null) return false;
    for (const mount of roots) {
      const file = mount.file !== undefined ? (path === mount.prefix ? resolve(mount.dir, mount.file) : null) : fileUnder(mount, path);
      if (file === null) continue;
      const type = CONTENT_TYPES[extname(file)];
      if (!type) return false;
      send(req, res, file, type, mount.headers);
      return true;
    }
    return false;
  };
}

/** The decoded path of a request target; null when it cannot be decoded or holds a NUL. */
function requestPath(url: string | undefined): string | null {
  try {
    const path = decodeURIComponent(new URL(url ?? '/', 'http://dashboard').pathname);
    return path.includes('\0') ? null : path;
  } catch {
    return null;
  }
}

function fileUnder(mount: Mount & { dir: string }, path: string): string | null {
  if (!path.startsWith(mount.prefix)) return null;
  const relative = path.slice(mount.prefix.length);
  if (mount.only && !mount.only.includes(relative)) return null;
  const file = resolve(mount.dir, relative);
  // resolve() has collapsed every `..`: what is not below the directory is outside it.
  return file.startsWith(mount.dir + sep) ? file : null;
}

function send(req: IncomingMessage, res: ServerResponse, file: string, type: string, headers: Readonly<Record<string, string>> = {}): void {
  let size: number;
  try {
    const stat = statSync(file);
    if (!stat.isFile()) throw new Error('not a file');
    size = stat.size;
  } catch {
    res.writeHead(404, { 'Content-Type': 'text/plain; charset=utf-8' }).end('not found');
    return;
  }
  res.writeHead(200, {
    'Content-Type': type,
    'Content-Length': size,
    // Revalidate every time: a redeployed dashboard must not mix old and new modules.
    'Cache-Control': 'no-cache',
    'X-Content-Type-Options': 'nosniff',
    ...headers,
  });
  if (req.method === 'HEAD') {
    res.end();
    return;
  }
  const stream = createReadStream(file);
  stream.on('error', () => res.destroy());
  stream.pipe(res);
}
