/**
 * Reads an OpenAI `usage` object as the server reported it: in a JSON
 * response body, or in the final chunk of a stream whose caller asked
 * `stream_options.include_usage`. Fields that are not counts are ignored.
 */

export interface ObservedUsage {
  readonly promptTokens?: number;
  readonly completionTokens?: number;
  /** `usage.prompt_tokens_details.cached_tokens`: prompt tokens served from the server's cache. */
  readonly cachedTokens?: number;
}

export function readUsage(value: unknown): ObservedUsage | null {
  if (!isObject(value)) return null;
  const details = value.prompt_tokens_details;
  return {
    promptTokens: count(value.prompt_tokens),
    completionTokens: count(value.completion_tokens),
    cachedTokens: isObject(details) ? count(details.cached_tokens) : undefined,
  };
}

function count(v: unknown): number | undefined {
  return Number.isSafeInteger(v) && (v as number) >= 0 ? (v as number) : undefined;
}

export function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
