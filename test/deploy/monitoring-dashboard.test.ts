/**
 * infra/grafana: the dashboard and its provisioning, without Grafana. Every
 * query may select only the series of GET /metrics/prometheus (CONTRACT §9)
 * and must read them the way their types and the deployment require —
 * counters and buckets through rate(), quantiles keeping `le`, one gateway's
 * copy of each series rather than the sum of every gateway's, the model and
 * endpoint variables applied everywhere — and, with promtool on PATH, parse as
 * PromQL. The datasource it names is the one provisioned, pointing at the
 * compose Prometheus.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { describe, expect, it } from 'vitest';
import { callsOn, familyOf, groupings, matchersOf, metricNames, PULSE_SERIES } from './promql.js';
import { promtool, promtoolMissing } from './scrape.js';
import { loadYaml, read } from './support.js';

interface Target { datasource?: { type: string; uid: string }; expr: string; legendFormat?: string; refId: string }
interface Panel { id: number; type: string; title: string; datasource?: { type: string; uid: string }; gridPos: { x: number; y: number; w: number; h: number }; targets?: Target[]; repeat?: string }
interface Variable { name: string; type: string; datasource?: { uid: string }; definition: string; query: { query: string }; multi: boolean; includeAll: boolean; allValue: string }
interface Dashboard { uid: string; title: string; schemaVersion: number; panels: Panel[]; templating: { list: Variable[] } }

const DASHBOARD_FILE = 'infra/grafana/dashboards/pulse.json';
const dashboard = JSON.parse(read(DASHBOARD_FILE)) as Dashboard;
const panels = dashboard.panels.filter((p) => p.type !== 'row');
const queries = panels.flatMap((p) => (p.targets ?? []).map((t) => ({ panel: p, target: t, where: `panel ${p.id} "${p.title}" ${t.refId}` })));
const variables = dashboard.templating.list;

/** The one gateway's copy every sum must take: all gateways serve the same series. */
const DEDUPE = 'max without (instance, pod) (';
const GRAFANA_BUILTINS = ['__rate_interval', '__interval', '__range'];

const datasources = (loadYaml('infra/grafana/provisioning/datasources/pulse.yaml') as { datasources: { uid: string; type: string; url: string; jsonData?: { timeInterval?: string } }[] }).datasources;

describe('the PromQL reading these checks rely on', () => {
  it('finds the metric names of an expression, not its functions, labels, variables or durations', () => {
    expect(metricNames('sum by (model) (rate(foo_total{model=~"$model", x="bar_total"}[$__rate_interval] offset 5m))')).toEqual(['foo_total']);
    expect(metricNames('histogram_quantile(0.99, sum without (instance) (rate(a_bucket[1m]))) / on(model) group_left b + 1e3')).toEqual(['a_bucket', 'b']);
    expect(metricNames('sum(rate(x[5m])) by (le)')).toEqual(['x']);
  });

  it('maps histogram series to their family and rejects names outside the contract', () => {
    expect(familyOf('pulse_request_duration_seconds_bucket')).toEqual({ family: 'pulse_request_duration_seconds', type: 'histogram' });
    expect(familyOf('pulse_requests_total')).toEqual({ family: 'pulse_requests_total', type: 'counter' });
    expect(familyOf('pulse_request_duration_seconds')).toBeNull();
    expect(familyOf('pulse_requests_total_bucket')).toBeNull();
    expect(familyOf('pulse_errors_by_status_total')).toBeNull();
  });
});

describe(`${DASHBOARD_FILE}`, () => {
  it('is a Grafana dashboard with panels laid out on the 24-column grid, ids unique', () => {
    expect(dashboard.uid).toMatch(/^[\w-]{1,40}$/);
    expect(dashboard.schemaVersion).toBeGreaterThanOrEqual(36);
    expect(panels.length).toBeGreaterThanOrEqual(15);
    const ids = dashboard.panels.map((p) => p.id);
    expect(new Set(ids).size).toBe(ids.length);
    for (const p of dashboard.panels) expect(p.gridPos.x + p.gridPos.w, `${p.id}`).toBeLessThanOrEqual(24);
    for (const p of panels) expect(new Set(p.targets!.map((t) => t.refId)).size, `${p.id}`).toBe(p.targets!.length);
  });

  it('queries the provisioned datasource by uid everywhere (no ${DS_…} input to fill in)', () => {
    expect(datasources).toHaveLength(1);
    const uid = datasources[0]!.uid;
    expect(read(DASHBOARD_FILE)).not.toMatch(/\$\{DS_/);
    for (const p of panels) expect(p.datasource, `panel ${p.id}`).toEqual({ type: datasources[0]!.type, uid });
    for (const q of queries) expect(q.target.datasource?.uid, q.where).toBe(uid);
    for (const v of variables) expect(v.datasource?.uid, v.name).toBe(uid);
  });

  it('selects only series of GET /metrics/prometheus (CONTRACT §9), and shows every one of them', () => {
    const shown = new Set<string>();
    for (const q of queries) {
      const names = metricNames(q.target.expr);
      expect(names.length, q.where).toBeGreaterThan(0);
      for (const name of names) {
        const family = familyOf(name);
        expect(family, `${q.where}: ${name} is not a series of the contract`).not.toBeNull();
        shown.add(family!.family);
      }
    }
    expect([...shown].sort()).toEqual(Object.keys(PULSE_SERIES).sort());
  });

  it('reads counters and buckets through rate(), gauges as they are, and quantiles from buckets summed by le', () => {
    for (const { target: { expr }, where } of queries) {
      for (const name of new Set(metricNames(expr))) {
        const { type } = familyOf(name)!;
        const uses = matchersOf(expr, name).length;
        if (type === 'gauge') for (const fn of ['rate', 'irate', 'increase']) expect(callsOn(expr, fn, name), `${where}: ${fn}(${name})`).toBe(0);
        else expect(callsOn(expr, 'rate', name), `${where}: every ${name} inside rate()`).toBe(uses);
        if (type === 'histogram') {
          expect(name, where).toMatch(/_bucket$/);
          const quantiles = [...expr.matchAll(/histogram_quantile\(\s*(0\.\d+)\s*,\s*sum by \(([^)]*)\)/g)];
          expect(quantiles, `${where}: histogram_quantile(q, sum by (le…) (…))`).toHaveLength(uses);
          for (const m of quantiles) expect(m[2]!.split(',').map((l) => l.trim()), where).toContain('le');
        }
      }
    }
  });

  it("takes one gateway's copy of each series before adding series up, so N gateways do not count N times", () => {
    let sums = 0;
    for (const { target: { expr }, where } of queries) {
      for (const m of expr.matchAll(/\bsum\b\s*(?:(?:by|without)\s*\([^)]*\)\s*)?\(/g)) {
        sums++;
        expect(expr.slice(m.index + m[0].length), where).toMatch(new RegExp(`^${DEDUPE.replace(/[()]/g, '\\$&')}`));
      }
      // What is not summed is a min over series (SLO attainment): a ratio, never added up.
      if (!/\bsum\b/.test(expr)) expect(expr, where).toMatch(/^min by \(/);
    }
    expect(sums).toBeGreaterThan(20);
  });

  it('filters every selector by the model and endpoint variables, and uses no undefined variable', () => {
    const defined = variables.map((v) => v.name);
    expect(defined.sort()).toEqual(['endpoint', 'model']);
    for (const { target: { expr }, where } of queries) {
      for (const name of new Set(metricNames(expr))) {
        for (const matchers of matchersOf(expr, name)) {
          expect(matchers, `${where}: ${name}`).toContain('model=~"$model"');
          expect(matchers, `${where}: ${name}`).toContain('endpoint=~"$endpoint"');
        }
      }
      for (const [, v] of expr.matchAll(/\$\{?(\w+)/g)) expect([...defined, ...GRAFANA_BUILTINS], where).toContain(v);
    }
  });

  it('names legend entries only by labels the query keeps', () => {
    for (const { target, where } of queries) {
      const kept = groupings(target.expr).flat();
      for (const [, label] of (target.legendFormat ?? '').matchAll(/\{\{\s*(\w+)\s*\}\}/g)) expect(kept, `${where}: {{${label}}}`).toContain(label);
    }
  });

  it('offers model and endpoint as multi-value variables from label_values of a contract series, with All as .*', () => {
    for (const v of variables) {
      const m = /^label_values\((\w+)(\{[^}]*\})?,\s*(\w+)\)$/.exec(v.definition);
      expect(m, v.definition).not.toBeNull();
      expect(familyOf(m![1]!), v.name).not.toBeNull();
      expect(m![3], v.name).toBe(v.name);
      expect(v.query.query, v.name).toBe(v.definition);
      expect([v.type, v.multi, v.includeAll, v.allValue], v.name).toEqual(['query', true, true, '.*']);
    }
  });

  it('shows p50, p90 and p99 of each histogram, per model too, and repeats a row per selected model', () => {
    for (const family of Object.keys(PULSE_SERIES).filter((f) => PULSE_SERIES[f] === 'histogram')) {
      const exprs = queries.map((q) => q.target.expr).filter((e) => metricNames(e).includes(`${family}_bucket`));
      const quantiles = new Set(exprs.flatMap((e) => [...e.matchAll(/histogram_quantile\(\s*([\d.]+)/g)].map((m) => Number(m[1]))));
      for (const p of [0.5, 0.9, 0.99]) expect(quantiles.has(p), `${family} p${p * 100}`).toBe(true);
      expect(exprs.some((e) => groupings(e).some((g) => g.includes('le') && g.includes('model'))), `${family} by model`).toBe(true);
    }
    const rows = dashboard.panels.filter((p) => p.type === 'row' && p.repeat === 'model');
    expect(rows).toHaveLength(1);
  });

  const skip = promtoolMissing ? ` — skipped: ${promtoolMissing}` : '';
  it.skipIf(promtoolMissing !== null)(`every query parses as PromQL (\`promtool check rules\`, variables substituted)${skip}`, () => {
    const substitute = (e: string) => e.replace(/\$\{?__rate_interval\}?/g, '1m').replace(/\$\{?(model|endpoint)\}?/g, '.*');
    const rules = queries.map(({ panel, target }) => ({ record: `dashboard:panel_${panel.id}_${target.refId}`, expr: substitute(target.expr) }));
    const file = join(mkdtempSync(join(tmpdir(), 'pulse-dashboard-')), 'rules.yml');
    writeFileSync(file, stringify({ groups: [{ name: 'dashboard', rules }] }));
    const { status, output } = promtool('check', 'rules', file);
    expect(status, output).toBe(0);
    expect(output).toContain(`${rules.length} rules found`);
    // The same check fails on a query that is not PromQL, so it can fail.
    writeFileSync(file, stringify({ groups: [{ name: 'dashboard', rules: [{ record: 'x', expr: 'sum by (model (rate(pulse_requests_total[1m]))' }] }] }));
    expect(promtool('check', 'rules', file).status).not.toBe(0);
  });
});

describe('infra/grafana/provisioning', () => {
  const compose = loadYaml('docker-compose.yml') as { services: Record<string, { volumes?: string[]; environment?: Record<string, string>; ports?: string[] }> };
  const grafana = compose.services.grafana!;
  /** The host path compose mounts at `containerPath` in the grafana service. */
  const hostPathOf = (containerPath: string) => {
    for (const v of grafana.volumes ?? []) {
      const [host, target] = v.split(':');
      if (host!.startsWith('./') && (containerPath === target || containerPath.startsWith(`${target}/`))) return host!.slice(2) + containerPath.slice(target!.length);
    }
    return null;
  };

  it('points the datasource at the compose Prometheus, with the pulse job’s scrape interval as its step', () => {
    const [ds] = datasources;
    const url = new URL(ds!.url);
    expect(ds!.type).toBe('prometheus');
    expect(compose.services[url.hostname], `${url.hostname} is a compose service`).toBeDefined();
    expect(compose.services[url.hostname]!.ports!.map((p) => p.split(':').at(-1))).toContain(url.port);
    const prometheus = loadYaml('infra/prometheus/prometheus.yml') as { scrape_configs: { job_name: string; scrape_interval: string }[] };
    expect(ds!.jsonData?.timeInterval).toBe(prometheus.scrape_configs.find((j) => j.job_name === 'pulse')!.scrape_interval);
  });

  it('loads the dashboard from where compose mounts it, and makes it the home dashboard', () => {
    const providers = (loadYaml('infra/grafana/provisioning/dashboards/pulse.yaml') as { providers: { type: string; options: { path: string } }[] }).providers;
    expect(providers.map((p) => p.type)).toEqual(['file']);
    expect(hostPathOf(`${providers[0]!.options.path}/pulse.json`)).toBe(DASHBOARD_FILE);
    expect(hostPathOf(grafana.environment!.GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH!)).toBe(DASHBOARD_FILE);
    expect(hostPathOf('/etc/grafana/provisioning/datasources/pulse.yaml')).toBe('infra/grafana/provisioning/datasources/pulse.yaml');
    expect(hostPathOf('/etc/grafana/provisioning/dashboards/pulse.yaml')).toBe('infra/grafana/provisioning/dashboards/pulse.yaml');
  });
});
