import { describe, expect, it } from 'vitest';
import { SseDecoder } from './sse-decoder.js';

function decode(stream: string, cuts: number[] = [], maxLineBytes?: number): string[] {
  const out: string[] = [];
  const d = new SseDecoder((data) => out.push(data), maxLineBytes);
  const bytes = Buffer.from(stream);
  let from = 0;
  for (const cut of [...cuts, bytes.length]) {
    d.write(bytes.subarray(from, cut));
    from = cut;
  }
  return out;
}

const cases: [name: string, stream: string, expected: string[]][] = [
  ['LF', 'data: {"a":1}\n\ndata: [DONE]\n\n', ['{"a":1}', '[DONE]']],
  ['CRLF', 'data: {"a":1}\r\n\r\ndata: b\r\n\r\n', ['{"a":1}', 'b']],
  ['CR', 'data: a\r\rdata: b\r\r', ['a', 'b']],
  ['several data lines join with LF', 'data: a\ndata:b\ndata\n\n', ['a\nb\n']],
  ['comments, other fields and no-data events', ': keep-alive\n\nevent: x\nid: 1\nretry: 5\n\ndata: y\n\n', ['y']],
  ['only one leading space is stripped', 'data:  two\n\n', [' two']],
  ['field names are exact', 'database: no\ndata: yes\n\n', ['yes']],
  ['multi-byte text', 'data: {"content":"héllo ✓ 🎉"}\n\n', ['{"content":"héllo ✓ 🎉"}']],
  ['an unterminated event is not dispatched', 'data: a\n\ndata: b\n', ['a']],
];

describe('SseDecoder', () => {
  it.each(cases)('%s', (_name, stream, expected) => {
    expect(decode(stream)).toEqual(expected);
  });

  it.each(cases)('%s, cut at every byte', (_name, stream, expected) => {
    const length = Buffer.byteLength(stream);
    for (let cut = 1; cut < length; cut++) expect(decode(stream, [cut])).toEqual(expected);
    expect(decode(stream, Array.from({ length: length - 1 }, (_, i) => i + 1))).toEqual(expected);
  });

  it('drops a line over the limit and goes on with the next', () => {
    const long = `data: ${'x'.repeat(100)}\n\n`;
    expect(decode(`${long}data: ok\n\n`, [10, 50, 90], 64)).toEqual(['ok']);
  });
});
