/**
 * Endpoint names are data: a row for `constructor` or `__proto__` has that
 * endpoint's figures where a map has them, and nothing where it does not —
 * never a member of Object read through the prototype.
 */
import { describe, expect, it } from 'vitest';
import type { ViewData } from '@pulse/protocol';
import { endpointRows } from './summary.js';

describe('endpointRows with prototype-like names', () => {
  it('reads only own entries of each map', () => {
    // As a client receives it: JSON text parsed, where `__proto__` is an own key like any other.
    const data = JSON.parse(`{
      "throughput": {"requests_per_sec": {"constructor": 2, "toString": 1}, "responses_per_sec": {}, "tokens_per_sec": {},
                     "total_requests_per_sec": 3, "total_responses_per_sec": 0, "total_tokens_per_sec": 0},
      "latency": {"__proto__": {"avg": 5, "min": 5, "max": 5, "p50": 5, "p90": 5, "p99": 5}},
      "error": {"errors_per_sec": {}, "total_errors_per_sec": 0},
      "cache": {"hit_rate": 0, "token_reuse_rate": 0, "avg_prefix_length": 0, "total_lookups": 0, "cache_hits": 0, "by_endpoint": {}}
    }`) as ViewData;
    const rows = endpointRows(data);
    expect(rows.map((r) => r.endpoint)).toEqual(['constructor', 'toString', '__proto__']);
    expect(rows[0]).toEqual({ endpoint: 'constructor', requestsPerSec: 2, responsesPerSec: undefined, tokensPerSec: undefined, errorsPerSec: undefined, p50: undefined, p90: undefined, p99: undefined, hitRate: undefined });
    expect(rows[2]).toMatchObject({ endpoint: '__proto__', requestsPerSec: undefined, p50: 5 });
  });
});
