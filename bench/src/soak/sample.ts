/**
 * One sample of every process: RSS from /proc, a service's heap after a
 * forced GC through its inspector, each aggregator's /status, Redis's
 * memory and stream length, and the proxy's count of accepted events.
 */
import type { Redis } from 'ioredis';
import type { NamedPid } from '../lib/proc-stats.js';
import { rssBytes } from '../lib/proc-stats.js';
import type { FaultProxyStats } from '../workers/fault-proxy.js';
import type { SoakCluster } from './cluster.js';
import type { SoakLoad } from './load.js';

export interface ProcSample {
  rss: number | null;
  /** After a full GC; services only. */
  heapUsed?: number;
  heapTotal?: number;
}

export interface RedisSample {
  usedMemory: number;
  usedMemoryRss: number;
  streamLength: number;
}

export interface Sample {
  /** Seconds since the load started. */
  t: number;
  at: string;
  procs: Record<string, ProcSample>;
  /** GET /status of each aggregator as it answered (null: no answer). */
  aggregators: Record<string, Record<string, unknown> | null>;
  redis: RedisSample | null;
  proxy: FaultProxyStats | null;
}

export async function takeSample(
  t: number,
  cluster: SoakCluster,
  load: SoakLoad,
  redis: Redis,
  streamKey: string,
  warn: (line: string) => void,
): Promise<Sample> {
  const procs: Record<string, ProcSample> = {};
  // One service at a time: a forced full GC pauses it, and two at once would compete for the 2 cores.
  for (const { name, service, inspector } of cluster.services) {
    const heap = await inspector.heapAfterGc().catch((err: Error) => {
      warn(`${name}: no heap figure (${err.message})`);
      return null;
    });
    procs[name] = { rss: rss(service.pid), ...(heap ? { heapUsed: heap.heapUsed, heapTotal: heap.heapTotal } : {}) };
  }
  const others: NamedPid[] = [{ name: 'redis', pid: cluster.redis.pid }, ...load.pids(), { name: 'harness', pid: process.pid }];
  for (const { name, pid } of others) procs[name] = { rss: rss(pid) };
  const [aggregators, redisSample, proxy] = await Promise.all([
    cluster.aggregatorStatus(),
    redisFigures(redis, streamKey).catch((err: Error) => {
      warn(`redis: no figures (${err.message})`);
      return null;
    }),
    load.proxyStats().catch(() => null),
  ]);
  return { t: Math.round(t * 10) / 10, at: new Date().toISOString(), procs, aggregators, redis: redisSample, proxy };
}

function rss(pid: number): number | null {
  try {
    return rssBytes(pid);
  } catch {
    return null;
  }
}

async function redisFigures(redis: Redis, streamKey: string): Promise<RedisSample> {
  const [info, streamLength] = await Promise.all([redis.info('memory'), redis.xlen(streamKey)]);
  const field = (name: string) => Number(new RegExp(`^${name}:(\\d+)`, 'm').exec(info)?.[1] ?? NaN);
  return { usedMemory: field('used_memory'), usedMemoryRss: field('used_memory_rss'), streamLength };
}
