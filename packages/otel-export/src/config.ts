/**
 * The standard OpenTelemetry exporter variables Pulse honours for its OTLP
 * push (docs/MONITORING.md, "OpenTelemetry push"), as a config shape the
 * services spread into their own: parsed once at start with the rest, so a
 * bad value stops the process with a line naming the variable (exit 2), where
 * the SDK itself would only warn and quietly fall back to a default.
 *
 * Pulse passes what it parsed to the exporter explicitly (URL, headers,
 * timeout, compression): what was validated is what is used.
 */
import { readFileSync } from 'node:fs';
import { intVar, secretVar } from '@pulse/runtime';
import { z } from 'zod';

export type OtlpProtocol = 'http/protobuf' | 'http/json';

/** An http(s) URL, as the exporter needs. */
const httpUrl = () =>
  z.string().refine((v) => {
    try {
      const url = new URL(v);
      return url.protocol === 'http:' || url.protocol === 'https:';
    } catch {
      return false;
    }
  }, 'must be an http:// or https:// URL');

/** Only the HTTP transports: the exporter packages Pulse ships speak OTLP over HTTP, not gRPC. */
const protocol = () =>
  z.enum(['http/protobuf', 'http/json'], { message: "must be 'http/protobuf' or 'http/json' (Pulse does not push over gRPC)" });

/** `key=value,key=value` with percent-encoded values (the W3C baggage form the OTEL_* lists use). */
const keyValueList = (keys: RegExp, what: string) =>
  z.string().transform((text, ctx): Record<string, string> => {
    const out: Record<string, string> = {};
    for (const raw of text.split(',')) {
      const item = raw.trim();
      if (item === '') continue;
      const eq = item.indexOf('=');
      const key = eq > 0 ? item.slice(0, eq).trim() : '';
      if (!keys.test(key)) {
        ctx.addIssue({ code: 'custom', message: `every entry must be ${what}=value` });
        return z.NEVER;
      }
      try {
        out[key] = decodeURIComponent(item.slice(eq + 1).trim());
      } catch {
        ctx.addIssue({ code: 'custom', message: `the value of ${key} is not valid percent-encoding` });
        return z.NEVER;
      }
    }
    return out;
  });

const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
const headers = () => secretVar(keyValueList(HEADER_NAME, 'an HTTP header name').optional());
const resourceAttributes = () => keyValueList(/^[^\s=]+$/, 'a key').optional();

/** A file the exporter reads at start (TLS material): checked here so a typo is an error, not a silent plain connection. */
const readableFile = () =>
  z
    .string()
    .refine((path) => {
      try {
        readFileSync(path);
        return true;
      } catch {
        return false;
      }
    }, 'must be a readable file')
    .optional();

const timeoutMs = () => z.coerce.number().int().min(1).max(3_600_000).optional();
const compression = () => z.enum(['gzip', 'none']).optional();
const lowerCase = <T extends z.ZodType<unknown, string>>(schema: T) => z.string().transform((v) => v.toLowerCase()).pipe(schema);

/** The variables (docs/MONITORING.md lists them); the METRICS_ ones win over the general ones, as the specification says. */
export const otlpVars = {
  /** The specification's switch: only `true` (any case) disables. */
  OTEL_SDK_DISABLED: z
    .string()
    .default('false')
    .transform((v) => v.toLowerCase() === 'true'),
  OTEL_METRICS_EXPORTER: lowerCase(
    z.enum(['otlp', 'none'], { message: "must be 'otlp' or 'none' (Pulse pushes OTLP only; for Prometheus scrape GET /metrics/prometheus)" }),
  ).default('otlp'),
  OTEL_EXPORTER_OTLP_ENDPOINT: httpUrl().optional(),
  OTEL_EXPORTER_OTLP_METRICS_ENDPOINT: httpUrl().optional(),
  OTEL_EXPORTER_OTLP_PROTOCOL: protocol().optional(),
  OTEL_EXPORTER_OTLP_METRICS_PROTOCOL: protocol().optional(),
  OTEL_EXPORTER_OTLP_HEADERS: headers(),
  OTEL_EXPORTER_OTLP_METRICS_HEADERS: headers(),
  OTEL_EXPORTER_OTLP_TIMEOUT: timeoutMs(),
  OTEL_EXPORTER_OTLP_METRICS_TIMEOUT: timeoutMs(),
  OTEL_EXPORTER_OTLP_COMPRESSION: compression(),
  OTEL_EXPORTER_OTLP_METRICS_COMPRESSION: compression(),
  OTEL_EXPORTER_OTLP_CERTIFICATE: readableFile(),
  OTEL_EXPORTER_OTLP_METRICS_CERTIFICATE: readableFile(),
  OTEL_EXPORTER_OTLP_CLIENT_KEY: readableFile(),
  OTEL_EXPORTER_OTLP_METRICS_CLIENT_KEY: readableFile(),
  OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE: readableFile(),
  OTEL_EXPORTER_OTLP_METRICS_CLIENT_CERTIFICATE: readableFile(),
  /** The figures are totals since the store was created: only cumulative points can be pushed exactly (MONITORING.md says why not delta). */
  OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE: lowerCase(
    z.enum(['cumulative'], { message: "must be 'cumulative': Pulse pushes totals kept since the metrics store was created, which a delta could not follow across a failover" }),
  ).optional(),
  /** Exponential: the histograms are pushed as exact exponential histograms at scale 3 instead of the GenAI explicit buckets (MONITORING.md). */
  OTEL_EXPORTER_OTLP_METRICS_DEFAULT_HISTOGRAM_AGGREGATION: lowerCase(z.enum(['explicit_bucket_histogram', 'base2_exponential_bucket_histogram'])).optional(),
  OTEL_METRIC_EXPORT_INTERVAL: intVar(60_000, 1, 86_400_000),
  OTEL_METRIC_EXPORT_TIMEOUT: intVar(30_000, 1, 86_400_000),
  OTEL_SERVICE_NAME: z.string().optional(),
  OTEL_RESOURCE_ATTRIBUTES: resourceAttributes(),
};

export type OtlpEnv = z.output<z.ZodObject<typeof otlpVars>>;

/** What the push needs, resolved: one value per setting. */
export interface OtlpSettings {
  /** Where to POST: the metrics endpoint as given, or the general endpoint + `v1/metrics`. */
  url: string;
  protocol: OtlpProtocol;
  headers: Record<string, string>;
  /** One HTTP export, retries included. */
  timeoutMillis: number;
  compression: 'gzip' | 'none';
  intervalMs: number;
  /** One collect + export; at most the interval. */
  exportTimeoutMs: number;
  /** service.name and the other resource attributes. */
  resource: Record<string, string>;
  /**
   * OTEL_EXPORTER_OTLP_METRICS_DEFAULT_HISTOGRAM_AGGREGATION=base2_exponential_bucket_histogram:
   * the histograms are pushed as exponential histograms (the aggregator then counts them).
   */
  exponentialHistograms: boolean;
}

/** The settings of the push, or null when it is off (no endpoint, the SDK disabled, or OTEL_METRICS_EXPORTER=none). */
export function otlpSettings(env: OtlpEnv): OtlpSettings | null {
  const url = metricsUrl(env);
  if (!url || env.OTEL_SDK_DISABLED || env.OTEL_METRICS_EXPORTER === 'none') return null;
  const resource = { ...(env.OTEL_RESOURCE_ATTRIBUTES ?? {}) };
  // OTEL_SERVICE_NAME wins over a service.name in the attributes; without either, the cluster is "pulse" (not the SDK's unknown_service).
  resource['service.name'] = env.OTEL_SERVICE_NAME ?? resource['service.name'] ?? 'pulse';
  return {
    url,
    protocol: env.OTEL_EXPORTER_OTLP_METRICS_PROTOCOL ?? env.OTEL_EXPORTER_OTLP_PROTOCOL ?? 'http/protobuf',
    // The specification merges the two lists, the metrics-specific one winning per header.
    headers: { ...(env.OTEL_EXPORTER_OTLP_HEADERS ?? {}), ...(env.OTEL_EXPORTER_OTLP_METRICS_HEADERS ?? {}) },
    timeoutMillis: env.OTEL_EXPORTER_OTLP_METRICS_TIMEOUT ?? env.OTEL_EXPORTER_OTLP_TIMEOUT ?? 10_000,
    compression: env.OTEL_EXPORTER_OTLP_METRICS_COMPRESSION ?? env.OTEL_EXPORTER_OTLP_COMPRESSION ?? 'none',
    intervalMs: env.OTEL_METRIC_EXPORT_INTERVAL,
    // A collect + export longer than the interval would overlap the next one (the SDK clamps the same way).
    exportTimeoutMs: Math.min(env.OTEL_METRIC_EXPORT_TIMEOUT, env.OTEL_METRIC_EXPORT_INTERVAL),
    resource,
    exponentialHistograms: env.OTEL_EXPORTER_OTLP_METRICS_DEFAULT_HISTOGRAM_AGGREGATION === 'base2_exponential_bucket_histogram',
  };
}

/**
 * Whether these variables make the push send exponential histograms: what the
 * aggregator needs to know to count them (they cost, docs/MONITORING.md), from
 * whichever variables it was given.
 */
export function pushesExponential(env: Partial<OtlpEnv>): boolean {
  return (
    env.OTEL_EXPORTER_OTLP_METRICS_DEFAULT_HISTOGRAM_AGGREGATION === 'base2_exponential_bucket_histogram' &&
    metricsUrl(env) !== undefined &&
    env.OTEL_SDK_DISABLED !== true &&
    env.OTEL_METRICS_EXPORTER !== 'none'
  );
}

function metricsUrl(env: Pick<Partial<OtlpEnv>, 'OTEL_EXPORTER_OTLP_ENDPOINT' | 'OTEL_EXPORTER_OTLP_METRICS_ENDPOINT'>): string | undefined {
  if (env.OTEL_EXPORTER_OTLP_METRICS_ENDPOINT) return env.OTEL_EXPORTER_OTLP_METRICS_ENDPOINT;
  const base = env.OTEL_EXPORTER_OTLP_ENDPOINT;
  if (!base) return undefined;
  // The general endpoint is a base: the signal's path is appended to it (specification, "Endpoint URLs for OTLP/HTTP").
  return `${base.endsWith('/') ? base : `${base}/`}v1/metrics`;
}
