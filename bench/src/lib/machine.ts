/** What the report says about the machine: CPUs, memory, Node, and how busy it was. */
import { cpus, loadavg, totalmem } from 'node:os';

export interface MachineInfo {
  cpus: number;
  model: string;
  memGiB: number;
  node: string;
  /** 1, 5 and 15 minute load averages when asked. */
  loadAvg: number[];
}

export function machineInfo(): MachineInfo {
  return {
    cpus: cpus().length,
    model: cpus()[0]?.model ?? 'unknown',
    memGiB: Math.round(totalmem() / 2 ** 30),
    node: process.version,
    loadAvg: loadavg().map((l) => Math.round(l * 100) / 100),
  };
}
