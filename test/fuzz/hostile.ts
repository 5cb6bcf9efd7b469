/**
 * fast-check generators of what an attacker or a broken producer sends:
 * random bytes, invalid UTF-8, deep nesting, huge numbers, NaN/Infinity
 * spellings, prototype keys, 1 MB strings, and valid events with one field
 * replaced by any of those. Shared by the ingest, gateway and all-in-one
 * fuzz suites. Labels never start with `fuzz-good`: the well-formed traffic
 * sent alongside owns that prefix, so its figures can be checked exactly.
 */
import fc from 'fast-check';

const MB = 1024 * 1024;
const text = (s: string): Uint8Array => new TextEncoder().encode(s);

/** Bytes that are not UTF-8: lone continuation bytes, truncated sequences, overlong forms, surrogates, 0xFE/0xFF. */
export const invalidUtf8 = fc
  .array(fc.constantFrom([0x80], [0xc3], [0xc0, 0xaf], [0xe0, 0x80, 0xaf], [0xed, 0xa0, 0x80], [0xf8, 0x88, 0x80, 0x80, 0x80], [0xfe], [0xff]), {
    minLength: 1,
    maxLength: 8,
  })
  .chain((bad) =>
    fc.tuple(fc.string({ maxLength: 40 }), fc.string({ maxLength: 40 })).map(([a, b]) => {
      const middle = bad.flat();
      return new Uint8Array([...text(`{"type":"request.start","node":"${a}`), ...middle, ...text(`${b}"}`)]);
    }),
  );

/** Arrays or objects nested up to 100 000 deep: recursive parsers and printers overflow their stack. */
export const deepNesting = fc
  .record({ depth: fc.integer({ min: 500, max: 100_000 }), object: fc.boolean(), closed: fc.boolean() })
  .map(({ depth, object, closed }) => {
    const open = object ? '{"a":'.repeat(depth) : '['.repeat(depth);
    const close = closed ? (object ? '}' : ']').repeat(depth) : '';
    return `${open}1${close}`;
  });

/** Numbers JSON can spell but a double cannot hold, and spellings of NaN and Infinity JSON does not have. */
export const oddNumber = fc.constantFrom(
  '1e400', '-1e400', '1e-400', '-0', '123456789012345678901234567890', '9007199254740993', '0.1e999999999',
  'NaN', '-NaN', 'Infinity', '-Infinity', '"NaN"', '"Infinity"', '1e309', '0x10', '01', '.5', '+1', '1.', 'null',
);

/** Keys that reach a prototype when assigned on a plain object. */
export const prototypeKey = fc.constantFrom('__proto__', 'constructor', 'prototype', 'toString', 'hasOwnProperty', 'valueOf', '__defineGetter__');

/** A label no well-formed fuzz traffic uses: random, prototype-like, over the limit, or markup and control codes. */
export const label = fc
  .oneof(
    { arbitrary: fc.string({ maxLength: 30 }), weight: 8 },
    { arbitrary: prototypeKey, weight: 3 },
    { arbitrary: fc.constantFrom('é'.repeat(300), '\u0000\u001b[31m\r\n{"level":"fatal"}', '<script>alert(1)</script>', '\ud800'), weight: 1 },
  )
  .filter((s) => !s.startsWith('fuzz-good'));

/** One megabyte string in an otherwise plausible event, or a body over the 5 MB limit. */
export const megabyteBody = fc
  .record({ field: fc.constantFrom('endpoint', 'model', 'node', 'error', 'unknown_field'), mb: fc.constantFrom(1, 1, 6) })
  .map(({ field, mb }) => text(`{"type":"request.start","ts":1700000000,"node":"n","request_id":"r","model":"m","endpoint":"e","${field}":"${'x'.repeat(mb * MB)}"}`));

const validEvent = fc.record({
  type: fc.constantFrom('request.start', 'request.end', 'node.gauge'),
  ts: fc.double({ min: 1_600_000_000, max: 1_900_000_000, noNaN: true }),
  node: label,
  request_id: fc.string({ minLength: 1, maxLength: 20 }),
  endpoint: label,
  model: label,
  stream: fc.boolean(),
  status: fc.integer({ min: 100, max: 599 }),
  latency_ms: fc.double({ min: 0, max: 1e6, noNaN: true }),
  queue_depth: fc.nat(),
});

/** A JSON text of an event (maybe valid) with one field replaced by something hostile. */
export const mutatedEvent = fc
  .record({
    event: validEvent,
    field: fc.constantFrom('type', 'ts', 'node', 'endpoint', 'model', 'status', 'latency_ms', 'cache', 'stream', 'queue_depth', '__proto__', 'constructor'),
    value: fc.oneof(oddNumber, deepNesting, fc.jsonValue().map((v) => JSON.stringify(v)), prototypeKey.map((k) => `{"${k}":{"polluted":true}}`)),
  })
  .map(({ event, field, value }) => {
    const json = JSON.stringify(event);
    return `${json.slice(0, -1)},"${field}":${value}}`;
  });

/** Anything a body can be, as bytes; JSON-ish most of the time so the parser is passed and validation reached. */
export const hostileBody: fc.Arbitrary<Uint8Array> = fc.oneof(
  { arbitrary: fc.uint8Array({ maxLength: 512 }), weight: 2 },
  { arbitrary: invalidUtf8, weight: 2 },
  { arbitrary: deepNesting.map(text), weight: 2 },
  { arbitrary: oddNumber.map(text), weight: 1 },
  { arbitrary: mutatedEvent.map(text), weight: 4 },
  { arbitrary: fc.array(mutatedEvent, { minLength: 1, maxLength: 20 }).map((events) => text(`[${events.join(',')}]`)), weight: 3 },
  { arbitrary: fc.array(mutatedEvent, { maxLength: 20 }).map((events) => text(`{"events":[${events.join(',')}]}`)), weight: 2 },
  { arbitrary: fc.array(fc.oneof(mutatedEvent, fc.string()), { maxLength: 20 }).map((lines) => text(lines.join('\n'))), weight: 2 },
  { arbitrary: prototypeKey.map((k) => text(`{"${k}":{"polluted":true},"events":[{"${k}":{"polluted":true}}]}`)), weight: 1 },
  { arbitrary: fc.jsonValue().map((v) => text(JSON.stringify(v))), weight: 2 },
  { arbitrary: megabyteBody, weight: 1 },
);

/** Content types ingest knows, variants of them, and others. */
export const contentType = fc.constantFrom(
  'application/json', 'application/x-ndjson', 'application/json; charset=utf-8', 'application/json; charset=utf-16',
  'application/json; charset=latin1', 'APPLICATION/JSON', 'text/plain', 'application/xml', 'multipart/form-data; boundary=x', '',
);

/** Header values that fetch can send: visible ASCII and spaces. */
export const headerValue = fc.string({ unit: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)), maxLength: 300 });

/** What a WebSocket client can send in one frame. */
export type Frame =
  | { kind: 'text'; data: string }
  | { kind: 'binary'; data: Uint8Array }
  /** Bytes sent as a text frame without validation: invalid UTF-8 among them. */
  | { kind: 'raw-text'; data: Uint8Array };

const filterKey = fc.oneof(
  fc.constantFrom('endpoint', 'endpoints', 'model', 'models', 'metric_type', 'metric_types', 'interval'),
  prototypeKey,
  fc.string({ maxLength: 12 }),
);

/** A JSON text of a filter value: labels, lists, odd numbers, nesting up to what 64 KB can hold. */
const filterValue = fc.oneof(
  label.map((l) => JSON.stringify(l)),
  fc.array(label, { maxLength: 300 }).map((l) => JSON.stringify(l)),
  fc.constantFrom('"all"', '["latency","bogus"]', '"throughput"', '0', '-1', '0.0001', '3600.5', '1e300'),
  oddNumber,
  fc.integer({ min: 100, max: 30_000 }).map((d) => `${'['.repeat(d)}"x"${']'.repeat(d)}`),
  fc.integer({ min: 100, max: 12_000 }).map((d) => `${'{"a":'.repeat(d)}1${'}'.repeat(d)}`),
  fc.jsonValue({ maxDepth: 4 }).map((v) => JSON.stringify(v)),
);

const subscribe = fc
  .dictionary(filterKey, filterValue, { maxKeys: 5 })
  .map((filters) => `{"type":"subscribe","filters":{${Object.entries(filters).map(([k, v]) => `${JSON.stringify(k)}:${v}`).join(',')}}}`);

export const frame: fc.Arbitrary<Frame> = fc.oneof(
  { arbitrary: subscribe.map((data) => ({ kind: 'text' as const, data })), weight: 6 },
  { arbitrary: fc.constantFrom('{"type":"ping"}', '{"type":"unsubscribe"}', '{"type":"subscribe"}').map((data) => ({ kind: 'text' as const, data })), weight: 2 },
  { arbitrary: fc.string({ maxLength: 200 }).map((data) => ({ kind: 'text' as const, data })), weight: 2 },
  { arbitrary: fc.jsonValue().map((v) => ({ kind: 'text' as const, data: JSON.stringify(v) ?? 'null' })), weight: 2 },
  { arbitrary: oddNumber.map((data) => ({ kind: 'text' as const, data })), weight: 1 },
  { arbitrary: prototypeKey.map((k) => ({ kind: 'text' as const, data: `{"${k}":{"type":"ping"},"type":"subscribe","filters":{"${k}":{"polluted":true}}}` })), weight: 1 },
  { arbitrary: fc.uint8Array({ maxLength: 256 }).map((data) => ({ kind: 'binary' as const, data })), weight: 1 },
  { arbitrary: invalidUtf8.map((data) => ({ kind: 'raw-text' as const, data })), weight: 1 },
  { arbitrary: fc.constantFrom(70 * 1024, 1024 * 1024).map((n) => ({ kind: 'text' as const, data: `{"type":"ping","pad":"${'x'.repeat(n)}"}` })), weight: 1 },
);

/** Some frames, or a flood: far more than the per-client message rate. */
export const frameSequence = fc.oneof(
  { arbitrary: fc.array(frame, { minLength: 1, maxLength: 20 }), weight: 9 },
  { arbitrary: fc.integer({ min: 150, max: 400 }).map((n) => Array.from({ length: n }, (): Frame => ({ kind: 'text', data: '{"type":"ping"}' }))), weight: 1 },
);
