import { describe, expect, it } from 'vitest';
import { httpBase, parseCommand } from './args.js';
import { labelText, renderAlerts, type AlertJson, type DeliveryJson } from './alerts.js';

const NOW = Date.parse('2026-01-01T12:00:30.000Z') / 1000;

describe('parseCommand: alerts', () => {
  it('parses alerts and alerts retry, with watch’s URL forms', () => {
    expect(parseCommand(['alerts', 'localhost:8000'])).toEqual({ kind: 'alerts', url: 'http://localhost:8000', json: false });
    expect(parseCommand(['alerts', 'wss://pulse.example.com/metrics/stream', '--json'])).toEqual({ kind: 'alerts', url: 'https://pulse.example.com', json: true });
    expect(parseCommand(['alerts', 'retry', 'http://h:1', 'abc-123'])).toEqual({ kind: 'alerts-retry', url: 'http://h:1', id: 'abc-123' });
  });

  it.each([
    [['alerts'], /missing <url>/],
    [['alerts', 'h:1', 'extra'], /unexpected argument: extra/],
    [['alerts', 'retry', 'h:1'], /missing <id>/],
    [['alerts', 'retry', 'h:1', 'a', 'b'], /unexpected argument: b/],
    [['alerts', 'retry', 'h:1', 'a', '--json'], /--json is an option of alerts/],
    [['alerts', 'h:1', '--endpoint', '/x'], /--endpoint is an option of watch/],
    [['alerts', 'ftp://h'], /not a Pulse URL/],
  ])('rejects %j', (argv, message) => {
    const command = parseCommand(argv);
    expect(command.kind).toBe('error');
    expect(command.kind === 'error' && command.message).toMatch(message);
  });
});

describe('httpBase', () => {
  it.each([
    ['ws://h:1/metrics/stream', 'http://h:1'],
    ['wss://h/metrics/stream?token=x', 'https://h'],
    ['h:8000', 'http://h:8000'],
    ['http://h:1/', 'http://h:1'],
    ['ws://h/pulse/metrics/stream', 'http://h/pulse'],
  ])('%s → %s', (input, base) => {
    expect(httpBase(input)).toBe(base);
  });
});

describe('renderAlerts', () => {
  const alerts: AlertJson[] = [
    { name: 'Busy', labels: { alertname: 'Busy', endpoint: '/v1/\x1b[2Jevil', severity: 'page' }, state: 'firing', active_at: '2026-01-01T12:00:00.000Z', value: 12.345 },
    { name: 'Slow', labels: { alertname: 'Slow' }, state: 'pending', active_at: '2026-01-01T12:00:20.000Z', value: 3 },
  ];
  const deliveries: DeliveryJson[] = [
    {
      id: 'f00dfeedf00dfeed-0123456789abcdef',
      receiver: 'oncall',
      status: 'firing',
      labels: { alertname: 'Busy', severity: 'page' },
      attempts: 1,
      last_error: `HTTP 400 Bad Request: ${'x'.repeat(200)}`,
      failed_at: '2026-01-01T12:00:25.000Z',
    },
  ];

  it('prints the alerts, then the failed deliveries, aligned, with names made safe for the terminal', () => {
    const lines = renderAlerts('http://h:1', alerts, deliveries, NOW).split('\n');
    expect(lines[2]).toBe('2 active alerts: 1 firing, 1 pending');
    expect(lines[3]).toBe('  ALERT  STATE    ACTIVE SINCE         VALUE  LABELS');
    expect(lines[4]).toMatch(/^ {2}Busy {3}firing {3}\d\d:\d\d:\d\d \(30 s ago\) {3}12\.3 {2}endpoint=\/v1\/\?\[2Jevil, severity=page$/);
    expect(lines[5]).toMatch(/^ {2}Slow {3}pending {2}\d\d:\d\d:\d\d \(10 s ago\) {6}3$/);
    expect(lines[7]).toBe('1 failed delivery (pulse alerts retry <url> <id> sends one again)');
    expect(lines[8]).toBe('  ID                                 RECEIVER  STATUS  ATTEMPTS  FAILED              ALERT  LABELS         LAST ERROR');
    // The id whole (it is what retry takes); a long error cut.
    expect(lines[9]).toMatch(/^ {2}f00dfeedf00dfeed-0123456789abcdef {2}oncall {4}firing {9}1 {2}\d\d:\d\d:\d\d \(5 s ago\) {2}Busy {3}severity=page {2}HTTP 400 Bad Request: x+…$/);
    expect(lines[9]!.length).toBeLessThan(200);
    expect(lines.join('\n')).not.toContain('\x1b');
  });

  it('says so when there is nothing', () => {
    const lines = renderAlerts('http://h:1', [], [], NOW).split('\n');
    expect(lines.slice(2)).toEqual(['no active alerts', '', 'no failed deliveries']);
  });

  it('writes labels sorted, leaving out those asked', () => {
    expect(labelText({ z: '1', a: '2', alertname: 'X' }, ['alertname'])).toBe('a=2, z=1');
    expect(labelText({})).toBe('');
  });
});
