/**
 * The dashboard's alerts in a real browser (Debian's Chromium, driven by
 * playwright-core) against `npm start` with PULSE_ALERT_RULES, as a process,
 * fed events by this test, with a real webhook receiver that answers every
 * notification 400 (a 4xx is not retried: each notification fails at once).
 * Checks that the alerts panel lists a firing and a pending alert, that the
 * charts shade the firing period (on the canvas, not only in an attribute),
 * that the failed delivery is listed and its retry button replays it to the
 * receiver, and that the band ends when the alert resolves. Saves
 * test-output/dashboard-alerts.png.
 */
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startPulseWithRefusedAlerts } from '@pulse/test-support/alert-standalone';
import type { TestReceiver } from '@pulse/test-support/http-receiver';
import type { ServiceProcess } from '@pulse/test-support/processes';

const CHROMIUM = '/usr/bin/chromium';
const OUTPUT = fileURLToPath(new URL('../../test-output/', import.meta.url));
const ENDPOINT = '/v1/chat/completions';
/** A short window, so the alert resolves a few seconds after the events stop. */
const WINDOW_SECONDS = 4;

let pulse: ServiceProcess;
let hook: TestReceiver;
let context: BrowserContext;
let page: Page;
let profileDir: string;
let feeder: ReturnType<typeof setInterval> | undefined;
const pageErrors: string[] = [];

let sent = 0;
async function postRequest(): Promise<void> {
  const ts = Date.now() / 1000;
  const base = { ts, node: 'dash-alerts', request_id: `r${sent++}`, endpoint: ENDPOINT, model: 'gpt-4o' };
  const events = [{ type: 'request.start', ...base }, { type: 'request.end', ...base, status: 200, latency_ms: 50 }];
  const res = await fetch(`${pulse.url}/v1/events`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(events) });
  expect(res.status).toBe(202);
}

/**
 * The pixels of a chart's canvas down a column near the right edge of its
 * plot area (where an alert still firing is shaded), at five heights.
 */
function rightEdgePixels(chart: string): Promise<number[][]> {
  return page.locator(`${chart} .plot`).evaluate((plot) => {
    const canvas = plot.querySelector('canvas')!;
    const over = plot.querySelector('.u-over')!.getBoundingClientRect();
    const box = canvas.getBoundingClientRect();
    const scale = canvas.width / box.width;
    const ctx = canvas.getContext('2d')!;
    const x = Math.round((over.right - 3 - box.left) * scale);
    return [0.1, 0.3, 0.5, 0.7, 0.9].map((f) => [...ctx.getImageData(x, Math.round((over.top + f * over.height - box.top) * scale), 1, 1).data]);
  });
}

/** How many of the pixels are the band's colour (rgba(232, 89, 106, 0.22) on a transparent canvas). */
function shaded(pixels: number[][]): number {
  return pixels.filter(([r, g, b, a]) => Math.abs(r! - 232) < 20 && Math.abs(g! - 89) < 25 && Math.abs(b! - 106) < 25 && a! > 30 && a! < 90).length;
}

const text = (selector: string) => page.locator(selector).first().innerText();

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) throw new Error(`This test needs Debian's Chromium at ${CHROMIUM}: apt-get install -y chromium (.ci/run installs it)`);
  mkdirSync(OUTPUT, { recursive: true });
  ({ pulse, hook } = await startPulseWithRefusedAlerts({ PULSE_TICK_MS: '250', PULSE_WINDOW_SECONDS: String(WINDOW_SECONDS) }));
  await postRequest();
  feeder = setInterval(() => void postRequest().catch(() => undefined), 500);
  profileDir = mkdtempSync(join(tmpdir(), 'pulse-chromium-'));
  context = await chromium.launchPersistentContext(profileDir, {
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    viewport: { width: 1440, height: 1000 },
  });
  page = context.pages()[0] ?? (await context.newPage());
  page.on('pageerror', (err) => pageErrors.push(`pageerror: ${err.message}`));
  page.on('console', (msg) => {
    if (msg.type() === 'error') pageErrors.push(`console: ${msg.text()} (${msg.location().url})`);
  });
}, 60_000);

afterAll(async () => {
  clearInterval(feeder);
  await context?.close();
  if (profileDir) rmSync(profileDir, { recursive: true, force: true });
  await pulse?.stop();
  await hook?.close();
});

describe('dashboard alerts in Chromium', () => {
  it('lists the active alerts: Busy firing with its labels, Slow pending', async () => {
    await page.goto(`${pulse.url}/`);
    await expect.poll(() => page.locator('#panel-alerts').isVisible(), { timeout: 15_000 }).toBe(true);
    const busy = page.locator('#alerts tr[data-state="firing"]');
    await expect.poll(() => busy.locator('th').allInnerTexts(), { timeout: 15_000 }).toEqual(['Busy']);
    const [labels, state, since, value] = await busy.locator('td').allInnerTexts();
    expect(labels).toBe(`endpoint=${ENDPOINT}, severity=page`);
    expect(state).toBe('firing');
    expect(since).toMatch(/^\d\d:\d\d:\d\d \(.+ ago\)$/);
    expect(Number(value)).toBeGreaterThan(0);
    await expect.poll(() => page.locator('#alerts tr[data-state="pending"] th').allInnerTexts(), { timeout: 10_000 }).toEqual(['Slow']);
    expect(await text('#alerts-count')).toBe('2 active: 1 firing, 1 pending');
  }, 60_000);

  it('shades the firing period on the charts, up to now', async () => {
    // One band (Busy's; the pending alert has none), still running, on every chart.
    await expect.poll(() => page.getAttribute('#chart-throughput .plot', 'data-firing'), { timeout: 15_000 }).toBe('1');
    expect(await page.getAttribute('#chart-throughput .plot', 'data-bands')).toBe('1');
    expect(await page.locator('.plot[data-firing="1"]').count()).toBe(9);
    // Drawn on the canvas: the right edge of the plot is the band's colour, top to bottom.
    await expect.poll(async () => shaded(await rightEdgePixels('#chart-latency')), { timeout: 10_000 }).toBeGreaterThanOrEqual(4);
  }, 30_000);

  it('lists the refused delivery, and its retry button sends it to the receiver again', async () => {
    const row = page.locator('#deliveries tr[data-id]');
    await expect.poll(() => row.count(), { timeout: 15_000 }).toBe(1);
    const id = (await row.getAttribute('data-id'))!;
    expect(await row.locator('th').innerText()).toBe(id);
    const [receiver, status, labels, attempts, lastError, failedAt] = await row.locator('td').allInnerTexts();
    expect({ receiver, status, attempts }).toEqual({ receiver: 'refusing', status: 'firing', attempts: '1' });
    expect(labels).toBe(`alertname=Busy, endpoint=${ENDPOINT}, severity=page`);
    expect(lastError).toContain('HTTP 400');
    expect(failedAt).toMatch(/ago\)$/);
    expect(hook.requestsFor(id)).toHaveLength(1);

    const shot = join(OUTPUT, 'dashboard-alerts.png');
    await page.screenshot({ path: shot, fullPage: true });
    console.log(`dashboard alerts screenshot: ${shot}`);

    await page.click(`#deliveries button.retry[data-id="${id}"]`);
    await expect.poll(() => text('#deliveries-note'), { timeout: 10_000 }).toBe(`delivery ${id} queued again`);
    // The same notification (same Idempotency-Key) reached the receiver a second time; refused again, it is listed again.
    await expect.poll(() => hook.requestsFor(id).length, { timeout: 10_000 }).toBe(2);
    await expect.poll(() => page.locator(`#deliveries tr[data-id="${id}"]`).count(), { timeout: 10_000 }).toBe(1);
  }, 60_000);

  it('ends the band when the alert resolves, and keeps it on the charts', async () => {
    clearInterval(feeder);
    await expect.poll(() => text('#alerts'), { timeout: 20_000 }).toBe('no active alerts');
    await expect.poll(() => page.getAttribute('#chart-latency .plot', 'data-firing'), { timeout: 5000 }).toBe('0');
    expect(await page.getAttribute('#chart-latency .plot', 'data-bands')).toBe('1');
    // The charts move on past the band's end: the right edge is no longer shaded.
    await expect.poll(async () => shaded(await rightEdgePixels('#chart-latency')), { timeout: 10_000 }).toBe(0);
    // The resolution was refused too, and is listed beside the firing notification.
    await expect.poll(() => page.locator('#deliveries tr[data-id] td:nth-of-type(2)').allInnerTexts(), { timeout: 10_000 }).toEqual(expect.arrayContaining(['firing', 'resolved']));
    expect(pageErrors).toEqual([]);
  }, 60_000);
});
