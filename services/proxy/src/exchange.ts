/**
 * One proxied request as Pulse records it: identity and timing, the fields
 * read from its body, and the request.start / request.end events they make
 * (docs/PROTOCOL.md §3). Each event is emitted once, and the start always first, so
 * the two land in the stream in order.
 */
import { randomUUID } from 'node:crypto';
import type { PulseEvent, RequestEnd, RequestStart } from '@pulse/protocol';
import type { ResponseFigures } from './response-observer.js';
import { requestPath } from './routes.js';

/** `model` of a recorded request whose body names none (not JSON, compressed, no `model` field). */
export const UNKNOWN_MODEL = 'unknown';

/** Label limits of the event schema: longer values are cut, never rejected. */
export const MAX_ENDPOINT = 256;
const MAX_MODEL = 256;

export interface Outcome {
  /** The HTTP status the caller got (499 when it hung up before any). */
  readonly status: number;
  /** Why the proxy ended the request, if it did (a ProxyFailure). */
  readonly failure?: string;
  readonly figures?: ResponseFigures;
  /** `performance.now()` of the last byte sent, or of the failure. */
  readonly at: number;
}

export class Exchange {
  readonly requestId = randomUUID();
  /** `performance.now()` at arrival: durations are taken on the monotonic clock. */
  readonly arrivedAt = performance.now();
  private readonly endpoint: string;
  private model = UNKNOWN_MODEL;
  private stream = false;
  private started = false;
  private ended = false;

  constructor(
    private readonly emit: (event: PulseEvent) => void,
    private readonly node: string,
    /** The request target: the endpoint is its path, without the query. */
    target: string,
  ) {
    this.endpoint = requestPath(target).slice(0, MAX_ENDPOINT) || '/';
  }

  /** Takes `model` and `stream` from the request body's top-level fields. */
  describe(fields: Record<string, unknown>): void {
    if (typeof fields.model === 'string' && fields.model !== '') this.model = fields.model.slice(0, MAX_MODEL);
    this.stream = fields.stream === true;
  }

  start(): void {
    if (this.started) return;
    this.started = true;
    const event: RequestStart = { type: 'request.start', ts: epochSeconds(this.arrivedAt), ...this.labels() };
    this.emit(event);
  }

  end({ status, failure, figures, at }: Outcome): void {
    if (this.ended) return;
    this.start();
    this.ended = true;
    const event: RequestEnd = {
      type: 'request.end',
      ts: epochSeconds(at),
      ...this.labels(),
      status,
      latency_ms: ms(at - this.arrivedAt),
    };
    const error = failure ?? figures?.errorType ?? (status >= 400 ? `http_${status}` : undefined);
    if (error !== undefined) event.error = error;
    if (figures?.firstContentAt !== undefined) event.ttft_ms = ms(figures.firstContentAt - this.arrivedAt);
    const usage = figures?.usage;
    if (usage?.promptTokens !== undefined) event.prompt_tokens = usage.promptTokens;
    if (usage?.completionTokens !== undefined) {
      event.completion_tokens = usage.completionTokens;
    } else if (figures?.contentPieces !== undefined) {
      event.completion_tokens = figures.contentPieces;
      event.tokens_estimated = true;
    }
    if (usage?.cachedTokens !== undefined) {
      // Servers cache prompt prefixes (OpenAI, vLLM), so the cached tokens are the matched prefix.
      const cached = usage.cachedTokens;
      event.cache = { hit: cached > 0, cached_tokens: cached, prefix_length: cached };
    }
    this.emit(event);
  }

  private labels() {
    return { node: this.node, request_id: this.requestId, endpoint: this.endpoint, model: this.model, stream: this.stream };
  }
}

function epochSeconds(monotonic: number): number {
  return (performance.timeOrigin + monotonic) / 1000;
}

/** Milliseconds to the microsecond: finer digits are timer noise. */
function ms(duration: number): number {
  return Math.round(Math.max(0, duration) * 1000) / 1000;
}
