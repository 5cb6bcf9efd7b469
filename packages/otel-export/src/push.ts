/**
 * The OTLP push: the OpenTelemetry SDK's PeriodicExportingMetricReader with
 * the snapshot producer (producer.ts) as its only source, and the OTLP/HTTP
 * exporter of the configured protocol. Every replica runs it; the producer
 * yields nothing unless the process leads, and the reader exports nothing
 * then, so exactly one process in the cluster pushes — and a standby starts
 * at its first interval after it takes over, with no handover to get wrong.
 */
import type { ExportResult } from '@opentelemetry/core';
import { OTLPMetricExporter as JsonExporter } from '@opentelemetry/exporter-metrics-otlp-http';
import { OTLPMetricExporter as ProtobufExporter } from '@opentelemetry/exporter-metrics-otlp-proto';
import { resourceFromAttributes } from '@opentelemetry/resources';
import {
  AggregationTemporality,
  MeterProvider,
  PeriodicExportingMetricReader,
  type PushMetricExporter,
  type ResourceMetrics,
} from '@opentelemetry/sdk-metrics';
import type { Logger } from '@pulse/runtime';
import type { OtlpSettings } from './config.js';
import { SnapshotMetricProducer, type ExportSource } from './producer.js';

/** At most one failure line per this long; the others are counted into the next line. */
const FAILURE_LOG_EVERY_MS = 60_000;

export interface OtlpPushStats {
  exports: number;
  failures: number;
  lastSuccessAt: number | null;
}

export class OtlpPush {
  private readonly provider: MeterProvider;
  private readonly exporter: LoggingExporter;

  constructor(settings: OtlpSettings, source: ExportSource, logger: Logger) {
    const log = logger.child({ component: 'otlp-push' });
    this.exporter = new LoggingExporter(createExporter(settings), settings.url, log);
    const reader = new PeriodicExportingMetricReader({
      exporter: this.exporter,
      exportIntervalMillis: settings.intervalMs,
      exportTimeoutMillis: settings.exportTimeoutMs,
      metricProducers: [new SnapshotMetricProducer(source, Date.now, settings.exponentialHistograms ? 'exponential' : 'explicit')],
    });
    // No service.instance.id or host attributes: the figures are the cluster's, whichever process leads, and
    // an identity per process would split each series in two at every failover.
    this.provider = new MeterProvider({ resource: resourceFromAttributes(settings.resource), readers: [reader] });
    log.info(
      { url: settings.url, protocol: settings.protocol, intervalMs: settings.intervalMs, histograms: settings.exponentialHistograms ? 'exponential' : 'explicit' },
      'OTLP push on: the active aggregator pushes the figures',
    );
  }

  get stats(): OtlpPushStats {
    return this.exporter.stats();
  }

  /** SIGTERM: one last push of the figures as they are now (if this process leads), then stop. */
  async shutdown(): Promise<void> {
    await this.provider.shutdown().catch(() => undefined);
  }
}

/** Starts the push when `settings` says it is on; null otherwise. */
export function startOtlpPush(settings: OtlpSettings | null, source: ExportSource, logger: Logger): OtlpPush | null {
  return settings ? new OtlpPush(settings, source, logger) : null;
}

function createExporter(settings: OtlpSettings): PushMetricExporter {
  const options = {
    url: settings.url,
    headers: settings.headers,
    timeoutMillis: settings.timeoutMillis,
    compression: settings.compression,
    temporalityPreference: AggregationTemporality.CUMULATIVE,
  } as ConstructorParameters<typeof JsonExporter>[0];
  return settings.protocol === 'http/json' ? new JsonExporter(options) : new ProtobufExporter(options);
}

/**
 * Logs what the exports come to, rate-limited: the first failure at once
 * with what the receiver said, then at most one line a minute counting the
 * rest; a line when pushes succeed again. The SDK itself reports failures
 * only through its diag logger, which nothing reads.
 */
class LoggingExporter implements PushMetricExporter {
  private exports = 0;
  private failures = 0;
  private failingSince = 0;
  private unlogged = 0;
  private lastLoggedAt = -Infinity;
  private lastSuccessAt: number | null = null;

  constructor(
    private readonly inner: PushMetricExporter,
    private readonly url: string,
    private readonly log: Logger,
  ) {}

  export(metrics: ResourceMetrics, done: (result: ExportResult) => void): void {
    this.inner.export(metrics, (result) => {
      if (result.code === 0) this.succeeded(metrics);
      else this.failed(result.error);
      done(result);
    });
  }

  forceFlush(): Promise<void> {
    return this.inner.forceFlush();
  }

  shutdown(): Promise<void> {
    return this.inner.shutdown();
  }

  selectAggregationTemporality(): AggregationTemporality {
    return AggregationTemporality.CUMULATIVE;
  }

  stats(): OtlpPushStats {
    return { exports: this.exports, failures: this.failures, lastSuccessAt: this.lastSuccessAt };
  }

  private succeeded(metrics: ResourceMetrics): void {
    this.exports++;
    this.lastSuccessAt = Date.now();
    if (this.failingSince > 0) {
      this.log.info({ url: this.url, failed: this.unlogged, sinceMs: Date.now() - this.failingSince }, 'OTLP push succeeds again');
      this.failingSince = 0;
      this.unlogged = 0;
      this.lastLoggedAt = -Infinity;
    } else if (this.exports === 1) {
      const points = metrics.scopeMetrics.reduce((n, s) => n + s.metrics.reduce((m, x) => m + x.dataPoints.length, 0), 0);
      this.log.info({ url: this.url, points }, 'first OTLP push accepted');
    }
  }

  private failed(error: Error | undefined): void {
    this.failures++;
    const now = Date.now();
    if (this.failingSince === 0) this.failingSince = now;
    if (now - this.lastLoggedAt < FAILURE_LOG_EVERY_MS) {
      this.unlogged++;
      return;
    }
    this.log.warn({ url: this.url, ...describe(error), failedSinceLastLine: this.unlogged }, 'OTLP push failed; the next interval pushes the totals again (nothing is lost: they are cumulative)');
    this.lastLoggedAt = now;
    this.unlogged = 0;
  }
}

/** What a failed export says: the HTTP status and the receiver's reply, or the network error's code. */
function describe(error: Error | undefined): Record<string, unknown> {
  if (!error) return {};
  const e = error as Error & { code?: number | string; data?: string; cause?: { code?: string } };
  return {
    error: e.message,
    ...(e.code !== undefined ? { status: e.code } : {}),
    ...(e.data ? { reply: e.data.slice(0, 300) } : {}),
    ...(e.cause?.code ? { cause: e.cause.code } : {}),
  };
}
