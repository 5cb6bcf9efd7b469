/** What a soak run writes to bench/results/soak.json, and what the reports read from it. */
import type { MachineInfo } from '../lib/machine.js';
import type { FaultProxyStats } from '../workers/fault-proxy.js';
import type { SoakConfig } from './config.js';
import type { Sample } from './sample.js';
import type { ClientsVerdict, EventsVerdict, LogVerdict, MemoryVerdict } from './verdicts.js';

export interface SoakProcessInfo {
  name: string;
  /** Services and Redis are judged; load generators are reported. */
  kind: 'service' | 'redis' | 'load';
  /** An aggregator's roles over the run, in order ('leader', or 'standby → leader' after a takeover). */
  role?: string;
}

export interface SoakVerdicts {
  /** Each service: heap after GC flat over the last two thirds. */
  memory: MemoryVerdict[];
  /** Redis used_memory flat over the last two thirds. */
  redis: MemoryVerdict;
  /** Each service and the simulator: nothing logged at error or fatal, exit 0 on SIGTERM. */
  logs: LogVerdict[];
  clients: ClientsVerdict;
  events: EventsVerdict;
  pass: boolean;
}

export interface SoakResult {
  machine: MachineInfo;
  startedAt: string;
  loadAvgAtEnd: number[];
  config: SoakConfig & { clientFilters: Record<string, unknown>[] };
  /** How long the load ran, s. */
  durationSeconds: number;
  /** Start of the judged span (a third into the load), s. */
  judgedFromSeconds: number;
  processes: SoakProcessInfo[];
  samples: Sample[];
  /** After the simulator stopped: how long until both aggregators' eventsApplied stopped moving. */
  settle: { seconds: number; settled: boolean };
  proxy: FaultProxyStats;
  verdicts: SoakVerdicts;
}
