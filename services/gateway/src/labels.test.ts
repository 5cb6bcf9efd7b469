import { describe, expect, it } from 'vitest';
import { labelsBody } from './labels.js';
import { cell, snapshot } from '@pulse/test-support/gateway';

describe('labelsBody', () => {
  it('lists the endpoints, models and nodes with requests in the window or in flight, sorted', () => {
    const s = snapshot(7, [
      cell('/v1/embeddings', 'gpt-4', { node: 'fakeai-2', requests: 2 }),
      cell('/v1/chat/completions', 'llama', { node: 'fakeai-1', responses: 1 }),
      cell('/v1/chat/completions', 'mistral', { node: 'fakeai-2', queueDepth: 1 }),
      // Only since-creation totals left: it fell out of the window.
      cell('/v1/old', 'retired', { node: 'fakeai-gone', completedStreams: 9 }),
    ]);
    expect(JSON.parse(labelsBody(s, 123))).toEqual({
      timestamp: s.builtAt,
      endpoints: ['/v1/chat/completions', '/v1/embeddings'],
      models: ['gpt-4', 'llama', 'mistral'],
      nodes: ['fakeai-1', 'fakeai-2'],
    });
  });

  it('is empty, timestamped now, before any snapshot', () => {
    expect(JSON.parse(labelsBody(null, 123))).toEqual({ timestamp: 123, endpoints: [], models: [], nodes: [] });
  });
});
