import { describe, expect, it } from 'vitest';
import { DEFAULT_SLO_TARGETS } from '@pulse/client';
import { parseCommand, streamUrl } from './args.js';

describe('parseCommand', () => {
  it('parses watch with every filter', () => {
    expect(
      parseCommand(['watch', 'ws://h:8000/metrics/stream', '--endpoint', '/a', '--endpoint', '/b', '--model', 'm', '--node', 'fakeai-1', '--node', 'fakeai-2', '--metric', 'latency', '--interval', '0.5', '--json', '--count', '3']),
    ).toEqual({
      kind: 'watch',
      url: 'ws://h:8000/metrics/stream',
      filters: { endpoints: ['/a', '/b'], models: ['m'], nodes: ['fakeai-1', 'fakeai-2'], metric_types: ['latency'], interval: 0.5 },
      json: true,
      sloTargets: DEFAULT_SLO_TARGETS,
      count: 3,
    });
  });

  it('needs no filters', () => {
    expect(parseCommand(['watch', 'localhost:8000'])).toEqual({ kind: 'watch', url: 'ws://localhost:8000/metrics/stream', filters: {}, json: false, sloTargets: DEFAULT_SLO_TARGETS });
  });

  it('reads SLO targets, for all SLOs and per SLO', () => {
    const command = parseCommand(['watch', 'h:1', '--slo-target', '95,interactive:99.9']);
    expect(command.kind === 'watch' && command.sloTargets).toEqual({ all: 95, byName: new Map([['interactive', 99.9]]) });
  });

  it.each([
    [[], /missing command/],
    [['look', 'ws://h'], /unknown command: look/],
    [['watch'], /missing <ws-url>/],
    [['watch', 'ws://h', 'extra'], /unexpected argument/],
    [['watch', 'ws://h', '--metric', 'speed'], /--metric: unknown type speed/],
    [['watch', 'ws://h', '--interval', '0'], /--interval/],
    [['watch', 'ws://h', '--count', '1.5'], /--count/],
    [['watch', 'ws://h', '--slo-target', '120'], /--slo-target: SLO target "120"/],
    [['watch', 'ws://h', '--node'], /--node/],
    [['watch', 'ws://h', '--colour'], /Unknown option '--colour'/],
    [['watch', 'ftp://h'], /not a WebSocket URL/],
  ])('rejects %j', (argv, message) => {
    const command = parseCommand(argv);
    expect(command.kind).toBe('error');
    expect(command.kind === 'error' && command.message).toMatch(message);
  });

  it('answers --help', () => {
    expect(parseCommand(['--help'])).toEqual({ kind: 'help' });
  });
});

describe('streamUrl', () => {
  it.each([
    ['ws://h:1/metrics/stream', 'ws://h:1/metrics/stream'],
    ['http://h:1', 'ws://h:1/metrics/stream'],
    ['https://h', 'wss://h/metrics/stream'],
    ['h:8000', 'ws://h:8000/metrics/stream'],
    ['ws://h/custom/path', 'ws://h/custom/path'],
  ])('%s → %s', (input, url) => {
    expect(streamUrl(input)).toBe(url);
  });
});
