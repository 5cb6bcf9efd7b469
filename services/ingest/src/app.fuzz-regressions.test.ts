/**
 * Inputs the fuzz suite (test/fuzz) found answered wrongly, kept as plain
 * cases so they stay fixed whatever the fuzzer draws next time.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startMemoryIngest, type MemoryIngest } from '@pulse/test-support/memory-ingest';

let ingest: MemoryIngest;
beforeAll(async () => {
  ingest = await startMemoryIngest();
});
afterAll(async () => {
  await ingest?.close();
});

describe('ingest, fuzz regressions', () => {
  it.each(['gzip', 'deflate', 'br'])('answers 400, not 500, for a %s body that does not decompress', async (encoding) => {
    const res = await fetch(`${ingest.url}/v1/events`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-ndjson', 'content-encoding': encoding },
      body: new Uint8Array([251, 53, 1]),
    });
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ accepted: 0, rejected: [], code: 'invalid_body', error: expect.stringMatching(/^request body is not valid: /) });
  });
});
