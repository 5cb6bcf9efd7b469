/**
 * Turns a parsed request body into a batch: the valid events, to append in
 * one call, and a rejection per invalid one, by its position in the request.
 */
import { checkEvent, ErrorCode, PulseError, type PulseEvent } from '@pulse/protocol';
import { overlongField } from './string-limit.js';

/** docs/PROTOCOL.md §3's longest string field: no limit beyond the schemas'. */
const PROTOCOL_MAX_STRING = 256;

/** What a 202 says, and a 400 besides its error. */
export interface BatchReply {
  readonly accepted: number;
  readonly rejected: readonly Rejection[];
}

export interface Rejection {
  readonly index: number;
  readonly error: string;
}

export class Batch {
  readonly events: PulseEvent[] = [];
  readonly rejected: Rejection[] = [];
  private count = 0;
  /** Events rejected for a string over `maxString` (a self-metric). */
  overlong = 0;

  constructor(
    private readonly maxEvents: number,
    private readonly maxString = PROTOCOL_MAX_STRING,
  ) {}

  /** Number of events seen, valid or not. */
  get size(): number {
    return this.count;
  }

  add(item: unknown): void {
    const index = this.next();
    const checked = checkEvent(item);
    if (!checked.ok) {
      this.rejected.push({ index, error: checked.error });
      return;
    }
    const overlong = this.maxString < PROTOCOL_MAX_STRING ? overlongField(checked.event, this.maxString) : null;
    if (overlong === null) {
      this.events.push(checked.event);
    } else {
      this.overlong++;
      this.rejected.push({ index, error: overlong });
    }
  }

  reject(error: string): void {
    this.rejected.push({ index: this.next(), error });
  }

  /** The 202 (or 400) body of docs/PROTOCOL.md §3. */
  reply(): BatchReply {
    return { accepted: this.events.length, rejected: this.rejected };
  }

  private next(): number {
    if (this.count >= this.maxEvents) throw tooManyEvents(this.maxEvents);
    return this.count++;
  }
}

function tooManyEvents(max: number): PulseError {
  return new PulseError(ErrorCode.TOO_MANY_EVENTS, `more than ${max} events in one request; split the batch`);
}

/** `application/json`: one event, an array of events, or `{"events": [...]}`. */
export function batchFromJson(body: unknown, maxEvents: number, maxString?: number): Batch {
  let items: unknown = body;
  if (typeof body === 'object' && body !== null && !Array.isArray(body) && Object.hasOwn(body, 'events')) {
    items = (body as { events: unknown }).events;
    if (!Array.isArray(items)) throw new PulseError(ErrorCode.INVALID_BODY, 'events: must be an array');
  }
  const list = Array.isArray(items) ? items : [items];
  // Checked before validating anything: an oversized batch costs no validation work.
  if (list.length > maxEvents) throw tooManyEvents(maxEvents);
  const batch = new Batch(maxEvents, maxString);
  for (const item of list) batch.add(item);
  return batch;
}

const NON_BLANK = /\S/;

/**
 * `application/x-ndjson`: one event per line; blank lines are skipped and do
 * not count as events. A line that is not JSON is rejected on its own.
 */
export function batchFromNdjson(text: string, maxEvents: number, maxString?: number): Batch {
  const batch = new Batch(maxEvents, maxString);
  let line = 0;
  for (let start = 0; start <= text.length; ) {
    let end = text.indexOf('\n', start);
    if (end < 0) end = text.length;
    const raw = text.slice(start, end);
    start = end + 1;
    line++;
    if (!NON_BLANK.test(raw)) continue;
    let parsed: unknown;
    try {
      parsed = JSON.parse(raw);
    } catch (err) {
      batch.reject(`line ${line}: not valid JSON (${(err as Error).message})`);
      continue;
    }
    batch.add(parsed);
  }
  return batch;
}
