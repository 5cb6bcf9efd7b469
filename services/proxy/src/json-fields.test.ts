import { describe, expect, it } from 'vitest';
import { JsonFieldCapture } from './json-fields.js';

/** Feeds `text` in pieces cut at `cuts` and returns the captured fields. */
function capture(text: string, keys: string[], cuts: number[] = [], maxValueBytes?: number) {
  const bytes = Buffer.from(text);
  const c = new JsonFieldCapture(keys, maxValueBytes);
  let from = 0;
  for (const cut of [...cuts, bytes.length]) {
    c.write(bytes.subarray(from, cut));
    from = cut;
  }
  return { fields: c.fields(), done: c.done };
}

const cases: [name: string, doc: string, keys: string[], expected: Record<string, unknown>][] = [
  ['scalars', '{"model":"gpt-4","stream":true}', ['model', 'stream'], { model: 'gpt-4', stream: true }],
  ['whitespace and a BOM', '\uFEFF \n{ "model" : "m" ,\t"stream" : false }', ['model', 'stream'], { model: 'm', stream: false }],
  [
    'nested keys of the same name are not top-level',
    '{"messages":[{"model":"inner","content":"x"}],"meta":{"stream":true},"model":"outer"}',
    ['model', 'stream'],
    { model: 'outer' },
  ],
  [
    'strings that look like structure',
    '{"messages":[{"content":"a \\"model\\": \\"fake\\", } ] { \\\\"}],"model":"real"}',
    ['model'],
    { model: 'real' },
  ],
  ['objects as values', '{"usage":{"prompt_tokens":3,"prompt_tokens_details":{"cached_tokens":2}},"id":"x"}', ['usage'], { usage: { prompt_tokens: 3, prompt_tokens_details: { cached_tokens: 2 } } }],
  ['the value that ends the object', '{"id":"x","usage":{"a":[1,2]}}', ['usage'], { usage: { a: [1, 2] } }],
  ['multi-byte text around the fields', '{"messages":[{"content":"héllo wörld ✓ 🎉"}],"model":"modèle-✓"}', ['model'], { model: 'modèle-✓' }],
  ['escaped unicode in a value', '{"model":"a\\u00e9b"}', ['model'], { model: 'aéb' }],
  ['first occurrence wins', '{"model":"a","model":"b"}', ['model'], { model: 'a' }],
  ['not an object', '[{"model":"x"}]', ['model'], {}],
  ['not JSON', 'model=x', ['model'], {}],
  ['absent key', '{"stream":true}', ['model', 'stream'], { stream: true }],
  ['a truncated document', '{"model":"gpt', ['model'], {}],
];

describe('JsonFieldCapture', () => {
  it.each(cases)('%s, in one chunk', (_name, doc, keys, expected) => {
    expect(capture(doc, keys).fields).toEqual(expected);
  });

  it.each(cases)('%s, cut at every byte', (_name, doc, keys, expected) => {
    const length = Buffer.byteLength(doc);
    for (let cut = 1; cut < length; cut++) expect(capture(doc, keys, [cut]).fields).toEqual(expected);
    expect(capture(doc, keys, Array.from({ length: length - 1 }, (_, i) => i + 1)).fields).toEqual(expected);
  });

  it('is done once every key is found, without reading further', () => {
    const c = new JsonFieldCapture(['model']);
    c.write(Buffer.from('{"model":"m",'));
    expect(c.done).toBe(true);
    c.write(Buffer.from('"this is not even json'));
    expect(c.fields()).toEqual({ model: 'm' });
  });

  it('forgets a value over the size limit and keeps the others', () => {
    const doc = `{"usage":{"pad":"${'x'.repeat(100)}"},"error":{"type":"t"}}`;
    expect(capture(doc, ['usage', 'error'], [30, 60], 50).fields).toEqual({ error: { type: 't' } });
  });

  it('finds a field after megabytes of strings full of escapes, in linear time', () => {
    const content = 'line\\n\\"quoted\\" '.repeat(300_000); // ~5 MB
    const doc = `{"messages":[{"role":"user","content":"${content}"}],"stream":true,"model":"late"}`;
    const cuts = Array.from({ length: Math.floor(doc.length / 65_536) }, (_, i) => (i + 1) * 65_536);
    const started = performance.now();
    expect(capture(doc, ['model', 'stream'], cuts).fields).toEqual({ model: 'late', stream: true });
    expect(performance.now() - started).toBeLessThan(1000);
  });
});
