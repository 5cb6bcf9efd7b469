/**
 * Watches a response body go by and keeps the figures of docs/PROTOCOL.md §3 it
 * carries: when the first generated content came, how many content pieces
 * there were, the server's `usage`, an error type. It sees each chunk right
 * after the proxy handed it on, and never holds the body.
 */
import { JsonFieldCapture } from './json-fields.js';
import { errorType } from './openai-error.js';
import { SseDecoder } from './sse-decoder.js';
import { isObject, readUsage, type ObservedUsage } from './usage.js';

export interface ResponseFigures {
  /** `performance.now()` when the first chunk carrying generated content arrived (event streams only). */
  readonly firstContentAt?: number;
  /**
   * Event streams only: choices carrying generated content, over all chunks —
   * one token each, by OpenAI's streaming convention.
   */
  readonly contentPieces?: number;
  readonly usage: ObservedUsage | null;
  /** From an `error` object in the body or in a stream chunk. */
  readonly errorType?: string;
}

export interface ResponseObserver {
  /** `now` is `performance.now()` when the chunk arrived. */
  write(chunk: Buffer, now: number): void;
  figures(): ResponseFigures;
}

/** Picks the observer for a response's Content-Type; bodies of other types are not read. */
export function observeResponse(contentType: string | undefined): ResponseObserver {
  const type = contentType?.split(';', 1)[0]!.trim().toLowerCase() ?? '';
  if (type === 'text/event-stream') return new EventStreamObserver();
  if (type === 'application/json' || type.endsWith('+json')) return new JsonBodyObserver();
  return { write: () => {}, figures: () => ({ usage: null }) };
}

class EventStreamObserver implements ResponseObserver {
  private readonly decoder = new SseDecoder((data) => this.onData(data));
  private now = 0;
  private firstContentAt: number | undefined;
  private contentPieces = 0;
  private usage: ObservedUsage | null = null;
  private errorType: string | undefined;

  write(chunk: Buffer, now: number): void {
    this.now = now;
    this.decoder.write(chunk);
  }

  figures(): ResponseFigures {
    const { firstContentAt, contentPieces, usage, errorType } = this;
    return { firstContentAt, contentPieces, usage, errorType };
  }

  private onData(data: string): void {
    if (data === '[DONE]') return;
    let chunk: unknown;
    try {
      chunk = JSON.parse(data);
    } catch {
      return; // not an OpenAI chunk: forwarded all the same, just not counted
    }
    if (!isObject(chunk)) return;
    if (chunk.error !== undefined) this.errorType ??= errorType(chunk.error) ?? 'stream_error';
    // With include_usage every chunk carries `usage: null` and the last one the figures.
    if (isObject(chunk.usage)) this.usage = readUsage(chunk.usage);
    const pieces = generatedPieces(chunk.choices);
    if (pieces > 0) {
      this.contentPieces += pieces;
      this.firstContentAt ??= this.now;
    }
  }
}

class JsonBodyObserver implements ResponseObserver {
  private readonly capture = new JsonFieldCapture(['usage', 'error']);

  write(chunk: Buffer): void {
    this.capture.write(chunk);
  }

  figures(): ResponseFigures {
    const { usage, error } = this.capture.fields();
    return { usage: readUsage(usage), errorType: error === undefined ? undefined : errorType(error) };
  }
}

/**
 * Choices of a chunk that carry generated tokens: chat `delta.content`,
 * `delta.reasoning_content` or `delta.tool_calls`, completions `text`. The
 * role-only first chunk and the empty final one carry none.
 */
function generatedPieces(choices: unknown): number {
  if (!Array.isArray(choices)) return 0;
  let n = 0;
  for (const choice of choices) {
    if (!isObject(choice)) continue;
    const delta = choice.delta;
    const generated =
      nonEmpty(choice.text) ||
      (isObject(delta) &&
        (nonEmpty(delta.content) || nonEmpty(delta.reasoning_content) || (Array.isArray(delta.tool_calls) && delta.tool_calls.length > 0)));
    if (generated) n++;
  }
  return n;
}

function nonEmpty(v: unknown): boolean {
  return typeof v === 'string' && v !== '';
}
