/**
 * NDJSON logs on stdout (pino). One child logger per component; errors go
 * under `err`. Tokens and bodies are never logged.
 */
import { pino, type DestinationStream, type Logger, type LoggerOptions } from 'pino';

export type { Logger };

/**
 * A second line of defence: Pulse's own code logs no header or token, but an
 * object logged whole (a request, an error carrying its headers) must not
 * carry one into the logs either.
 */
const REDACT = ['authorization', 'token', '*.authorization', '*.token', '*.headers.authorization', '*.*.headers.authorization'];

/** `destination` is for tests; by default logs go to stdout. */
export function createLogger(service: string, level: string = 'info', destination?: DestinationStream): Logger {
  const options: LoggerOptions = {
    level,
    redact: { paths: REDACT, censor: '[redacted]' },
    base: { service, pid: process.pid },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }) },
  };
  return destination ? pino(options, destination) : pino(options);
}

/** A logger that drops everything, for tests. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
