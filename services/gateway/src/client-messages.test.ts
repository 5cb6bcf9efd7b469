import { describe, expect, it } from 'vitest';
import { handleClientFrame } from './client-messages.js';
import { ClientSession } from './client-session.js';

const AT = { nowMs: 5000, timestamp: 1_700_000_000.25 };

function session(): ClientSession {
  return new ClientSession({ bufferedAmount: 0, sendFrame: () => {} }, 'test', 500, 0, {
    totalRequestsPerSec: 0,
    totalTokensPerSec: 0,
    activeStreams: 0,
  });
}

function reply(s: ClientSession, frame: string | Buffer, isBinary = false) {
  return JSON.parse(handleClientFrame(s, Buffer.isBuffer(frame) ? frame : Buffer.from(frame), isBinary, AT));
}

describe('handleClientFrame errors', () => {
  it.each([
    { what: 'invalid JSON', frame: '{"type": "sub', message: /Invalid JSON/ },
    { what: 'a JSON array', frame: '[1,2]', message: /must be a JSON object/ },
    { what: 'a JSON string', frame: '"subscribe"', message: /must be a JSON object/ },
    { what: 'null', frame: 'null', message: /must be a JSON object/ },
    { what: 'an unknown type', frame: '{"type":"explode"}', message: /Unknown message type: "explode"/ },
    { what: 'a missing type', frame: '{}', message: /Unknown message type/ },
    { what: 'filters not an object', frame: '{"type":"subscribe","filters":[1]}', message: /filters/ },
    { what: 'an unknown metric_type', frame: '{"type":"subscribe","filters":{"metric_type":"bogus"}}', message: /metric_type.*"bogus"/ },
    { what: 'a zero interval', frame: '{"type":"subscribe","filters":{"interval":0}}', message: /interval.*0/ },
    { what: 'a negative interval', frame: '{"type":"subscribe","filters":{"interval":-1}}', message: /interval.*-1/ },
    { what: 'a string interval', frame: '{"type":"subscribe","filters":{"interval":"1"}}', message: /interval.*"1"/ },
    { what: 'an unknown filter key', frame: '{"type":"subscribe","filters":{"colour":"red"}}', message: /unknown filter key: "colour"/ },
    { what: 'a non-string endpoint', frame: '{"type":"subscribe","filters":{"endpoint":42}}', message: /endpoint.*42/ },
    { what: 'a non-string model', frame: '{"type":"subscribe","filters":{"model":{"a":1}}}', message: /model/ },
    { what: 'endpoints not an array', frame: '{"type":"subscribe","filters":{"endpoints":"/a"}}', message: /endpoints/ },
  ])('answers $what with an error naming it, changing nothing', ({ frame, message }) => {
    const s = session();
    s.subscribe({ endpoint: '/kept', interval: 2 }, 0);
    const before = s.filter;
    const r = reply(s, frame);
    expect(r.type).toBe('error');
    expect(r.timestamp).toBe(AT.timestamp);
    expect(r.message).toMatch(message);
    expect(s.filter).toBe(before);
  });

  it('answers a binary frame with an error', () => {
    const r = reply(session(), Buffer.from('{"type":"ping"}'), true);
    expect(r).toMatchObject({ type: 'error', message: expect.stringMatching(/binary/) });
  });
});

describe('handleClientFrame replies', () => {
  it('echoes the effective filters on subscribe, interval rounded up to the tick', () => {
    const s = session();
    reply(s, '{"type":"subscribe","filters":{"endpoint":"/b","metric_type":"latency"}}');
    const r = reply(s, '{"type":"subscribe","filters":{"endpoints":["/a"],"model":"gpt-4","metric_type":"cache","interval":0.7}}');
    expect(r).toEqual({
      type: 'subscribed',
      timestamp: AT.timestamp,
      filters: { endpoints: ['/a', '/b'], models: ['gpt-4'], nodes: [], metric_types: ['latency', 'cache'], interval: 1 },
    });
  });

  it.each([
    { interval: 0.001, echoed: 0.5 },
    { interval: 0.5, echoed: 0.5 },
    { interval: 1.2, echoed: 1.5 },
    { interval: 1e9, echoed: 3600 },
  ])('rounds interval $interval to $echoed at a 500 ms tick', ({ interval, echoed }) => {
    const r = reply(session(), JSON.stringify({ type: 'subscribe', filters: { interval } }));
    expect(r.filters.interval).toBe(echoed);
  });

  it('accepts a subscribe without filters and echoes the defaults', () => {
    expect(reply(session(), '{"type":"subscribe"}').filters).toEqual({ endpoints: [], models: [], nodes: [], metric_types: ['all'], interval: 1 });
  });

  it('answers unsubscribe and resets every filter', () => {
    const s = session();
    reply(s, '{"type":"subscribe","filters":{"endpoint":"/a","interval":5}}');
    expect(reply(s, '{"type":"unsubscribe"}')).toEqual({ type: 'unsubscribed', timestamp: AT.timestamp });
    expect(reply(s, '{"type":"subscribe"}').filters).toEqual({ endpoints: [], models: [], nodes: [], metric_types: ['all'], interval: 1 });
  });

  it('answers ping with pong', () => {
    expect(reply(session(), '{"type":"ping"}')).toEqual({ type: 'pong', timestamp: AT.timestamp });
  });
});
