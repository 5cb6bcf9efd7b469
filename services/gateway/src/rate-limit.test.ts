import { describe, expect, it } from 'vitest';
import { MessageRateLimiter, type RateVerdict } from './rate-limit.js';

/** Verdicts of messages sent at the given times (ms) to a 10/s limiter created at 0. */
function verdicts(times: number[]): RateVerdict[] {
  const limiter = new MessageRateLimiter(10, 0);
  return times.map((t) => limiter.take(t));
}

const burst = (n: number, at = 0) => Array.from({ length: n }, () => at);

describe('MessageRateLimiter', () => {
  it.each([
    { what: 'a burst of the rate is accepted', times: burst(10), expected: Array(10).fill('accept') },
    { what: 'one more is rejected (told once)', times: burst(11), expected: [...Array(10).fill('accept'), 'reject'] },
    { what: 'further drops in the same second are silent', times: burst(13), expected: [...Array(10).fill('accept'), 'reject', 'drop', 'drop'] },
    { what: 'tokens refill at the rate', times: [...burst(10), 100, 150], expected: [...Array(10).fill('accept'), 'accept', 'reject'] },
    { what: 'a steady pace at the rate is always accepted', times: Array.from({ length: 50 }, (_, i) => i * 100), expected: Array(50).fill('accept') },
  ])('$what', ({ times, expected }) => {
    expect(verdicts(times)).toEqual(expected);
  });

  it('calls a flood more drops within a second than the rate', () => {
    const v = verdicts(burst(21));
    expect(v.slice(0, 20)).not.toContain('flood');
    expect(v[20]).toBe('flood');
  });

  it('tells the client again in the next second', () => {
    const v = verdicts([...burst(11), 1000, ...burst(10, 1000)]);
    expect(v.filter((x) => x === 'reject')).toHaveLength(2);
  });

  it('does not call twice the rate for a short moment a flood', () => {
    // 20/s for 0.9 s: 18 messages on top of a full bucket of 10.
    const v = verdicts(Array.from({ length: 18 }, (_, i) => i * 50));
    expect(v).not.toContain('flood');
  });
});
