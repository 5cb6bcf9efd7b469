/**
 * Every map of the in-flight tracker holds its stated bound, however long
 * the traffic runs and whatever producers send: requests (count and age),
 * ends seen before their starts (count and age) and nodes (count and silence).
 */
import { describe, expect, it } from 'vitest';
import { CellState } from './cell.js';
import { EARLY_END_MS, InFlightTracker, MAX_REQUEST_AGE_MS, NODE_SILENCE_MS, OTHER_NODE, requestKey } from './inflight.js';

const T0 = 1_700_000_000_000;
const limits = { maxRequests: 100, maxEarlyEnds: 50, maxNodes: 10 };

describe('InFlightTracker bounds', () => {
  it('tracks at most maxRequests: the oldest is forgotten and leaves the gauges', () => {
    const cell = new CellState('n', '/v1/chat/completions', 'gpt-4', 0);
    const t = new InFlightTracker(limits);
    for (let i = 0; i < 1000; i++) t.start('n1', requestKey('n1', `r${i}`), cell, true, T0 + i);
    expect(t.size).toBe(100);
    expect(cell.counts.queueDepth).toBe(100);
    expect(cell.counts.activeStreams).toBe(100);
    // The newest are the ones kept: ending one of them counts down, ending a forgotten one does not.
    expect(t.end('n1', requestKey('n1', 'r999'), T0 + 1000)).toBe(true);
    expect(t.end('n1', requestKey('n1', 'r0'), T0 + 1000)).toBeUndefined();
    expect(cell.counts.queueDepth).toBe(99);
  });

  it('forgets a request whose end never comes after MAX_REQUEST_AGE_MS', () => {
    const cell = new CellState('n', '/v1/completions', 'gpt-4', 0);
    const t = new InFlightTracker(limits);
    t.start('n1', requestKey('n1', 'lost'), cell, false, T0);
    // The node stays alive; only the request is abandoned.
    for (let at = T0; at <= T0 + MAX_REQUEST_AGE_MS + 10_000; at += 5_000) {
      t.seen('n1', at);
      t.sweep(at);
    }
    expect(t.size).toBe(0);
    expect(cell.counts.queueDepth).toBe(0);
  });

  it('remembers at most maxEarlyEnds ends before their starts, each for EARLY_END_MS', () => {
    const cell = new CellState('n', '/v1/completions', 'gpt-4', 0);
    const t = new InFlightTracker(limits);
    for (let i = 0; i < 500; i++) t.end('n1', requestKey('n1', `e${i}`), T0);
    expect(t.earlyEndCount).toBe(50);
    // A remembered early end keeps its late start from counting as in flight.
    t.start('n1', requestKey('n1', 'e3'), cell, false, T0 + 1);
    expect(cell.counts.queueDepth).toBe(0);
    t.seen('n1', T0 + EARLY_END_MS + 1);
    t.sweep(T0 + EARLY_END_MS + 1);
    expect(t.earlyEndCount).toBe(0);
  });

  it('tracks at most maxNodes: further names share one state, and every count still balances', () => {
    const cell = new CellState('n', '/v1/completions', 'gpt-4', 0);
    const t = new InFlightTracker(limits);
    for (let i = 0; i < 1000; i++) t.start(`node-${i}`, requestKey(`node-${i}`, 'r'), cell, true, T0);
    expect(t.nodeCount).toBe(11); // ten named, plus the shared one
    expect(t.size).toBe(100);
    for (let i = 0; i < 1000; i++) t.end(`node-${i}`, requestKey(`node-${i}`, 'r'), T0 + 1);
    expect(cell.counts.queueDepth).toBe(0);
    expect(cell.counts.activeStreams).toBe(0);
    // A gauge from a node beyond the cap lands in the shared state, not in a new one.
    t.gauge('node-5000', T0 + 2, 7, 3);
    expect(t.nodeCount).toBe(11);
    expect(t.adjustment(OTHER_NODE)).toEqual({ queueDepth: 7, activeStreams: 3 });
  });

  it('drops nodes silent for NODE_SILENCE_MS, and the requests they left in flight', () => {
    const cell = new CellState('n', '/v1/completions', 'gpt-4', 0);
    const t = new InFlightTracker(limits);
    t.start('quiet', requestKey('quiet', 'r1'), cell, true, T0);
    t.start('chatty', requestKey('chatty', 'r2'), cell, true, T0);
    t.seen('chatty', T0 + NODE_SILENCE_MS + 1);
    t.sweep(T0 + NODE_SILENCE_MS + 1);
    expect(t.nodeCount).toBe(1);
    expect(t.size).toBe(1);
    expect(cell.counts.activeStreams).toBe(1);
  });
});
