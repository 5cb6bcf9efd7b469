/**
 * Configuration from the environment: one schema per service, parsed once at
 * start, every problem reported together, the result frozen and passed down.
 * Nothing else in Pulse reads `process.env`.
 */
import { MAX_PARTITIONS, parseSlos, type Slo } from '@pulse/protocol';
import { z } from 'zod';
import { parseRedisUrl, RedisUrlError } from './redis-url.js';

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  constructor(readonly problems: string[]) {
    super(problems.join('; '));
  }
}

/** An integer env var within [min, max]. */
export const intVar = (def: number, min: number, max: number) =>
  z.coerce.number().int().min(min).max(max).default(def);

/** A number env var within [min, max]. */
export const numVar = (def: number, min: number, max: number) =>
  z.coerce.number().finite().min(min).max(max).default(def);

export const boolVar = (def: boolean) =>
  z
    .enum(['true', 'false', '1', '0', 'yes', 'no'])
    .default(def ? 'true' : 'false')
    .transform((v) => v === 'true' || v === '1' || v === 'yes');

/** PULSE_SLOS (docs/PROTOCOL.md §8): the error names the SLO and the bound that is wrong. */
export const slosVar = z
  .string()
  .default('')
  .transform((text, ctx): Slo[] => {
    try {
      return parseSlos(text);
    } catch (err) {
      ctx.addIssue({ code: 'custom', message: (err as Error).message });
      return z.NEVER;
    }
  });

/** PULSE_ALERT_RULES (docs/PROTOCOL.md §8): the path of the alert rules file; unset, no alerts. */
export const alertRulesVar = z.string().min(1).optional();

/** Schemas whose value must never be echoed, not even in a config error (tokens). */
const secretSchemas = new WeakSet<z.ZodType>();

/** Marks an env var's schema as secret: a config error names the variable but never shows its value. */
export function secretVar<T extends z.ZodType>(schema: T): T {
  secretSchemas.add(schema);
  return schema;
}

/**
 * REDIS_URL: any topology of CONTRACT §10, checked here so a bad URL stops
 * the process at start naming the variable. Secret: it may hold a password.
 */
export const redisUrlVar = secretVar(
  z.string().superRefine((url, ctx) => {
    try {
      parseRedisUrl(url);
    } catch (err) {
      if (!(err instanceof RedisUrlError)) throw err;
      ctx.addIssue({ code: 'custom', message: err.message });
    }
  }),
);

/** Secret, or a default / optional of a secret (`redisUrlVar.default(…)` is a new schema around it). */
function isSecret(schema: z.ZodType | undefined): boolean {
  for (let s = schema; s; s = (s._def as { innerType?: z.ZodType }).innerType) if (secretSchemas.has(s)) return true;
  return false;
}

/** Variables every service reads (docs/PROTOCOL.md §2). */
export const commonVars = {
  HOST: z.string().min(1).default('0.0.0.0'),
  PULSE_WINDOW_SECONDS: intVar(60, 1, 3600),
  PULSE_TICK_MS: intVar(500, 50, 60_000),
  /** Prefix of every Redis key: lets several Pulse deployments share one Redis. */
  PULSE_KEY_PREFIX: z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/, 'letters, digits, _ . - only').default('pulse'),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  /** How long a SIGTERM drain may take before the process exits anyway. */
  PULSE_SHUTDOWN_TIMEOUT_MS: intVar(10_000, 100, 120_000),
  /**
   * Partitions of the event stream (CONTRACT §10), each aggregated by its own
   * active replica: every service of a deployment must say the same (each
   * checks the count recorded in Redis at start, partitions.ts).
   */
  PULSE_PARTITIONS: intVar(1, 1, MAX_PARTITIONS),
};

/**
 * Parses `env` with `shape`. Empty strings count as unset, so `PORT=` in a
 * compose file means the default. Throws ConfigError naming each bad variable.
 */
export function parseConfig<S extends z.ZodRawShape>(
  shape: S,
  env: Record<string, string | undefined>,
): Readonly<z.infer<z.ZodObject<S>>> {
  const input: Record<string, string> = {};
  for (const key of Object.keys(shape)) {
    const v = env[key];
    if (v !== undefined && v.trim() !== '') input[key] = v.trim();
  }
  const parsed = z.object(shape).safeParse(input);
  if (!parsed.success) {
    throw new ConfigError(
      parsed.error.issues.map((i) => {
        const key = String(i.path[0]);
        const shown = isSecret(shape[key] as z.ZodType) ? '' : describeValue(env[key]);
        return `${i.path.join('.') || 'config'}: ${i.message}${shown}`;
      }),
    );
  }
  return Object.freeze(parsed.data);
}

function describeValue(v: string | undefined): string {
  return v === undefined ? '' : ` (got ${JSON.stringify(v.slice(0, 80))})`;
}

/** For main.ts: parse or print one line naming the bad variable(s) and exit 2. */
export function loadConfigOrExit<S extends z.ZodRawShape>(
  service: string,
  shape: S,
  env: Record<string, string | undefined> = process.env,
): Readonly<z.infer<z.ZodObject<S>>> {
  try {
    return parseConfig(shape, env);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`pulse ${service}: invalid configuration: ${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
}
