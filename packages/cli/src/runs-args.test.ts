import { describe, expect, it } from 'vitest';
import { parseCommand } from './args.js';

describe('parseCommand: run and annotate', () => {
  it('reads run start with labels, stop, list and annotate', () => {
    expect(parseCommand(['run', 'start', 'localhost:8000', 'baseline', '--label', 'model=gpt-4', '--label', 'note=a=b'])).toEqual({
      kind: 'run-start',
      url: 'http://localhost:8000',
      name: 'baseline',
      labels: { model: 'gpt-4', note: 'a=b' },
      json: false,
    });
    expect(parseCommand(['run', 'stop', 'ws://h:1/metrics/stream', 'run-3', '--json'])).toEqual({ kind: 'run-stop', url: 'http://h:1', id: 'run-3', json: true });
    expect(parseCommand(['run', 'list', 'https://pulse.example.com'])).toEqual({ kind: 'run-list', url: 'https://pulse.example.com', json: false });
    expect(parseCommand(['annotate', 'h:1', 'scaled to 4 nodes', '--run', 'run-3'])).toEqual({ kind: 'annotate', url: 'http://h:1', text: 'scaled to 4 nodes', runId: 'run-3', json: false });
    expect(parseCommand(['annotate', 'h:1', 'deploy'])).toEqual({ kind: 'annotate', url: 'http://h:1', text: 'deploy', json: false });
  });

  it('reads an export with its format, step and filters as the route takes them', () => {
    const command = parseCommand(['run', 'export', 'h:1', 'run-3', '--format', 'jsonl', '--step', '5s', '--endpoint', '/v1/chat/completions', '--model', 'a', '--model', 'b', '--node', 'n1', '--metric', 'latency']);
    expect(command).toEqual({ kind: 'run-export', url: 'http://h:1', id: 'run-3', query: expect.any(String) });
    const query = new URLSearchParams(command.kind === 'run-export' ? command.query : '');
    expect([...query]).toEqual([
      ['format', 'jsonl'],
      ['step', '5s'],
      ['endpoint', '/v1/chat/completions'],
      ['model', 'a'],
      ['model', 'b'],
      ['node', 'n1'],
      ['metric_type', 'latency'],
    ]);
    expect(parseCommand(['run', 'export', 'h:1', 'run-3'])).toEqual({ kind: 'run-export', url: 'http://h:1', id: 'run-3', query: '' });
  });

  it.each([
    [['run'], /missing run command/],
    [['run', 'begin', 'h:1', 'x'], /unknown run command: begin/],
    [['run', 'start'], /missing <url>/],
    [['run', 'start', 'h:1'], /missing <name>/],
    [['run', 'start', 'h:1', 'a', 'b'], /unexpected argument: b/],
    [['run', 'start', 'h:1', 'a', '--label', 'novalue'], /--label: not key=value: novalue/],
    [['run', 'start', 'h:1', 'a', '--label', '=v'], /--label: not key=value/],
    [['run', 'stop', 'h:1'], /missing <id>/],
    [['run', 'stop', 'h:1', 'run-1', '--label', 'a=b'], /--label is not an option of run stop/],
    [['run', 'list', 'h:1', '--format', 'csv'], /--format is not an option of run list/],
    [['run', 'export', 'h:1', 'run-1', '--format', 'xlsx'], /--format: csv or jsonl, not xlsx/],
    [['run', 'export', 'h:1', 'run-1', '--metric', 'speed'], /--metric: unknown type speed/],
    [['run', 'export', 'h:1', 'run-1', '--json'], /--json is not an option of run export/],
    [['run', 'list', 'ftp://h'], /not a Pulse URL/],
    [['annotate', 'h:1'], /missing <text>/],
    [['annotate', 'h:1', 'two', 'words'], /unexpected argument: words \(quote the text\)/],
    [['annotate', 'h:1', 'x', '--colour'], /Unknown option '--colour'/],
  ])('rejects %j', (argv, message) => {
    const command = parseCommand(argv);
    expect(command.kind).toBe('error');
    expect(command.kind === 'error' && command.message).toMatch(message);
  });

  it('answers --help', () => {
    expect(parseCommand(['run', '--help'])).toEqual({ kind: 'help' });
  });
});
