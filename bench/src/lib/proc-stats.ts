/**
 * CPU and memory of processes as the kernel accounts them, read from /proc:
 * services, floors and load generators are all measured the same way, from
 * outside, without instrumenting them. CPU is utime + stime (all threads,
 * libuv's pool included) over a window, as % of one core.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { loadavg } from 'node:os';

/** Clock ticks per second of /proc/<pid>/stat times (100 on every Linux here, asked anyway). */
const CLK_TCK = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100;
  } catch {
    return 100;
  }
})();

/** CPU time used so far by `pid` in user and kernel mode, in ms. */
export function cpuTimes(pid: number): { user: number; sys: number } {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // The command name (field 2) may hold spaces: count fields after its ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // fields[0] is field 3 (state); utime and stime are fields 14 and 15.
  return { user: (Number(fields[11]) * 1000) / CLK_TCK, sys: (Number(fields[12]) * 1000) / CLK_TCK };
}

/** CPU time used so far by `pid`, in ms. */
export function cpuMs(pid: number): number {
  const t = cpuTimes(pid);
  return t.user + t.sys;
}

/** Resident set size of `pid`, in bytes. */
export function rssBytes(pid: number): number {
  const m = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) * 1024 : NaN;
}

/** Host CPU time (all cores, busy and idle), from /proc/stat, for the machine's own load. */
function hostTicks(): { busy: number } {
  const line = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0]!;
  const v = line.trim().split(/\s+/).slice(1).map(Number);
  const idle = (v[3] ?? 0) + (v[4] ?? 0);
  return { busy: v.reduce((a, b) => a + b, 0) - idle };
}

export interface NamedPid {
  /** e.g. 'gateway', 'clients-0'. */
  name: string;
  pid: number;
}

export interface CpuWindow {
  seconds: number;
  /** % of one core per process name over the window. */
  cpuPct: Record<string, number>;
  /** The part of cpuPct spent in the kernel (system calls: for a fan-out, mostly socket writes). */
  sysPct: Record<string, number>;
  /** Busy % of one core of the whole machine (2 cores = 200 %): the bench's processes plus anything else running. */
  hostBusyPct: number;
  loadAvg1m: number;
}

/** CPU of a set of processes between begin() and end(), side by side. */
export class CpuMeter {
  private start: { at: number; cpu: Map<string, { user: number; sys: number }>; host: { busy: number } } | null = null;

  constructor(private readonly procs: () => readonly NamedPid[]) {}

  begin(): void {
    this.start = { at: performance.now(), cpu: this.read(), host: hostTicks() };
  }

  end(): CpuWindow {
    if (!this.start) throw new Error('CpuMeter.end() before begin()');
    const seconds = (performance.now() - this.start.at) / 1000;
    const now = this.read();
    const cpuPct: Record<string, number> = {};
    const sysPct: Record<string, number> = {};
    for (const [name, t] of now) {
      const before = this.start.cpu.get(name);
      if (before === undefined) continue;
      cpuPct[name] = round1((t.user + t.sys - before.user - before.sys) / 10 / seconds);
      sysPct[name] = round1((t.sys - before.sys) / 10 / seconds);
    }
    const hostBusyPct = round1(((hostTicks().busy - this.start.host.busy) / CLK_TCK / seconds) * 100);
    this.start = null;
    return { seconds: round1(seconds), cpuPct, sysPct, hostBusyPct, loadAvg1m: round1(loadavg()[0]!) };
  }

  private read(): Map<string, { user: number; sys: number }> {
    const out = new Map<string, { user: number; sys: number }>();
    for (const { name, pid } of this.procs()) {
      try {
        out.set(name, cpuTimes(pid));
      } catch {
        // exited meanwhile: left out of the window
      }
    }
    return out;
  }
}

function round1(n: number): number {
  return Math.round(n * 10) / 10;
}
