/**
 * The per-model table's data. A metric message has no model dimension, so
 * each model gets its own subscription — a connection filtered to that model
 * (and to the page's endpoint and node filters) — whose totals make the
 * model's row. The
 * gateway builds each distinct view once per snapshot whatever the number of
 * clients, so this costs it little; rows are capped all the same.
 */
import { connect, modelRow, type ModelRow, type PulseClient, type SubscribeFilters } from '@pulse/client';

/** The page's filters that narrow every model's row too. */
export interface Narrowing {
  /** Empty: all. */
  endpoint: string;
  node: string;
}

/** Models with a row (and a connection) at most. */
export const MAX_MODEL_ROWS = 12;
const MODEL_INTERVAL_SECONDS = 2;

export class ModelViews {
  private readonly clients = new Map<string, PulseClient>();
  private readonly latest = new Map<string, ModelRow>();
  private narrowing: Narrowing = { endpoint: '', node: '' };
  /** Models seen but without a row, beyond the cap. */
  hidden = 0;

  constructor(
    private readonly streamUrl: string,
    private readonly onChange: () => void,
    /** The page's read token, for a Pulse with authentication on. */
    private readonly token?: string,
  ) {}

  /** Keeps one subscription per model of `models` (up to the cap), narrowed to the page's endpoint and node when set. */
  sync(models: readonly string[], narrowing: Narrowing): void {
    const wanted = [...models].sort().slice(0, MAX_MODEL_ROWS);
    this.hidden = Math.max(0, models.length - wanted.length);
    for (const [model, client] of this.clients) {
      if (wanted.includes(model)) continue;
      void client.close();
      this.clients.delete(model);
      this.latest.delete(model);
    }
    const narrowingChanged = narrowing.endpoint !== this.narrowing.endpoint || narrowing.node !== this.narrowing.node;
    this.narrowing = { ...narrowing };
    for (const model of wanted) {
      const client = this.clients.get(model);
      if (!client) this.open(model);
      else if (narrowingChanged) {
        client.unsubscribe();
        client.subscribe(this.filters(model));
        this.latest.delete(model);
      }
    }
    this.onChange();
  }

  rows(): ModelRow[] {
    return [...this.latest.values()].sort((a, b) => (b.requestsPerSec ?? 0) - (a.requestsPerSec ?? 0) || a.model.localeCompare(b.model));
  }

  private open(model: string): void {
    const client = connect(this.streamUrl, { token: this.token });
    client.subscribe(this.filters(model));
    client.onMessage((message) => {
      // historical_data is unfiltered: only updates describe this model.
      if (message.type !== 'metrics_update') return;
      this.latest.set(model, modelRow(model, message.data));
      this.onChange();
    });
    this.clients.set(model, client);
  }

  private filters(model: string): SubscribeFilters {
    return {
      model,
      ...(this.narrowing.endpoint ? { endpoint: this.narrowing.endpoint } : {}),
      ...(this.narrowing.node ? { node: this.narrowing.node } : {}),
      metric_types: ['throughput', 'error', 'streaming', 'queue'],
      interval: MODEL_INTERVAL_SECONDS,
    };
  }
}
