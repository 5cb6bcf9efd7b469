/**
 * What a Prometheus scrape config does with discovered targets, offline:
 * Prometheus's relabelling (the actions these configs use, with its fully
 * anchored RE2 regexes and `$1` / `${1}` replacements), and the targets its
 * Kubernetes pod discovery makes of a pod template, so a test can see which
 * pods, ports and paths the Kubernetes example would scrape.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface RelabelConfig {
  source_labels?: string[];
  separator?: string;
  regex?: string;
  target_label?: string;
  replacement?: string;
  action?: 'replace' | 'keep' | 'drop' | 'labelmap' | 'labeldrop' | 'labelkeep';
}

export type Labels = Record<string, string>;

/** Go's regexp.Expand for `$1`, `${1}`, `$name`: the longest run of word characters names the group. */
function expand(template: string, m: RegExpExecArray): string {
  return template.replace(/\$(?:\{(\w+)\}|(\w+))/g, (_all, braced?: string, bare?: string) => {
    const name = braced ?? bare!;
    return (/^\d+$/.test(name) ? m[Number(name)] : m.groups?.[name]) ?? '';
  });
}

/** The labels after `configs`, in order; null when a keep or drop discards the target. */
export function relabel(input: Labels, configs: readonly RelabelConfig[]): Labels | null {
  const labels: Labels = { ...input };
  for (const c of configs) {
    const action = c.action ?? 'replace';
    const re = new RegExp(`^(?:${c.regex ?? '(.*)'})$`);
    const value = (c.source_labels ?? []).map((l) => labels[l] ?? '').join(c.separator ?? ';');
    if (action === 'keep' && !re.test(value)) return null;
    if (action === 'drop' && re.test(value)) return null;
    if (action === 'replace') {
      const m = re.exec(value);
      if (!m) continue;
      const target = expand(c.target_label!, m);
      const result = expand(c.replacement ?? '$1', m);
      if (result === '') delete labels[target];
      else labels[target] = result;
    }
    if (action === 'labelmap') {
      for (const [k, v] of Object.entries(labels)) {
        const m = re.exec(k);
        if (m) labels[expand(c.replacement ?? '$1', m)] = v;
      }
    }
    if (action === 'labeldrop' || action === 'labelkeep') {
      for (const k of Object.keys(labels)) if (re.test(k) === (action === 'labeldrop')) delete labels[k];
    }
  }
  return labels;
}

const sanitize = (name: string) => name.replace(/[^A-Za-z0-9_]/g, '_');

export interface PodTemplate {
  metadata: { labels?: Record<string, string>; annotations?: Record<string, string> };
  spec: { containers: { name: string; ports?: { name?: string; containerPort: number }[] }[] };
}

/**
 * The targets `kubernetes_sd_configs: [{role: pod}]` finds for one running pod
 * of `template` (named `podName`, at `podIP`): one per declared container
 * port, `__address__` being the pod's IP and that port.
 */
export function podTargets(template: PodTemplate, podName: string, namespace: string, podIP: string): Labels[] {
  const common: Labels = {
    __meta_kubernetes_namespace: namespace,
    __meta_kubernetes_pod_name: podName,
    __meta_kubernetes_pod_ip: podIP,
    __meta_kubernetes_pod_phase: 'Running',
  };
  for (const [k, v] of Object.entries(template.metadata.labels ?? {})) {
    common[`__meta_kubernetes_pod_label_${sanitize(k)}`] = v;
    common[`__meta_kubernetes_pod_labelpresent_${sanitize(k)}`] = 'true';
  }
  for (const [k, v] of Object.entries(template.metadata.annotations ?? {})) {
    common[`__meta_kubernetes_pod_annotation_${sanitize(k)}`] = v;
    common[`__meta_kubernetes_pod_annotationpresent_${sanitize(k)}`] = 'true';
  }
  const host = podIP.includes(':') ? `[${podIP}]` : podIP;
  return template.spec.containers.flatMap((c) =>
    (c.ports ?? []).map((p) => ({
      ...common,
      __address__: `${host}:${p.containerPort}`,
      __meta_kubernetes_pod_container_name: c.name,
      __meta_kubernetes_pod_container_port_name: p.name ?? '',
      __meta_kubernetes_pod_container_port_number: String(p.containerPort),
    })),
  );
}

export interface ScrapeConfig {
  job_name: string;
  metrics_path?: string;
  scrape_interval?: string;
  authorization?: { type?: string; credentials_file?: string };
  relabel_configs?: RelabelConfig[];
  [k: string]: unknown;
}

/**
 * What `job` scrapes of `discovered`: each target as Prometheus keeps it after
 * relabelling (`__metrics_path__` from the job unless relabelled), identical
 * ones once, as Prometheus deduplicates them.
 */
export function scrapeTargets(job: ScrapeConfig, discovered: readonly Labels[]): Labels[] {
  const seen = new Map<string, Labels>();
  for (const t of discovered) {
    const out = relabel({ job: job.job_name, __metrics_path__: job.metrics_path ?? '/metrics', __scheme__: 'http', ...t }, job.relabel_configs ?? []);
    if (!out) continue;
    const kept = Object.fromEntries(Object.entries(out).filter(([k]) => !k.startsWith('__meta_')));
    seen.set(JSON.stringify(Object.entries(kept).sort()), kept);
  }
  return [...seen.values()];
}

/** `promtool <args>`: its exit status and everything it printed. */
export function promtool(...args: string[]): { status: number | null; output: string } {
  const r = spawnSync('promtool', args, { encoding: 'utf8' });
  return { status: r.status, output: `${r.stdout}${r.stderr}` };
}

/** Why `promtool` checks cannot run here, or null when they can. */
export const promtoolMissing: string | null = (() => {
  const probe = spawnSync('promtool', ['--version'], { encoding: 'utf8' });
  if (probe.error) return 'promtool is not on PATH (Debian: apt-get install prometheus)';
  if (probe.status !== 0) return `\`promtool --version\` failed: ${(probe.stderr || probe.stdout).trim().split('\n')[0]}`;
  return null;
})();

/**
 * Why `promtool` cannot check Kubernetes discovery here, or null when it can:
 * Debian's build (the `prometheus` package) leaves the Kubernetes service
 * discovery out, and rejects `kubernetes_sd_configs` as an unknown field.
 */
export const promtoolKubernetesMissing: string | null = (() => {
  if (promtoolMissing) return promtoolMissing;
  const file = join(mkdtempSync(join(tmpdir(), 'pulse-promtool-')), 'prometheus.yml');
  writeFileSync(file, 'scrape_configs:\n  - job_name: probe\n    kubernetes_sd_configs: [{ role: pod }]\n');
  const { status, output } = promtool('check', 'config', file);
  if (status === 0) return null;
  if (/kubernetes_sd_configs not found/.test(output)) return 'this promtool is built without Kubernetes service discovery (as Debian packages it)';
  return `promtool rejects a minimal kubernetes_sd_configs: ${output.trim().split('\n').at(-1)}`;
})();

