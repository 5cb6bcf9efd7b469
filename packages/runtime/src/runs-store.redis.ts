/**
 * Runs and annotations in Redis, shared by every gateway of a deployment
 * (keys: runsKeys in @pulse/protocol, all in the `{prefix}` slot). A run is
 * stored once as JSON without its stop time, which a second hash holds once
 * it is stopped: stopping is one HSETNX, so two gateways stopping the same
 * run at once give one 200 and one 409. Starting and annotating are one
 * script each: number the entry, store it, drop the oldest beyond the cap.
 */
import type { RunsKeys } from '@pulse/protocol';
import type { RedisConnection } from './redis.js';
import {
  ANNOTATION_ID_PREFIX,
  annotationId,
  DEFAULT_RUNS_LIMITS,
  RUN_ID_PREFIX,
  runId,
  withStop,
  type Annotation,
  type AnnotationInput,
  type Run,
  type RunInput,
  type RunsLimits,
  type RunsStore,
  type StopResult,
} from './runs-store.js';

// KEYS: runs, stopped, order, seq. ARGV: id prefix, the run's JSON after its id (`,"name":…}`), max runs.
const START_LUA = `
local n = redis.call('INCR', KEYS[4])
local id = ARGV[1] .. n
redis.call('HSET', KEYS[1], id, '{"id":"' .. id .. '"' .. ARGV[2])
redis.call('ZADD', KEYS[3], n, id)
local over = redis.call('ZCARD', KEYS[3]) - tonumber(ARGV[3])
if over > 0 then
  local gone = redis.call('ZPOPMIN', KEYS[3], over)
  for i = 1, #gone, 2 do
    redis.call('HDEL', KEYS[1], gone[i])
    redis.call('HDEL', KEYS[2], gone[i])
  end
end
return n
`;

// KEYS: runs, stopped. ARGV: id, now. Returns [0] unknown, [1, run, stop] stopped now, [2, run, stop] stopped before.
const STOP_LUA = `
local run = redis.call('HGET', KEYS[1], ARGV[1])
if not run then return {0} end
local set = redis.call('HSETNX', KEYS[2], ARGV[1], ARGV[2])
return {set == 1 and 1 or 2, run, redis.call('HGET', KEYS[2], ARGV[1])}
`;

// KEYS: annotations, by time, seq. ARGV: id prefix, the JSON after the id, timestamp, max annotations.
const ANNOTATE_LUA = `
local n = redis.call('INCR', KEYS[3])
local id = ARGV[1] .. n
redis.call('HSET', KEYS[1], id, '{"id":"' .. id .. '"' .. ARGV[2])
redis.call('ZADD', KEYS[2], ARGV[3], id)
local over = redis.call('ZCARD', KEYS[2]) - tonumber(ARGV[4])
if over > 0 then
  local gone = redis.call('ZPOPMIN', KEYS[2], over)
  for i = 1, #gone, 2 do redis.call('HDEL', KEYS[1], gone[i]) end
end
return n
`;

interface RunsCommands {
  pulseRunStart(runs: string, stopped: string, order: string, seq: string, idPrefix: string, rest: string, max: number): Promise<number>;
  pulseRunStop(runs: string, stopped: string, id: string, now: string): Promise<[number, string?, string?]>;
  pulseAnnotate(annotations: string, byTime: string, seq: string, idPrefix: string, rest: string, timestamp: string, max: number): Promise<number>;
}

/** The JSON of `{id, ...fields}` after the id, which the scripts write before it: `,"name":…}`. */
function afterId(fields: object): string {
  return JSON.stringify({ id: '', ...fields }).slice('{"id":""'.length);
}

export class RedisRunsStore implements RunsStore {
  private readonly commands: RunsCommands;

  /** @param redis a fail-fast connection: a request must not hang on an outage. */
  constructor(
    private readonly redis: RedisConnection,
    private readonly keys: RunsKeys,
    private readonly limits: RunsLimits = DEFAULT_RUNS_LIMITS,
  ) {
    redis.defineCommand('pulseRunStart', { numberOfKeys: 4, lua: START_LUA });
    redis.defineCommand('pulseRunStop', { numberOfKeys: 2, lua: STOP_LUA });
    redis.defineCommand('pulseAnnotate', { numberOfKeys: 3, lua: ANNOTATE_LUA });
    this.commands = redis as unknown as RunsCommands;
  }

  async startRun(input: RunInput, now: number): Promise<Run> {
    const fields = { name: input.name, labels: input.labels, started_at: now };
    const k = this.keys;
    const n = Number(await this.commands.pulseRunStart(k.runs, k.runsStopped, k.runsOrder, k.runsSeq, RUN_ID_PREFIX, afterId(fields), this.limits.maxRuns));
    return { id: runId(n), ...fields, labels: { ...input.labels } };
  }

  async stopRun(id: string, now: number): Promise<StopResult> {
    const [status, json, stoppedAt] = await this.commands.pulseRunStop(this.keys.runs, this.keys.runsStopped, id, String(now));
    if (Number(status) === 0 || json === undefined) return { kind: 'not_found' };
    const run = withStop(JSON.parse(json) as Run, Number(stoppedAt));
    return Number(status) === 1 ? { kind: 'stopped', run } : { kind: 'already_stopped', run };
  }

  async getRun(id: string): Promise<Run | null> {
    const [json, stoppedAt] = await Promise.all([this.redis.hget(this.keys.runs, id), this.redis.hget(this.keys.runsStopped, id)]);
    return json === null ? null : withStop(JSON.parse(json) as Run, stoppedAt === null ? null : Number(stoppedAt));
  }

  async listRuns(): Promise<Run[]> {
    const ids = await this.redis.zrevrange(this.keys.runsOrder, 0, -1);
    if (ids.length === 0) return [];
    const [runs, stops] = await Promise.all([this.redis.hmget(this.keys.runs, ...ids), this.redis.hmget(this.keys.runsStopped, ...ids)]);
    const list: Run[] = [];
    runs.forEach((json, i) => {
      // Trimmed between the two reads: gone.
      if (json !== null) list.push(withStop(JSON.parse(json) as Run, stops[i] === null ? null : Number(stops[i])));
    });
    return list;
  }

  async addAnnotation(input: AnnotationInput): Promise<Annotation> {
    const fields = { timestamp: input.timestamp, text: input.text, ...(input.run_id !== undefined && { run_id: input.run_id }) };
    const k = this.keys;
    const n = Number(
      await this.commands.pulseAnnotate(k.annotations, k.annotationsByTime, k.annotationsSeq, ANNOTATION_ID_PREFIX, afterId(fields), String(input.timestamp), this.limits.maxAnnotations),
    );
    return { id: annotationId(n), ...fields };
  }

  async listAnnotations(since: number, until: number): Promise<Annotation[]> {
    const ids = await this.redis.zrangebyscore(this.keys.annotationsByTime, String(since), String(until));
    if (ids.length === 0) return [];
    const found = await this.redis.hmget(this.keys.annotations, ...ids);
    return found.filter((json): json is string => json !== null).map((json) => JSON.parse(json) as Annotation);
  }
}
