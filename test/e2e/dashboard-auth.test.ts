/**
 * The dashboard against a Pulse with authentication on and an origin
 * allowlist (docs/SECURITY.md), in Debian's Chromium: opened as
 * `/?token=<read token>` it passes the token to its stream, its per-model
 * connections and its labels request, and keeps it across a filter change;
 * opened without one it gets no data (every upgrade is refused with 401).
 * The page itself needs no token. Names posted with hostile markup stay text.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startService, type ServiceProcess } from '@pulse/test-support/processes';

const CHROMIUM = '/usr/bin/chromium';
const WRITE = 'dash-write-token-0123456789';
const READ = 'dash-read-token-0123456789';
const ENDPOINT = '/v1/auth-check';
const MODEL = '<b>auth-model</b>';

let pulse: ServiceProcess;
let context: BrowserContext;
let profileDir: string;

async function post(): Promise<void> {
  const ts = Date.now() / 1000;
  const base = { ts, node: 'n', endpoint: ENDPOINT, model: MODEL };
  const events = [1, 2, 3].flatMap((i) => [
    { type: 'request.start', ...base, request_id: `r${i}-${ts}` },
    { type: 'request.end', ...base, request_id: `r${i}-${ts}`, status: 200, latency_ms: 10 * i },
  ]);
  const res = await fetch(`${pulse.url}/v1/events`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${WRITE}` },
    body: JSON.stringify(events),
  });
  expect(res.status).toBe(202);
}

async function openPage(path: string): Promise<Page> {
  const page = await context.newPage();
  await page.goto(`${pulse.url}${path}`);
  return page;
}

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) throw new Error(`This test needs Debian's Chromium at ${CHROMIUM}: apt-get install -y chromium (.ci/run installs it)`);
  pulse = await startService('standalone', { PULSE_TICK_MS: '250', LOG_LEVEL: 'warn', PULSE_WRITE_TOKENS: WRITE, PULSE_READ_TOKENS: READ, PULSE_ALLOWED_ORIGINS: 'https://elsewhere.example' });
  await post();
  profileDir = mkdtempSync(join(tmpdir(), 'pulse-chromium-'));
  context = await chromium.launchPersistentContext(profileDir, {
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}, 60_000);

afterAll(async () => {
  await context?.close();
  if (profileDir) rmSync(profileDir, { recursive: true, force: true });
  expect(await pulse?.stop()).toBe(0);
});

describe('dashboard with authentication on', () => {
  it('passes ?token= to the stream, the model connections and the labels, and keeps it in the URL', async () => {
    const page = await openPage(`/?token=${READ}`);
    // Its own origin is allowed although the allowlist names only another one.
    await expect.poll(() => page.getAttribute('#status', 'data-state'), { timeout: 10_000 }).toBe('open');
    await expect.poll(() => page.locator('#endpoints').innerText(), { timeout: 10_000 }).toContain(ENDPOINT);
    await expect.poll(() => page.locator('#models').innerText(), { timeout: 15_000 }).toContain(MODEL);
    expect(await page.locator('#models b').count()).toBe(0);
    await expect.poll(() => page.locator(`#f-endpoint option[value="${ENDPOINT}"]`).count(), { timeout: 10_000 }).toBe(1);

    await page.selectOption('#f-endpoint', ENDPOINT);
    await expect.poll(() => new URL(page.url()).searchParams.get('endpoint')).toBe(ENDPOINT);
    expect(new URL(page.url()).searchParams.get('token')).toBe(READ);
    expect(await page.locator('#stream-url').innerText()).not.toContain(READ);
    await page.close();
  }, 60_000);

  it('shows no figures without a token: the page loads, every upgrade is refused', async () => {
    const page = await openPage('/');
    await expect.poll(() => page.getAttribute('#status', 'data-state'), { timeout: 10_000 }).toBe('reconnecting');
    await new Promise((r) => setTimeout(r, 1500));
    expect(await page.locator('#endpoints').innerText()).not.toContain(ENDPOINT);
    expect(await page.locator('#card-requests .value').innerText()).toBe('—');
    const limits = await (await fetch(`${pulse.url}/metrics/limits`, { headers: { authorization: `Bearer ${READ}` } })).text();
    expect(Number(/reason="unauthorized"\} (\d+)/.exec(limits)?.[1])).toBeGreaterThan(0);
    await page.close();
  }, 30_000);
});
