/**
 * The dashboard in a real browser (Debian's Chromium, driven by
 * playwright-core) against a running Pulse fed by the simulator, both as
 * processes. Checks that the figures appear and move, that every chart
 * draws, that the tables fill, that producer-supplied names are shown as
 * text and never run as markup, that a filter change narrows what is shown
 * (and reaches the server), that the LLM figures show (the ITL chart, SLO
 * attainment against its target, nodes ranked with an outlier marked, errors
 * by status) and the node picker narrows them, that a Pulse without alert
 * rules leaves the alerts panels hidden (dashboard-alerts.test.ts has them
 * with rules), and that the page rides through a restart of Pulse. Saves screenshots under test-output/ and
 * prints their paths.
 */
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startService, type ServiceProcess } from '@pulse/test-support/processes';

const CHROMIUM = '/usr/bin/chromium';
const OUTPUT = fileURLToPath(new URL('../../test-output/', import.meta.url));
const SLOS = ['interactive', 'batch'];
const PULSE_ENV = { PULSE_TICK_MS: '250', LOG_LEVEL: 'warn', PULSE_SLOS: 'interactive:ttft_ms<=300,itl_ms<=50;batch:latency_ms<=30000' };
const SIM_NODES = ['fakeai-sim-1', 'fakeai-sim-2', 'fakeai-sim-3'];
/** A share of errors no SLO attainment reaches 99 % through, nor falls to 50 % from. */
const SIM_ERROR_RATE = 0.15;
const HOSTILE_ENDPOINT = '<img src=x onerror="window.__pwned=1">';
const HOSTILE_MODEL = '<script>window.__pwned=2</script>';
const HOSTILE_NODE = '<svg onload="window.__pwned=3">';
/** A node of our own, far slower than the simulator's: the outlier the node table must mark. */
const SLOW_NODE = 'slow-node';

let pulse: ServiceProcess;
let simulator: ServiceProcess;
let context: BrowserContext;
let page: Page;
let profileDir: string;
const pageErrors: string[] = [];

async function postHostileNames(): Promise<void> {
  const ts = Date.now() / 1000;
  const base = { ts, node: HOSTILE_NODE, request_id: 'h1', endpoint: HOSTILE_ENDPOINT, model: HOSTILE_MODEL };
  await postEvents([{ type: 'request.start', ...base }, { type: 'request.end', ...base, status: 200, latency_ms: 5 }]);
}

/** Eight requests of 8 s each, all fine otherwise, from SLOW_NODE. */
async function postSlowNode(): Promise<void> {
  const ts = Date.now() / 1000;
  const events = [];
  for (let i = 0; i < 8; i++) {
    const base = { ts, node: SLOW_NODE, request_id: `slow-${i}`, endpoint: '/v1/chat/completions', model: 'gpt-4o' };
    events.push({ type: 'request.start', ...base }, { type: 'request.end', ...base, status: 200, latency_ms: 8000, completion_tokens: 10 });
  }
  await postEvents(events);
}

async function postEvents(events: object[]): Promise<void> {
  const res = await fetch(`${pulse.url}/v1/events`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(events) });
  expect(res.status).toBe(202);
}

async function snapshotTotal(): Promise<number> {
  const snap = (await (await fetch(`${pulse.url}/metrics/snapshot`)).json()) as { data: { throughput: { total_requests_per_sec: number } } };
  return snap.data.throughput.total_requests_per_sec;
}

const text = (selector: string) => page.locator(selector).first().innerText();
const number = async (selector: string) => Number((await text(selector)).replace(/[^0-9.]/g, ''));
/** A duration as formatMs shows it (`1,234 ms`, `12.5 s`), in ms. */
function ms(shown: string): number {
  const m = /([\d,.]+) (ms|s)$/.exec(shown.trim());
  if (!m) return NaN;
  return Number(m[1]!.replace(/,/g, '')) * (m[2] === 's' ? 1000 : 1);
}
/** The name cells of a table body, top to bottom. */
const rowNames = (body: string) => page.locator(`${body} tr th`).allInnerTexts();

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`The dashboard test needs Debian's Chromium at ${CHROMIUM}: apt-get install -y chromium (.ci/run installs it)`);
  }
  mkdirSync(OUTPUT, { recursive: true });
  pulse = await startService('standalone', PULSE_ENV);
  await postHostileNames();
  simulator = await startService(
    'simulator',
    {
      PULSE_INGEST_URL: pulse.url,
      PULSE_SIM_RATE: '60',
      PULSE_SIM_ENDPOINTS: '/v1/chat/completions:3,/v1/embeddings:1',
      PULSE_SIM_MODELS: 'gpt-4o:2,llama-3.1-70b:1',
      PULSE_SIM_LATENCY_MS: '300',
      PULSE_SIM_TTFT_MS: '80',
      PULSE_SIM_TOKENS_PER_SEC: '400',
      PULSE_SIM_NODES: String(SIM_NODES.length),
      PULSE_SIM_ERROR_RATE: String(SIM_ERROR_RATE),
      PULSE_SIM_GAUGE_INTERVAL_MS: '500',
      LOG_LEVEL: 'warn',
    },
    { waitReady: false },
  );
  profileDir = mkdtempSync(join(tmpdir(), 'pulse-chromium-'));
  context = await chromium.launchPersistentContext(profileDir, {
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    viewport: { width: 1440, height: 1000 },
  });
  page = context.pages()[0] ?? (await context.newPage());
  page.on('pageerror', (err) => pageErrors.push(`pageerror: ${err.message}`));
  page.on('console', (msg) => {
    if (msg.type() === 'error') pageErrors.push(`console: ${msg.text()} (${msg.location().url})`);
  });
}, 60_000);

afterAll(async () => {
  await context?.close();
  if (profileDir) rmSync(profileDir, { recursive: true, force: true });
  await simulator?.stop();
  await pulse?.stop();
});

describe('dashboard in Chromium', () => {
  it('shows live figures that change, every chart and both tables', async () => {
    await page.goto(`${pulse.url}/`);
    await expect.poll(() => page.getAttribute('#status', 'data-state'), { timeout: 10_000 }).toBe('open');
    await expect.poll(() => text('#status')).toBe('live');

    // Numbers appear…
    await expect.poll(() => number('#card-requests .value'), { timeout: 15_000 }).toBeGreaterThan(0);
    for (const card of ['#card-tokens', '#card-p99', '#card-ttft', '#card-itl', '#card-hit']) {
      await expect.poll(() => text(`${card} .value`), { timeout: 15_000 }).toMatch(/\d/);
    }
    // …and change.
    const first = await text('#card-requests .value');
    await expect.poll(() => text('#card-requests .value'), { timeout: 10_000 }).not.toBe(first);

    // Every chart holds a few points and has drawn them.
    const charts = await page.locator('.plot').count();
    expect(charts).toBe(9);
    await expect
      .poll(async () => Math.min(...(await page.locator('.plot').evaluateAll((els) => els.map((e) => Number(e.getAttribute('data-points')))))), { timeout: 15_000 })
      .toBeGreaterThanOrEqual(3);
    expect(await page.locator('.plot canvas').count()).toBe(9);
    // The inter-token latency chart, p50 and p99, as the TTFT one.
    expect(await page.locator('#chart-itl .u-legend .u-series th').allInnerTexts()).toEqual(expect.arrayContaining(['p50', 'p99']));

    // The endpoint table, with the simulator's endpoints; the model table, one row per model.
    await expect.poll(() => text('#endpoints'), { timeout: 10_000 }).toContain('/v1/chat/completions');
    expect(await text('#endpoints')).toContain('/v1/embeddings');
    await expect.poll(() => text('#models'), { timeout: 15_000 }).toContain('gpt-4o');
    await expect.poll(() => text('#models'), { timeout: 10_000 }).toContain('llama-3.1-70b');
    await expect.poll(async () => number('#models tr:has(th:text-is("gpt-4o")) td'), { timeout: 10_000 }).toBeGreaterThan(0);

    // No PULSE_ALERT_RULES: the alert routes answer 404, and the alerts panels stay out of the way.
    expect(await page.locator('#alerts-section').isHidden()).toBe(true);
    expect(await page.locator('#panel-alerts').isHidden()).toBe(true);
    expect(await page.locator('#panel-deliveries').isHidden()).toBe(true);
    expect(await page.locator('.plot[data-bands="0"]').count()).toBe(9);

    const shot = join(OUTPUT, 'dashboard.png');
    await page.screenshot({ path: shot, fullPage: true });
    console.log(`dashboard screenshot: ${shot}`);
  }, 90_000);

  it('shows producer-supplied names as text, never as markup', async () => {
    await expect.poll(() => text('#endpoints'), { timeout: 10_000 }).toContain(HOSTILE_ENDPOINT);
    await expect.poll(() => text('#models'), { timeout: 15_000 }).toContain(HOSTILE_MODEL);
    await expect.poll(() => text('#nodes'), { timeout: 10_000 }).toContain(HOSTILE_NODE);
    expect(await page.locator('#endpoints img, #models script, #f-endpoint img, #nodes svg, #slos img, #f-node svg').count()).toBe(0);
    expect(await page.evaluate(() => (globalThis as { __pwned?: number }).__pwned)).toBeUndefined();
    // The picker offers it as an option's text too.
    expect(await page.locator('#f-endpoint option', { hasText: HOSTILE_ENDPOINT }).count()).toBe(1);
    await expect.poll(() => page.locator('#f-node option', { hasText: HOSTILE_NODE }).count(), { timeout: 10_000 }).toBe(1);
  }, 30_000);

  it('a filter change narrows the figures, and the server confirms it', async () => {
    await expect.poll(() => page.locator('#f-endpoint option[value="/v1/embeddings"]').count(), { timeout: 10_000 }).toBe(1);
    await page.selectOption('#f-endpoint', '/v1/embeddings');
    await expect.poll(() => text('#f-effective'), { timeout: 5000 }).toContain('endpoints: /v1/embeddings');
    expect(page.url()).toContain('endpoint=%2Fv1%2Fembeddings');

    // Only that endpoint is left in the table, and the totals are its own.
    await expect.poll(() => page.locator('#endpoints tr').count(), { timeout: 10_000 }).toBe(1);
    expect(await text('#endpoints th')).toBe('/v1/embeddings');
    await expect.poll(() => number('#card-requests .value'), { timeout: 10_000 }).toBeGreaterThan(0);
    // A quarter of the traffic: well under the unfiltered total.
    expect(await number('#card-requests .value')).toBeLessThan(0.6 * (await snapshotTotal()));
    // Embeddings never stream: no TTFT in this view.
    expect(await text('#card-ttft .value')).toBe('—');

    // Metric types: without throughput, its cards go blank; the server view says which types remain.
    await page.uncheck('#f-types input[value="throughput"]');
    await expect.poll(() => text('#f-effective'), { timeout: 5000 }).toContain('metrics: latency, cache, queue, streaming, error');
    await expect.poll(() => text('#card-requests .value'), { timeout: 5000 }).toBe('—');
    expect(await page.getAttribute('#card-requests', 'class')).toContain('off');
    await expect.poll(() => text('#card-p99 .value'), { timeout: 5000 }).toMatch(/\d/);

    await page.selectOption('#f-model', 'gpt-4o');
    await expect.poll(() => text('#f-effective'), { timeout: 5000 }).toContain('models: gpt-4o');
    await page.selectOption('#f-interval', '2');
    await expect.poll(() => text('#f-effective'), { timeout: 5000 }).toContain('every 2 s');
    // The charts start over with the new view; without throughput, its chart says it is not subscribed.
    await expect.poll(async () => Number(await page.getAttribute('#chart-latency .plot', 'data-points')), { timeout: 10_000 }).toBeGreaterThanOrEqual(2);
    expect(await page.getAttribute('#chart-throughput', 'class')).toContain('off');
    expect(await page.getAttribute('#chart-latency', 'class')).not.toContain('off');

    const shot = join(OUTPUT, 'dashboard-filtered.png');
    await page.screenshot({ path: shot, fullPage: true });
    console.log(`filtered dashboard screenshot: ${shot}`);

    // Back to everything.
    await page.check('#f-types input[value="throughput"]');
    await page.selectOption('#f-endpoint', '');
    await page.selectOption('#f-model', '');
    await page.selectOption('#f-interval', '1');
    await expect.poll(() => text('#f-effective'), { timeout: 5000 }).toBe('Server view — endpoints: all · models: all · nodes: all · metrics: all · every 1 s');
    await expect.poll(() => page.locator('#endpoints tr').count(), { timeout: 10_000 }).toBeGreaterThanOrEqual(3);
  }, 60_000);

  it('shows the LLM figures: SLO attainment, errors by status, nodes ranked by p99 with the outlier marked', async () => {
    await postSlowNode();

    // Each SLO of PULSE_SLOS, in its order, with its attainment now and a verdict against the default 99 %.
    await expect.poll(() => page.locator('#slos tr.slo th').allInnerTexts(), { timeout: 10_000 }).toEqual(SLOS);
    for (const slo of SLOS) {
      const row = `#slos tr.slo:has(th:text-is("${slo}"))`;
      await expect.poll(() => text(`${row} td.attainment`), { timeout: 10_000 }).toMatch(/^\d+\.\d %$/);
      expect(await text(`${row} td:nth-child(3)`)).toBe('99.0 %');
      expect(await page.getAttribute(row, 'data-met')).toMatch(/^(true|false)$/);
    }
    // batch only fails on errors: with 15 % of them it is below 99 %, and marked so.
    await expect.poll(() => page.getAttribute('#slos tr.slo:has(th:text-is("batch"))', 'data-met'), { timeout: 10_000 }).toBe('false');
    expect(await text('#slos tr.slo:has(th:text-is("batch")) td:nth-child(4)')).toBe('missed');
    // …and per endpoint.
    expect(await page.locator('#slos tr.endpoint th').allInnerTexts()).toEqual(expect.arrayContaining(['/v1/chat/completions', '/v1/embeddings']));

    // The simulator's error statuses, each with its errors/s.
    await expect.poll(async () => (await rowNames('#statuses')).filter((s) => ['429', '500', '503'].includes(s)), { timeout: 10_000 }).toEqual(['429', '500', '503']);
    expect(await number('#statuses tr:has(th:text-is("429")) td')).toBeGreaterThan(0);

    // Every node, slowest p99 first: ours on top and marked an outlier, then the simulator's.
    await expect.poll(async () => (await rowNames('#nodes'))[0], { timeout: 10_000 }).toBe(SLOW_NODE);
    expect(await rowNames('#nodes')).toEqual(expect.arrayContaining(SIM_NODES));
    const p99s = (await page.locator('#nodes tr td:nth-of-type(1)').allInnerTexts()).map(ms);
    expect(p99s.every((v) => Number.isFinite(v))).toBe(true);
    expect(p99s).toEqual([...p99s].sort((a, b) => b - a));
    expect(await page.getAttribute('#nodes tr:first-child', 'data-outlier')).toContain('latency');
    expect(await text('#nodes tr:first-child td:last-child')).toContain('▲ p99');
    for (const node of SIM_NODES) expect((await page.getAttribute(`#nodes tr:has(th:text-is("${node}"))`, 'data-outlier')) ?? '').not.toContain('latency');

    const shot = join(OUTPUT, 'dashboard-llm.png');
    await page.screenshot({ path: shot, fullPage: true });
    console.log(`LLM figures screenshot: ${shot}`);
  }, 60_000);

  it('judges SLOs against the page’s ?slo_target=, per SLO', async () => {
    const other = await context.newPage();
    try {
      await other.goto(`${pulse.url}/?slo_target=batch:50`);
      const batch = other.locator('#slos tr.slo:has(th:text-is("batch"))');
      await expect.poll(() => batch.getAttribute('data-met'), { timeout: 15_000 }).toBe('true');
      expect(await batch.locator('td').nth(1).innerText()).toBe('50.0 %');
      // The others keep the default.
      expect(await other.locator('#slos tr.slo:has(th:text-is("interactive")) td').nth(1).innerText()).toBe('99.0 %');
      expect(await other.locator('#slo-target').innerText()).toContain('batch 50 %');
    } finally {
      await other.close();
    }
  }, 30_000);

  it('picking a node narrows the figures to it, and the server confirms it', async () => {
    const [node] = SIM_NODES;
    await expect.poll(() => page.locator(`#f-node option[value="${node}"]`).count(), { timeout: 10_000 }).toBe(1);
    await page.selectOption('#f-node', node!);
    await expect.poll(() => text('#f-effective'), { timeout: 5000 }).toContain(`nodes: ${node}`);
    expect(page.url()).toContain(`node=${node}`);

    // Only that node is left in the node table, and the totals are its own: a third of the simulator's traffic.
    await expect.poll(() => rowNames('#nodes'), { timeout: 10_000 }).toEqual([node]);
    await expect.poll(() => number('#card-requests .value'), { timeout: 10_000 }).toBeGreaterThan(0);
    expect(await number('#card-requests .value')).toBeLessThan(0.6 * (await snapshotTotal()));
    // Every figure is narrowed: its endpoints only, none of ours.
    expect(await rowNames('#endpoints')).not.toContain(HOSTILE_ENDPOINT);

    const shot = join(OUTPUT, 'dashboard-node.png');
    await page.screenshot({ path: shot, fullPage: true });
    console.log(`node-filtered dashboard screenshot: ${shot}`);

    await page.selectOption('#f-node', '');
    await expect.poll(() => text('#f-effective'), { timeout: 5000 }).toContain('nodes: all');
    await expect.poll(async () => (await rowNames('#nodes')).length, { timeout: 10_000 }).toBeGreaterThanOrEqual(SIM_NODES.length);
  }, 60_000);

  it('a page opened later draws the last minutes at once, from the gateway’s history', async () => {
    // The gateway keeps a point every 5 s: wait for two, whatever ran before this test.
    let history: { points: { timestamp: number }[] } = { points: [] };
    await expect
      .poll(async () => (history = (await (await fetch(`${pulse.url}/metrics/history`)).json()) as typeof history).points.length, { timeout: 15_000 })
      .toBeGreaterThanOrEqual(2);
    const later = await context.newPage();
    try {
      const opened = Date.now() / 1000;
      await later.goto(`${pulse.url}/`);
      const since = async () => Number((await later.getAttribute('#chart-throughput .plot', 'data-since')) || Infinity);
      await expect.poll(since, { timeout: 5000 }).toBeLessThanOrEqual(history.points[0]!.timestamp);
      // Live updates alone would start at the page's opening.
      expect(opened - (await since())).toBeGreaterThan(4);
      expect(Number(await later.getAttribute('#chart-throughput .plot', 'data-points'))).toBeGreaterThanOrEqual(history.points.length);
      const shot = join(OUTPUT, 'dashboard-history.png');
      await later.screenshot({ path: shot, fullPage: true });
      console.log(`dashboard opened later, screenshot: ${shot}`);
    } finally {
      await later.close();
    }
  }, 30_000);

  it('reconnects by itself when Pulse restarts, and the figures come back', async () => {
    const port = pulse.port;
    expect(await pulse.stop()).toBe(0);
    await expect.poll(() => page.getAttribute('#status', 'data-state'), { timeout: 5000 }).not.toBe('open');
    expect(await text('#status')).toMatch(/reconnecting|connecting/);
    pulse = await startService('standalone', { ...PULSE_ENV, PORT: String(port) });
    await expect.poll(() => page.getAttribute('#status', 'data-state'), { timeout: 20_000 }).toBe('open');
    // The simulator retried its batches meanwhile: figures from the new process arrive.
    await expect.poll(() => number('#card-requests .value'), { timeout: 15_000 }).toBeGreaterThan(0);
    // While Pulse was down the page's requests failed; nothing else may have gone wrong. The browser
    // logs the 404 of the alerts probe (once per connection: without rules the page stops asking).
    const alertProbes = pageErrors.filter((e) => /status of 404 .*\/v1\/alerts\)$/.test(e));
    expect(alertProbes.length).toBeGreaterThanOrEqual(1);
    expect(alertProbes.length).toBeLessThanOrEqual(3);
    expect(pageErrors.filter((e) => !e.includes('WebSocket') && !e.includes('ERR_CONNECTION_REFUSED') && !alertProbes.includes(e))).toEqual([]);
  }, 60_000);
});
