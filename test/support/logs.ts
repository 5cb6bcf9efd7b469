/** Loggers whose lines a test reads back. */
import { Writable } from 'node:stream';
import { pino, type Logger } from 'pino';

/** One line as pino writes it: its numeric level, its message and whatever else it carried. */
export interface LogLine {
  level: number;
  msg: string;
  [key: string]: unknown;
}

/** A logger at `level` whose lines, parsed, the test reads from `lines`. */
export function capturingLogger(level = 'info'): { logger: Logger; lines: LogLine[] } {
  const lines: LogLine[] = [];
  const stream = new Writable({
    write(chunk, _enc, done) {
      lines.push(JSON.parse(String(chunk)) as LogLine);
      done();
    },
  });
  return { logger: pino({ level }, stream), lines };
}
