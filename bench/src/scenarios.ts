/**
 * Every scenario of `npm run bench`, in the order a full run takes them:
 * in-process ones first (they need nothing), then those that start
 * processes. A scenario that cannot run here (no redis-server, or a module
 * not delivered yet) is skipped with the reason, and the run goes on.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { benchSketches } from './sketch-merge.js';
import { benchCells } from './snapshot-views.js';
import { benchValidation } from './validate-events.js';
import { benchFleet } from './fleet.js';
import { benchAlertEvaluation } from './alert-eval.js';
import { benchAlertLatency } from './alert-latency.js';
import { benchIngest } from './scenarios/ingest.js';
import { benchFanout, benchFanoutFleet } from './scenarios/fanout.js';
import { benchViews } from './scenarios/views.js';
import { benchEndToEnd } from './scenarios/end-to-end.js';
import { benchPrometheus } from './prometheus-cost.js';
import { benchPartitions } from './partitions-cost.js';
import { benchCluster } from './cluster-cost.js';
import { benchHistory } from './history-cost.js';

export type Log = (line: string) => void;

export interface Scenario {
  name: string;
  available(): Promise<boolean>;
  /** Why available() said no. */
  unavailable: string;
  run(log: Log): Promise<unknown>;
}

const always = async () => true;

function hasRedisServer(): Promise<boolean> {
  try {
    execFileSync('redis-server', ['--version'], { stdio: 'ignore' });
    return Promise.resolve(true);
  } catch {
    return Promise.resolve(false);
  }
}

const NO_REDIS = 'no redis-server on PATH (apt-get install redis-server)';

/** A Redis Cluster needs redis-cli too (`redis-cli --cluster create`). */
async function hasRedisCluster(): Promise<boolean> {
  if (!(await hasRedisServer())) return false;
  try {
    execFileSync('redis-cli', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/**
 * The proxy-overhead scenario lives in bench/src/proxy-overhead.ts, delivered
 * separately. Once it exists, its first exported function runs (given the log
 * line writer); a function it exports named `render…` turns the result into
 * the report's Markdown section.
 */
const PROXY_MODULE = new URL('./proxy-overhead.js', import.meta.url);

export interface ProxyResult {
  result: unknown;
  markdown: string | null;
}

async function runProxyOverhead(log: Log): Promise<ProxyResult> {
  // A variable specifier: the module is optional, so tsc must not resolve it.
  const spec: string = PROXY_MODULE.href;
  const mod = (await import(spec)) as Record<string, unknown>;
  const fns = Object.entries(mod).filter((e): e is [string, (...args: unknown[]) => unknown] => typeof e[1] === 'function');
  const bench = fns.find(([name]) => !name.startsWith('render'));
  if (!bench) throw new Error('bench/src/proxy-overhead.ts exports no function to run');
  const result = await bench[1](log);
  const render = fns.find(([name]) => name.startsWith('render'));
  return { result, markdown: render ? String(render[1](result)) : null };
}

export const SCENARIOS: Scenario[] = [
  { name: 'sketch', available: always, unavailable: '', run: async () => benchSketches() },
  { name: 'validate', available: always, unavailable: '', run: async () => benchValidation() },
  { name: 'fleet', available: always, unavailable: '', run: async (log) => benchFleet(log) },
  { name: 'alert-eval', available: always, unavailable: '', run: async () => benchAlertEvaluation() },
  {
    name: 'snapshot',
    available: always,
    unavailable: '',
    run: async (log) =>
      [10, 100, 1000].map((cells) => {
        log(`snapshot and views: ${cells} cells`);
        return benchCells(cells);
      }),
  },
  { name: 'ingest', available: hasRedisServer, unavailable: NO_REDIS, run: benchIngest },
  { name: 'partitions', available: hasRedisServer, unavailable: NO_REDIS, run: benchPartitions },
  { name: 'cluster', available: hasRedisCluster, unavailable: 'no redis-server or redis-cli on PATH (apt-get install redis-server redis-tools)', run: benchCluster },
  { name: 'fanout', available: hasRedisServer, unavailable: NO_REDIS, run: benchFanout },
  { name: 'fanout-fleet', available: hasRedisServer, unavailable: NO_REDIS, run: benchFanoutFleet },
  { name: 'views', available: hasRedisServer, unavailable: NO_REDIS, run: benchViews },
  { name: 'e2e', available: hasRedisServer, unavailable: NO_REDIS, run: benchEndToEnd },
  { name: 'alert-latency', available: hasRedisServer, unavailable: NO_REDIS, run: benchAlertLatency },
  { name: 'prometheus', available: hasRedisServer, unavailable: NO_REDIS, run: benchPrometheus },
  { name: 'history', available: hasRedisServer, unavailable: NO_REDIS, run: benchHistory },
  {
    name: 'proxy',
    available: async () => existsSync(PROXY_MODULE),
    unavailable: 'bench/src/proxy-overhead.ts not delivered yet',
    run: runProxyOverhead,
  },
];
