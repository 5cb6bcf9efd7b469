/**
 * Redis's own XADD ceiling, measured with `redis-benchmark` (Redis's C
 * client, pipelined): what Redis takes when the producer costs nothing. The
 * ioredis figures beside it show what a Node producer can feed it.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface RedisBenchmarkResult {
  tool: 'redis-benchmark';
  payloadBytes: number;
  requests: number;
  pipeline: number;
  clients: number;
  perSec: number;
}

/** Pipelined XADDs of a `payloadBytes` value into a trimmed stream; null when redis-benchmark is not installed. */
export async function xaddWithRedisBenchmark(port: number, payloadBytes: number, requests = 1_000_000): Promise<RedisBenchmarkResult | null> {
  const pipeline = 64;
  const clients = 4;
  const key = 'bench:ceiling:redis-benchmark';
  const args = ['-p', String(port), '-n', String(requests), '-P', String(pipeline), '-c', String(clients), '--csv'];
  const command = ['XADD', key, 'MAXLEN', '~', '200000', '*', 'b', 'x'.repeat(payloadBytes)];
  let stdout: string;
  try {
    ({ stdout } = await run('redis-benchmark', [...args, ...command], { maxBuffer: 1 << 20 }));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  } finally {
    await run('redis-cli', ['-p', String(port), 'DEL', key]).catch(() => undefined);
  }
  // CSV: a header line, then "<test>","<rps>",…
  const row = stdout.trim().split('\n').pop() ?? '';
  const perSec = Number(row.replace(/^"|"$/g, '').split('","')[1]);
  if (!Number.isFinite(perSec)) throw new Error(`unexpected redis-benchmark output: ${row.slice(0, 200)}`);
  return { tool: 'redis-benchmark', payloadBytes, requests, pipeline, clients, perSec: Math.round(perSec) };
}
