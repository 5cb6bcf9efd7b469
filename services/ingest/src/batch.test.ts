import { describe, expect, it } from 'vitest';
import { PulseError } from '@pulse/protocol';
import { batchFromJson, batchFromNdjson } from './batch.js';

const gauge = (depth: number) => ({ type: 'node.gauge', ts: 1_700_000_000, node: 'n1', queue_depth: depth });

describe('batchFromJson', () => {
  it.each([
    ['one event', gauge(1), 1, []],
    ['an array', [gauge(1), gauge(2)], 2, []],
    ['an envelope', { events: [gauge(1), { type: 'x' }] }, 1, [1]],
    ['a lone string', 'hello', 0, [0]],
    ['null', null, 0, [0]],
    ['an empty array', [], 0, []],
  ])('%s', (_name, body, accepted, rejectedIndexes) => {
    const batch = batchFromJson(body, 10);
    expect(batch.reply().accepted).toBe(accepted);
    expect(batch.rejected.map((r) => r.index)).toEqual(rejectedIndexes);
  });

  it('refuses an envelope whose events are not an array', () => {
    expect(() => batchFromJson({ events: {} }, 10)).toThrow(/events: must be an array/);
  });

  it('refuses more events than the limit before validating any', () => {
    const error = (() => {
      try {
        batchFromJson([1, 2, 3], 2);
      } catch (err) {
        return err;
      }
    })();
    expect(error).toBeInstanceOf(PulseError);
    expect((error as PulseError).status).toBe(413);
  });
});

describe('batchFromNdjson', () => {
  it.each([
    ['LF', `${JSON.stringify(gauge(1))}\n${JSON.stringify(gauge(2))}`, 2, []],
    ['CRLF with a trailing newline', `${JSON.stringify(gauge(1))}\r\n${JSON.stringify(gauge(2))}\r\n`, 2, []],
    ['blank lines between', `\n${JSON.stringify(gauge(1))}\n \t\n${JSON.stringify(gauge(2))}\n\n`, 2, []],
    ['a broken line', `${JSON.stringify(gauge(1))}\n{oops\n${JSON.stringify(gauge(2))}`, 2, [1]],
    ['nothing', '', 0, []],
  ])('%s', (_name, text, accepted, rejectedIndexes) => {
    const batch = batchFromNdjson(text, 10);
    expect(batch.events).toHaveLength(accepted);
    expect(batch.rejected.map((r) => r.index)).toEqual(rejectedIndexes);
  });

  it('names the line of a broken one, counting blank lines', () => {
    const batch = batchFromNdjson(`\n\n{oops`, 10);
    expect(batch.rejected[0]!.error).toMatch(/^line 3: not valid JSON/);
  });

  it('counts broken lines against the limit but not blank ones', () => {
    expect(() => batchFromNdjson('{a\n{b\n{c', 2)).toThrow(/more than 2 events/);
    expect(batchFromNdjson(`\n\n\n${JSON.stringify(gauge(1))}\n\n`, 1).events).toHaveLength(1);
  });
});
