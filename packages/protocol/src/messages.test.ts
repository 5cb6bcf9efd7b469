import { describe, expect, it } from 'vitest';
import { applySubscribe, defaultFilter, parseClientMessage, type SubscribeLimits } from './messages.js';

const TICK = 500;
const LIMITS: SubscribeLimits = { maxLabels: 5, maxLabelsPerSubscribe: 3, maxLabelLength: 8 };

describe('applySubscribe limits', () => {
  it('refuses a subscribe naming more labels than allowed at once, before looking at them', () => {
    const r = applySubscribe(defaultFilter(TICK), { endpoints: ['/a', '/b'], model: 'm', models: ['n'] }, TICK, LIMITS);
    expect(r).toEqual({ ok: false, error: 'filters: more than 3 endpoints, models and nodes in one subscribe', limit: 'labels_per_subscribe' });
  });

  it('refuses a subscribe that would give the client more labels in total', () => {
    const first = applySubscribe(defaultFilter(TICK), { endpoints: ['/a', '/b', '/c'] }, TICK, LIMITS);
    expect(first.ok).toBe(true);
    if (!first.ok) return;
    expect(applySubscribe(first.value, { models: ['m', 'n'] }, TICK, LIMITS).ok).toBe(true);
    const r = applySubscribe(first.value, { models: ['m', 'n', 'o'] }, TICK, LIMITS);
    expect(r).toMatchObject({ ok: false, limit: 'labels_per_client', error: expect.stringMatching(/more than 5 .* in total/) });
  });

  it('refuses a label over the length limit', () => {
    expect(applySubscribe(defaultFilter(TICK), { endpoint: '/123456789' }, TICK, LIMITS)).toEqual({
      ok: false,
      error: 'endpoint: longer than 8 characters',
      limit: 'string_length',
    });
  });

  it('names a malformed value without a limit', () => {
    const r = applySubscribe(defaultFilter(TICK), { endpoint: 42 }, TICK, LIMITS);
    expect(r).toEqual({ ok: false, error: 'endpoint: must be a string, got 42' });
  });

  it('answers a deeply nested value (a 64 KB frame of brackets) without overflowing the stack', () => {
    const depth = 32_000;
    const parsed = parseClientMessage(`{"type":"subscribe","filters":{"endpoint":${'['.repeat(depth)}${']'.repeat(depth)}}}`);
    expect(parsed.ok).toBe(true);
    if (!parsed.ok || parsed.value.type !== 'subscribe') return;
    expect(applySubscribe(defaultFilter(TICK), parsed.value.filters, TICK)).toEqual({ ok: false, error: 'endpoint: must be a string, got an array' });
    const interval = parseClientMessage(`{"type":"subscribe","filters":{"interval":${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}}}`);
    if (!interval.ok || interval.value.type !== 'subscribe') throw new Error('expected a subscribe');
    expect(applySubscribe(defaultFilter(TICK), interval.value.filters, TICK)).toMatchObject({ ok: false, error: expect.stringMatching(/got an object/) });
  });

  it('takes __proto__, constructor and toString as plain names', () => {
    const r = applySubscribe(defaultFilter(TICK), JSON.parse('{"endpoints":["__proto__","constructor"],"model":"toString"}'), TICK);
    expect(r.ok && [...r.value.endpoints]).toEqual(['__proto__', 'constructor']);
    expect(r.ok && [...r.value.models]).toEqual(['toString']);
    expect(applySubscribe(defaultFilter(TICK), JSON.parse('{"__proto__":{"endpoint":"x"}}'), TICK)).toMatchObject({
      ok: false,
      error: 'unknown filter key: "__proto__"',
    });
  });
});
