/**
 * `node services/simulator/dist/main.js`: N virtual FakeAI nodes posting to
 * PULSE_INGEST_URL through a Reporter until SIGTERM/SIGINT (or
 * PULSE_SIM_DURATION_SECONDS), then a drain, a flush and exit 0.
 */
import { Reporter } from '@pulse/reporter';
import { ConfigError, createLogger, exitOnFatal, onShutdown } from '@pulse/runtime';
import { parseSimulatorConfig, type SimulatorConfig } from './config.js';
import { profileOf } from './profile.js';
import { seededRandom } from './random.js';
import { Simulator } from './simulator.js';

const STATS_EVERY_MS = 10_000;
/** Drain plus flush must fit in here; below a container runtime's usual 10 s grace. */
const SHUTDOWN_DEADLINE_MS = 9000;

const config = loadOrExit();
const logger = createLogger('simulator', config.LOG_LEVEL);
exitOnFatal(logger);

const seed = config.PULSE_SIM_SEED ?? Math.floor(Math.random() * 2 ** 32);
const reporter = new Reporter({
  url: config.PULSE_INGEST_URL,
  token: config.PULSE_INGEST_TOKEN,
  onError: (err) => logger.warn({ kind: err.kind, events: err.events }, err.message),
});
const simulator = new Simulator({
  nodes: config.PULSE_SIM_NODES,
  ratePerSec: config.PULSE_SIM_RATE,
  profile: profileOf(config),
  gaugeIntervalMs: config.PULSE_SIM_GAUGE_INTERVAL_MS,
  random: seededRandom(seed),
  slowNodes: config.PULSE_SIM_SLOW_NODES,
  failingNodes: config.PULSE_SIM_FAILING_NODES,
  emit: (event) => reporter.report(event),
});

simulator.start();
logger.info(
  {
    ingest: config.PULSE_INGEST_URL,
    nodes: config.PULSE_SIM_NODES,
    rate: config.PULSE_SIM_RATE,
    seed,
    run: simulator.runId,
    slow: Object.fromEntries(config.PULSE_SIM_SLOW_NODES),
    failing: Object.fromEntries(config.PULSE_SIM_FAILING_NODES),
  },
  `simulating ${config.PULSE_SIM_NODES} FakeAI node(s) at ${config.PULSE_SIM_RATE} req/s → ${config.PULSE_INGEST_URL}`,
);
const statsTimer = setInterval(() => logger.info({ simulator: simulator.stats(), reporter: reporter.stats() }, 'progress'), STATS_EVERY_MS);

const stop = async (): Promise<void> => {
  clearInterval(statsTimer);
  await simulator.stop(SHUTDOWN_DEADLINE_MS / 3);
  const stats = await reporter.close(SHUTDOWN_DEADLINE_MS / 2);
  logger.info({ simulator: simulator.stats(), reporter: stats }, 'simulator stopped');
};

onShutdown(logger, SHUTDOWN_DEADLINE_MS, stop);
if (config.PULSE_SIM_DURATION_SECONDS > 0) {
  // The end of a timed run takes the same path as a signal: drain, flush, exit 0.
  setTimeout(() => process.kill(process.pid, 'SIGTERM'), config.PULSE_SIM_DURATION_SECONDS * 1000);
}

/** Like loadConfigOrExit, with the simulator's checks across variables: one line naming each problem, exit 2. */
function loadOrExit(): SimulatorConfig {
  try {
    return parseSimulatorConfig(process.env);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    process.stderr.write(`pulse simulator: invalid configuration: ${err.message}\n`);
    process.exit(2);
  }
}
