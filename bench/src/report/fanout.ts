/** The fan-out section: Pulse's gateway and the bare-ws floor, side by side per client count. */
import type { FanoutResult } from '../scenarios/fanout.js';
import { machineLoad, n, pct, ratio, table } from './format.js';

export function fanoutSection(r: FanoutResult, title = '## 2. Fan-out: WebSocket clients on one gateway'): string[] {
  const rows: (string | number)[][] = [];
  for (const run of r.runs) {
    const p = run.pulse;
    const b = run.bare;
    const clientCpu = (f: typeof p) => pct(Object.values(f.clientCpuPct).reduce((a, v) => a + v, 0));
    rows.push(
      [`**${n(run.clients)}** Pulse`, pct(p.serverCpuPct), n(p.messagesPerSec), n(p.messagesPerSecPerCore), `${n(p.spreadMs.p50)} / ${n(p.spreadMs.p99)}`, `${n(p.freshnessMs.p50)} / ${n(p.freshnessMs.p99)}`, `${n(p.intervalMs.p50)} / ${n(p.intervalMs.p99)}`, `${p.complete}/${p.snapshots}`, n(p.rssPerClientKiB, 1), clientCpu(p)],
      [`${n(run.clients)} bare ws`, pct(b.serverCpuPct), n(b.messagesPerSec), n(b.messagesPerSecPerCore), `${n(b.spreadMs.p50)} / ${n(b.spreadMs.p99)}`, `${n(b.freshnessMs.p50)} / ${n(b.freshnessMs.p99)}`, `${n(b.intervalMs.p50)} / ${n(b.intervalMs.p99)}`, `${b.complete}/${b.snapshots}`, n(b.rssPerClientKiB, 1), clientCpu(b)],
      [`${n(run.clients)} Pulse / bare`, ratio(run.ratio.cpu), '', ratio(run.ratio.messagesPerCore), `p99 ${ratio(run.ratio.spreadP99)}`, '', '', '', ratio(run.ratio.rssPerClient), ''],
    );
  }
  const sizes = r.runs[0]?.pulse.frameBytes ?? [];
  return [
    title,
    '',
    `Clients in separate processes (≤ 2,500 sockets each), all to 127.0.0.1, interval 1 s, ${r.filters} distinct filters spread evenly`,
    `(frame sizes by filter: ${sizes.map((s) => n(s)).join(', ')} bytes). Aggregator and gateway tick every ${r.tickMs} ms so that every`,
    `snapshot goes to every client at once, as the floor does; a feeder process sends ${n(r.feedPerSec)} events/s from ${r.nodes ?? 8} nodes so the views are live${r.cells === undefined ? '' : ` (${n(r.cells)} cells in the window)`}.`,
    `Both are measured over the same ${r.measureSeconds} s window after a warm-up. The floor is a bare \`ws\` server (bench/src/workers/bare-ws-server.ts) sending`,
    'each client a pre-built frame of the size Pulse sends its filter group, every second, half a second after Pulse\'s snapshot,',
    'to as many sockets of the same client processes: the two bursts take turns, and whatever else loads the machine loads both.',
    '',
    '- CPU: the server process, utime + stime from /proc, % of one core; messages/s per core = delivered ÷ that.',
    '- Spread: per snapshot, the last client\'s arrival − the first\'s, over the snapshots wholly inside the window.',
    '- Freshness: arrival − the snapshot\'s `timestamp` (its build time; the floor stamps its send time).',
    '- Interval: each client\'s time between consecutive updates. Complete: snapshots every client got / snapshots.',
    '- RSS per client: (server RSS at the end − before the first client) ÷ clients. At 1,000 clients the process\'s own growth',
    '  (compiled code, heap headroom) is most of it; from 5,000 on, the clients are.',
    '',
    ...table(
      ['clients, server', 'server CPU', 'msgs/s', 'msgs/s per core', 'spread p50 / p99 ms', 'freshness p50 / p99 ms', 'interval p50 / p99 ms', 'complete', 'RSS KiB/client', 'client procs CPU'],
      rows,
    ),
    '',
    `Over each window: ${r.runs.map((run) => `${n(run.clients)} clients, ${machineLoad(run.cpu)}`).join('; ')}.`,
    '',
    'Where the CPU goes: per delivered message, in µs of CPU (of which in the kernel: the socket write and, on loopback, the',
    'TCP path to the receiver). Whatever Pulse spends beyond the floor is in user space: the snapshot from Redis, decoding it,',
    'the views, grouping the due clients, and the heartbeat pings (every client every 30 s, in tenths of the clients every 3 s).',
    '',
    ...table(
      ['clients', 'Pulse µs/msg (kernel)', 'bare µs/msg (kernel)'],
      r.runs.map((run) => {
        const per = (name: string, msgs: number) => {
          const cpu = run.cpu.cpuPct[name];
          const sys = run.cpu.sysPct?.[name];
          return `${n(((cpu ?? NaN) * 10_000) / msgs, 1)} (${n(((sys ?? NaN) * 10_000) / msgs, 1)})`;
        };
        return [n(run.clients), per('gateway', run.pulse.messagesPerSec), per('bare-ws', run.bare.messagesPerSec)];
      }),
    ),
    '',
  ];
}
