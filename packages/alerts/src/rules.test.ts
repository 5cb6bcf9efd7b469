import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseDuration } from './duration.js';
import { AlertRulesError, holds, loadAlertRules, parseAlertRules } from './rules.js';

const CONTRACT_EXAMPLE = `
receivers:
  - name: oncall
    url: http://hooks.example/pulse      # POSTed to
    headers: {Authorization: "Bearer x"} # optional
    send_resolved: true                  # default true
    repeat_interval: 4h                  # re-send while firing; default 4h
rules:
  - name: SlowFirstToken                 # [A-Za-z0-9_]+, unique
    figure: ttft_p99_ms                  # table below
    op: ">"                              # > >= < <=
    value: 500
    for: 10s                             # pending this long before firing; default 0s
    keep_firing_for: 0s                  # default 0s
    filters: {model: gpt-4o}             # endpoint / model / node, a string or a list; as subscribe
    group_by: [endpoint]                 # any of endpoint, model, node: one alert per value set
    labels: {severity: page}
    annotations: {summary: "TTFT p99 over 500 ms"}
    receivers: [oncall]
`;

function problemsOf(text: string, format: 'yaml' | 'json' = 'yaml', slos?: string[]): readonly string[] {
  try {
    parseAlertRules(text, format, slos ? { slos } : {});
  } catch (err) {
    expect(err).toBeInstanceOf(AlertRulesError);
    return (err as AlertRulesError).problems;
  }
  throw new Error('parsed without problems');
}

const receiver = `receivers: [{name: oncall, url: "http://127.0.0.1/x"}]\n`;

describe('parseAlertRules', () => {
  it("reads the contract's example, with every default filled in", () => {
    const rules = parseAlertRules(CONTRACT_EXAMPLE, 'yaml');
    expect(rules).toEqual({
      receivers: [
        {
          name: 'oncall',
          url: 'http://hooks.example/pulse',
          headers: { Authorization: 'Bearer x' },
          sendResolved: true,
          repeatIntervalMs: 4 * 3_600_000,
          format: 'alertmanager',
        },
      ],
      rules: [
        {
          name: 'SlowFirstToken',
          figure: 'ttft_p99_ms',
          op: '>',
          value: 500,
          forMs: 10_000,
          keepFiringForMs: 0,
          filters: { models: ['gpt-4o'] },
          groupBy: ['endpoint'],
          labels: { severity: 'page' },
          annotations: { summary: 'TTFT p99 over 500 ms' },
          receivers: ['oncall'],
        },
      ],
    });
    expect(Object.isFrozen(rules.rules[0]?.filters)).toBe(true);
  });

  it('defaults: for and keep_firing_for 0s, send_resolved true, repeat 4h, alertmanager format, no filters, groups, labels or receivers', () => {
    const rules = parseAlertRules(
      JSON.stringify({ receivers: [{ name: 'slack', url: 'https://hooks.slack.test/x', format: 'slack', send_resolved: false, repeat_interval: '30m' }], rules: [{ name: 'Errors', figure: 'error_rate_pct', op: '>=', value: 5 }] }),
      'json',
    );
    expect(rules.receivers[0]).toMatchObject({ format: 'slack', sendResolved: false, repeatIntervalMs: 1_800_000, headers: {} });
    expect(rules.rules[0]).toMatchObject({ forMs: 0, keepFiringForMs: 0, filters: {}, groupBy: [], labels: {}, annotations: {}, receivers: [] });
  });

  it('takes filters as a string or a list, and slo_attainment_pct:<name> figures', () => {
    const rules = parseAlertRules(
      `rules:\n  - {name: Slo, figure: "slo_attainment_pct:interactive", op: "<", value: 99, filters: {endpoint: [/a, /b], node: n1}, group_by: [model, node]}\n`,
      'yaml',
      { slos: ['interactive'] },
    );
    expect(rules.rules[0]).toMatchObject({ figure: 'slo_attainment_pct:interactive', filters: { endpoints: ['/a', '/b'], nodes: ['n1'] }, groupBy: ['model', 'node'] });
  });

  it('names the rule and the field of a bad op, and says to quote it in YAML', () => {
    expect(problemsOf(`${receiver}rules:\n  - {name: SlowFirstToken, figure: ttft_p99_ms, op: "=>", value: 1}\n`)).toEqual([
      'rule "SlowFirstToken": field "op": must be one of > >= < <= (quote it in YAML: op: ">")',
    ]);
    // An unquoted `>` is a YAML block scalar: the same problem, not a crash.
    expect(problemsOf(`rules:\n  - name: A\n    figure: queue_depth\n    op: >\n    value: 1\n`)[0]).toMatch(/^rule "A": field "op": must be one of/);
  });

  it('lists every problem of the file at once, each naming its rule or receiver and field', () => {
    const problems = problemsOf(`
receivers:
  - {name: a, url: "ftp://x", repeat_interval: 0s, format: teams, headers: {Idempotency-Key: x}}
  - {name: a, url: "http://ok"}
  - {url: "http://ok"}
rules:
  - {name: "bad name", figure: ttft_p98_ms, op: ">", value: "500", for: 10, keep_firing_for: 1d}
  - name: Grouped
    figure: "slo_attainment_pct:nope"
    op: "<"
    value: 99
    filters: {region: eu, model: []}
    group_by: [endpoint, endpoint, zone]
    labels: {alertname: x, endpoint: y, "bad-name": z, severity: 1}
    annotations: {value: x}
    receivers: [a, ghost]
    severity: page
  - {name: Dup, figure: queue_depth, op: ">", value: 1}
  - {name: Dup, figure: queue_depth, op: ">", value: 2}
  - just text
`, 'yaml', ['interactive']);
    expect(problems).toEqual([
      'receiver "a": field "url": must be an http(s) URL, not "ftp://x"',
      'receiver "a": field "headers": Idempotency-Key is set by Pulse',
      'receiver "a": field "repeat_interval": must be longer than 0',
      'receiver "a": field "format": must be one of alertmanager, slack',
      'receiver "a": field "name": used by another receiver',
      'receiver #3: field "name": required: 1 to 64 letters, digits, _ . or -',
      'rule "bad name": field "name": required: letters, digits and _ ([A-Za-z0-9_]+)',
      expect.stringMatching(/^rule "bad name": field "figure": must be one of requests_per_sec, .* or slo_attainment_pct:<slo name>$/),
      'rule "bad name": field "value": required, a number',
      'rule "bad name": field "for": must be a duration such as 500ms, 10s, 5m or 4h',
      'rule "bad name": field "keep_firing_for": must be a duration such as 500ms, 10s, 5m or 4h',
      'rule "Grouped": field "severity": unknown (expected one of name, figure, op, value, for, keep_firing_for, filters, group_by, labels, annotations, receivers)',
      'rule "Grouped": field "figure": no SLO named "nope" in PULSE_SLOS',
      'rule "Grouped": field "filters.region": unknown (expected one of endpoint, model, node)',
      'rule "Grouped": field "filters.model": must be a non-empty string or a non-empty list of them',
      'rule "Grouped": field "group_by": endpoint is listed twice',
      'rule "Grouped": field "group_by": "zone" is not one of endpoint, model, node',
      'rule "Grouped": field "labels": alertname is the rule name',
      'rule "Grouped": field "labels": endpoint is a group_by label: its value comes from the group',
      'rule "Grouped": field "labels": "bad-name" is not a name ([A-Za-z_][A-Za-z0-9_]*, not starting with __)',
      'rule "Grouped": field "labels": severity: the value must be text (quote it)',
      'rule "Grouped": field "annotations": value is set by Pulse to the figure',
      'rule "Grouped": field "receivers": no receiver named "ghost"',
      'rule "Dup": field "name": used by another rule',
      'rule #5: field "-": a rule must be a mapping',
    ]);
  });

  it('one Error whose message holds every problem, and the path when loaded from a file', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'pulse-alerts-'));
    try {
      const path = join(dir, 'rules.yaml');
      await writeFile(path, `rules:\n  - {name: A, figure: queue_depth, op: "!", value: 1}\n  - {name: B, figure: nope, op: ">", value: 1}\n`);
      const error = await loadAlertRules(path).catch((err: unknown) => err);
      expect(error).toBeInstanceOf(AlertRulesError);
      expect((error as Error).message).toBe(
        `PULSE_ALERT_RULES ${path}: 2 problems:\n- rule "A": field "op": must be one of > >= < <= (quote it in YAML: op: ">")\n- rule "B": field "figure": must be one of ${(error as AlertRulesError).problems[1]?.split('must be one of ')[1]}`,
      );

      const json = join(dir, 'rules.json');
      await writeFile(json, JSON.stringify({ rules: [{ name: 'A', figure: 'queue_depth', op: '>', value: 1 }] }));
      expect((await loadAlertRules(json)).rules).toHaveLength(1);
      await writeFile(json, '{"rules": [');
      await expect(loadAlertRules(json)).rejects.toThrow(/rules\.json: a problem:\n- not valid JSON/);
      await expect(loadAlertRules(join(dir, 'missing.yaml'))).rejects.toThrow(/missing\.yaml: a problem:\n- cannot read the file/);
    } finally {
      await rm(dir, { recursive: true });
    }
  });

  it('refuses a file that is not a mapping, and top-level keys it does not know', () => {
    expect(problemsOf('- a\n- b\n')).toEqual(['the file must hold a mapping with "receivers" and "rules"']);
    expect(problemsOf('rule: []\nrules: {}\n')).toEqual([
      'field "rule": unknown (expected one of receivers, rules)',
      'field "rules": must be a list',
    ]);
    expect(parseAlertRules('rules: []\n', 'yaml').rules).toEqual([]);
  });
});

describe('durations and operators', () => {
  it('reads 500ms, 10s, 5m, 4h and 0s; nothing else', () => {
    expect([parseDuration('500ms'), parseDuration('10s'), parseDuration('5m'), parseDuration('4h'), parseDuration('0s')]).toEqual([
      500, 10_000, 300_000, 14_400_000, 0,
    ]);
    for (const bad of ['10', '1.5s', '1h30m', '-1s', '1d', 's', '']) expect(parseDuration(bad)).toBeNull();
  });

  it('compares with each operator', () => {
    expect([holds('>', 2, 1), holds('>', 1, 1), holds('>=', 1, 1), holds('<', 1, 1), holds('<=', 1, 1), holds('<', 0, 1)]).toEqual([
      true, false, true, false, true, true,
    ]);
  });
});
