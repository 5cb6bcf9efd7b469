/**
 * A process's own metrics for Prometheus, through prom-client: every service
 * serves `GET /metrics` from one of these. The process metrics prom-client
 * collects by default (resident memory, heap, event-loop lag, GC pauses, CPU,
 * open files) are registered once per process and come first; each component
 * then registers its own metrics on `registry`, next to the code they measure.
 *
 * Why one process registry apart from the components': tests build many
 * gateways and ingest apps in one process, and collecting the defaults once
 * per app would start an event-loop monitor and a GC observer each time.
 */
import { collectDefaultMetrics, Counter, Gauge, Registry } from 'prom-client';

export { Counter, Gauge, Histogram, type Registry } from 'prom-client';

/** The Prometheus text format every self-metrics route answers in. */
export const PROMETHEUS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

let processRegistry: Registry | null = null;

function processMetrics(): Registry {
  if (!processRegistry) {
    processRegistry = new Registry();
    collectDefaultMetrics({ register: processRegistry });
  }
  return processRegistry;
}

export class SelfMetrics {
  /** Where this component's metrics go. */
  readonly registry = new Registry();

  /** The process metrics, then this component's, in the Prometheus text format. */
  async exposition(): Promise<string> {
    const [process, own] = await Promise.all([processMetrics().metrics(), this.registry.metrics()]);
    return endLines([process, own].filter((text) => text !== '').join('\n'));
  }
}

/** prom-client leaves the last line unterminated; the text format wants every line ended. */
export function endLines(text: string): string {
  return text.endsWith('\n') ? text : `${text}\n`;
}

/** A value read at scrape time: one number, or one number per label set. */
export type ScrapedValue = number | Iterable<readonly [labels: Record<string, string>, value: number]>;

export interface ScrapedMetric {
  name: string;
  help: string;
  /** `counter` for a total that only grows (Prometheus takes its rate), `gauge` for a level. */
  type: 'counter' | 'gauge';
  labelNames?: readonly string[];
  read(): ScrapedValue;
}

/**
 * Registers a metric whose value the code keeps anyway (a status field, a
 * count of its own) and that is read only when Prometheus scrapes, so the
 * hot path does no extra work for it.
 */
export function registerScraped(registry: Registry, metric: ScrapedMetric): void {
  const { name, help, labelNames = [], read } = metric;
  const samples = (): (readonly [Record<string, string>, number])[] => {
    const value = read();
    return typeof value === 'number' ? [[{}, value]] : [...value];
  };
  if (metric.type === 'gauge') {
    new Gauge({
      name,
      help,
      labelNames,
      registers: [registry],
      collect() {
        this.reset();
        for (const [labels, value] of samples()) this.set(labels, value);
      },
    });
  } else {
    new Counter({
      name,
      help,
      labelNames,
      registers: [registry],
      collect() {
        this.reset();
        for (const [labels, value] of samples()) this.inc(labels, value);
      },
    });
  }
}
