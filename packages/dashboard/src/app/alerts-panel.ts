/**
 * The alerts panels (docs/PROTOCOL.md §8): the active alerts and the failed
 * deliveries, polled every 2 s from the gateway with the page's read token,
 * each failed delivery with a button that replays it; and the firing periods
 * handed to the charts as bands.
 *
 * A Pulse without `PULSE_ALERT_RULES` answers the routes 404: the panels stay
 * hidden and polling stops, since the browser logs every 404 to its console.
 * They are asked again on each (re)connect of the page's stream, which is
 * when a Pulse restarted with rules would show up.
 */
import { byId, element } from './dom.js';
import { alertCells, deliveryCells, parseAlerts, parseDeliveries, replyProblem, trackFiring, type ActiveAlert, type FailedDelivery, type FiringBand } from './alerts.js';
import type { Chart } from './chart.js';
import { gatewayUrl } from './rest.js';

const POLL_MS = 2000;
/** Firing periods kept for the charts, however many alerts come and go. */
const MAX_BANDS = 100;
/** Columns of free text, left-aligned and allowed to wrap. */
const TEXT = 'text';

/** A reply of the gateway; null when it did not answer at all. */
type Reply = { status: number; body: unknown } | null;

export class AlertsPanel {
  private bands: FiringBand[] = [];
  private timer: ReturnType<typeof setTimeout> | undefined;
  private polling = false;
  /** False once the routes answered 404: this Pulse has no alert rules. */
  private configured = false;
  /** Deliveries whose retry is under way: their button stays disabled across redraws. */
  private readonly retrying = new Set<string>();

  constructor(
    private readonly streamUrl: string,
    private readonly token: string | undefined,
    private readonly charts: readonly Chart[],
    private readonly spanSeconds: number,
  ) {}

  /** The page's stream (re)connected: start polling unless it already runs. */
  connected(): void {
    if (!this.configured) void this.poll();
  }

  private async poll(): Promise<void> {
    if (this.polling) return;
    this.polling = true;
    clearTimeout(this.timer);
    try {
      const alerts = await this.request('/v1/alerts');
      this.configured = alerts?.status !== 404;
      if (!this.configured) return this.hide();
      this.showAlerts(alerts);
      this.showDeliveries(await this.request('/v1/alerts/deliveries?state=failed'));
    } finally {
      this.polling = false;
      if (this.configured) this.timer = setTimeout(() => void this.poll(), POLL_MS);
    }
  }

  private hide(): void {
    this.setVisible('panel-alerts', false);
    this.setVisible('panel-deliveries', false);
    this.bands = [];
    for (const chart of this.charts) chart.setBands(this.bands);
  }

  private showAlerts(reply: Reply): void {
    this.setVisible('panel-alerts', true);
    if (reply?.status !== 200) {
      // Pulse unreachable or refusing: what is on screen stays, marked as old.
      byId('alerts-note').textContent = replyProblem(reply);
      return;
    }
    byId('alerts-note').textContent = '';
    // The page's clock ends bands; the charts' times are Pulse's. Pulse says no time here, and a
    // skew between the two only moves a band's end by as much.
    const now = Date.now() / 1000;
    const alerts = parseAlerts(reply.body);
    renderAlerts(byId<HTMLTableSectionElement>('alerts'), alerts, now);
    const firing = alerts.filter((a) => a.state === 'firing').length;
    byId('alerts-count').textContent = `${alerts.length} active: ${firing} firing, ${alerts.length - firing} pending`;
    this.bands = trackFiring(this.bands, alerts, now, { spanSeconds: this.spanSeconds, maxBands: MAX_BANDS });
    for (const chart of this.charts) chart.setBands(this.bands);
  }

  private showDeliveries(reply: Reply): void {
    this.setVisible('panel-deliveries', reply?.status !== 404);
    if (reply?.status !== 200) {
      byId('deliveries-problem').textContent = replyProblem(reply);
      return;
    }
    byId('deliveries-problem').textContent = '';
    const body = byId<HTMLTableSectionElement>('deliveries');
    renderDeliveries(body, parseDeliveries(reply.body), Date.now() / 1000, (d) => this.retryButton(d));
  }

  private retryButton(d: FailedDelivery): HTMLButtonElement {
    const button = element('button', this.retrying.has(d.id) ? 'retrying…' : 'retry', { type: 'button', class: 'retry', 'data-id': d.id });
    button.disabled = this.retrying.has(d.id);
    button.addEventListener('click', () => void this.retry(d.id, button));
    return button;
  }

  /** Replays a failed delivery (202: queued again, with fresh attempts), then polls so the list catches up. */
  private async retry(id: string, button: HTMLButtonElement): Promise<void> {
    this.retrying.add(id);
    button.disabled = true;
    button.textContent = 'retrying…';
    const reply = await this.request(`/v1/alerts/deliveries/${encodeURIComponent(id)}/retry`, 'POST');
    this.retrying.delete(id);
    byId('deliveries-note').textContent = reply?.status === 202 ? `delivery ${id} queued again` : `retry of ${id} failed: ${replyProblem(reply)}`;
    button.disabled = false;
    button.textContent = 'retry';
    void this.poll();
  }

  /**
   * The routes are guarded like `/metrics/*`: the read token, in a header
   * (fetch can set one). The page holds no write token, and the retry route
   * does not ask for one.
   */
  private async request(path: string, method: 'GET' | 'POST' = 'GET'): Promise<Reply> {
    try {
      const res = await fetch(gatewayUrl(this.streamUrl, path), { method, cache: 'no-store', headers: this.token ? { authorization: `Bearer ${this.token}` } : {} });
      return { status: res.status, body: await res.json().catch(() => null) };
    } catch {
      return null;
    }
  }

  private setVisible(id: string, visible: boolean): void {
    byId(id).hidden = !visible;
    byId('alerts-section').hidden = byId('panel-alerts').hidden && byId('panel-deliveries').hidden;
  }
}

function renderAlerts(body: HTMLTableSectionElement, alerts: readonly ActiveAlert[], now: number): void {
  if (alerts.length === 0) return empty(body, 'no active alerts', 5);
  body.replaceChildren(
    ...alerts.map((a) => {
      const [name, labels, ...rest] = alertCells(a, now);
      const tr = element('tr', undefined, { class: a.state, 'data-state': a.state });
      tr.append(element('th', name, { scope: 'row' }), element('td', labels, { class: TEXT }), ...rest.map((c) => element('td', c)));
      return tr;
    }),
  );
}

function renderDeliveries(body: HTMLTableSectionElement, deliveries: readonly FailedDelivery[], now: number, button: (d: FailedDelivery) => HTMLButtonElement): void {
  if (deliveries.length === 0) return empty(body, 'no failed deliveries', 8);
  body.replaceChildren(
    ...deliveries.map((d) => {
      const [id, receiver, status, labels, attempts, lastError, failedAt] = deliveryCells(d, now);
      const tr = element('tr', undefined, { 'data-id': d.id });
      const action = element('td');
      action.append(button(d));
      tr.append(
        element('th', id, { scope: 'row' }),
        element('td', receiver),
        element('td', status),
        element('td', labels, { class: TEXT }),
        element('td', attempts),
        element('td', lastError, { class: `${TEXT} error` }),
        element('td', failedAt),
        action,
      );
      return tr;
    }),
  );
}

function empty(body: HTMLTableSectionElement, text: string, columns: number): void {
  const tr = element('tr');
  tr.append(element('td', text, { colspan: String(columns), class: 'empty' }));
  body.replaceChildren(tr);
}
