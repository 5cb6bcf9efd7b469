/**
 * The static handler on a real socket, with request paths sent byte for
 * byte (fetch would normalize away the `..` these tests are about).
 */
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, request, type Server } from 'node:http';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { staticFiles } from './static-files.js';

let server: Server;
let port: number;

beforeAll(async () => {
  const root = mkdtempSync(join(tmpdir(), 'pulse-static-'));
  const pub = join(root, 'public');
  mkdirSync(join(pub, 'sub'), { recursive: true });
  writeFileSync(join(root, 'secret.js'), 'secret');
  writeFileSync(join(pub, 'index.html'), '<p>page</p>');
  writeFileSync(join(pub, 'app.js'), 'export {}');
  writeFileSync(join(pub, 'style.css'), 'body{}');
  writeFileSync(join(pub, 'notes.txt'), 'not a served type');
  writeFileSync(join(pub, 'sub', 'deep.js'), 'deep');
  writeFileSync(join(pub, 'hidden.js'), 'not on the list');
  const handler = staticFiles([
    { prefix: '/', dir: pub, file: 'index.html', headers: { 'Content-Security-Policy': "default-src 'self'" } },
    { prefix: '/static/', dir: pub },
    { prefix: '/listed/', dir: pub, only: ['app.js'] },
  ]);
  server = createServer((req, res) => {
    if (!handler(req, res)) res.writeHead(418).end('fell through');
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  port = (server.address() as AddressInfo).port;
});

afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

function get(path: string, method = 'GET'): Promise<{ status: number; type: string | undefined; headers: Record<string, unknown>; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode!, type: res.headers['content-type'], headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('staticFiles', () => {
  it.each([
    ['/', 'text/html; charset=utf-8', '<p>page</p>'],
    ['/static/app.js', 'text/javascript; charset=utf-8', 'export {}'],
    ['/static/style.css', 'text/css; charset=utf-8', 'body{}'],
    ['/static/sub/deep.js', 'text/javascript; charset=utf-8', 'deep'],
    ['/static/app.js?v=2', 'text/javascript; charset=utf-8', 'export {}'],
    ['/listed/app.js', 'text/javascript; charset=utf-8', 'export {}'],
  ])('serves %s as %s', async (path, type, body) => {
    const res = await get(path);
    expect(res).toMatchObject({ status: 200, type, body });
    expect(res.headers['x-content-type-options']).toBe('nosniff');
  });

  it('sends the mount headers with its file only', async () => {
    expect((await get('/')).headers['content-security-policy']).toBe("default-src 'self'");
    expect((await get('/static/app.js')).headers['content-security-policy']).toBeUndefined();
  });

  it.each([
    '/static/../secret.js',
    '/static/%2e%2e/secret.js',
    '/static/..%2fsecret.js',
    '/static/sub/..%2f..%2fsecret.js',
    '/static/%2fetc%2fpasswd',
    '/static/app.js%00.js',
    '/static/%E0%A4%A',
    '/static/notes.txt',
    '/static/',
    '/listed/hidden.js',
    '/elsewhere.js',
  ])('leaves %s to the next handler', async (path) => {
    const res = await get(path);
    expect(res.status).toBe(418);
    expect(res.body).not.toContain('secret');
  });

  it('answers 404 for a file of a served type that does not exist', async () => {
    expect((await get('/static/missing.js')).status).toBe(404);
  });

  it('answers HEAD without a body and leaves other methods alone', async () => {
    const head = await get('/static/app.js', 'HEAD');
    expect(head).toMatchObject({ status: 200, body: '' });
    expect(head.headers['content-length']).toBe('9');
    expect((await get('/static/app.js', 'POST')).status).toBe(418);
  });
});
