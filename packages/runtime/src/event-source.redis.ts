/**
 * The aggregator's side of the Redis event stream. Two connections, by role:
 * `blocking` for XREAD / XREADGROUP BLOCK (patient, holds its socket while it
 * waits), `commands` for everything else that must fail fast (commit, meta).
 */
import { decodeBatch, ENTRY_FIELD, PREV_FIELD, type PulseKeys } from '@pulse/protocol';
import type { LogEntry } from './event-log.js';
import { idMs, type EventSource, type Fence } from './event-source.js';
import { closeRedis, type RedisConnection } from './redis.js';

// KEYS: meta, stream. The store's creation time, fixed once: now, or the
// oldest entry if ingest ran before any aggregator did.
const CREATED_AT_LUA = `
local c = redis.call('HGET', KEYS[1], 'created_at')
if c then return c end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local first = redis.call('XRANGE', KEYS[2], '-', '+', 'COUNT', 1)
if first[1] then
  local ms = tonumber(string.match(first[1][1], '^(%d+)'))
  if ms < now then now = ms end
end
local s = string.format('%d', now)
redis.call('HSET', KEYS[1], 'created_at', s)
return s
`;

/** Ids per XACK call inside the commit script. */
const ACK_SLICE = 4000;

// KEYS: lease, stream, totals. ARGV: lease value expected, group, #ids, ids…,
// then field/increment pairs. Acknowledge and count only while still leader:
// a fenced-off former leader changes nothing. One call, so the acks and the
// totals of a batch land together or not at all; XACK takes the ids in
// slices because unpack() has a stack limit (~8,000).
const COMMIT_LUA = `
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
local n = tonumber(ARGV[3])
for i = 4, 3 + n, ${ACK_SLICE} do
  redis.call('XACK', KEYS[2], ARGV[2], unpack(ARGV, i, math.min(i + ${ACK_SLICE - 1}, 3 + n)))
end
for i = 4 + n, #ARGV, 2 do
  -- A total moved to another cell (a retired node's) reaches 0: its field goes, so the hash stays bounded.
  if redis.call('HINCRBY', KEYS[3], ARGV[i], ARGV[i + 1]) == 0 then redis.call('HDEL', KEYS[3], ARGV[i]) end
end
return 1
`;

type RawEntry = [string, string[]] | null;

export interface RedisEventSourceOptions {
  keys: PulseKeys;
  /** This consumer's name in the group; unique per process. */
  consumer: string;
  /** Entries pending this long with another consumer are taken over. */
  reclaimIdleMs: number;
}

export class RedisEventSource implements EventSource {
  private reclaimFrom = '0-0';
  private lastReclaim = 0;
  private dropped = 0;
  /** The next claim takes over every pending entry, however fresh (set on becoming leader). */
  private reclaimEverything = true;

  constructor(
    private readonly blocking: RedisConnection,
    private readonly commands: RedisConnection,
    private readonly opts: RedisEventSourceOptions,
  ) {
    commands.defineCommand('pulseCreatedAt', { numberOfKeys: 2, lua: CREATED_AT_LUA });
    commands.defineCommand('pulseCommit', { numberOfKeys: 3, lua: COMMIT_LUA });
  }

  /** Events in entries that failed validation since the start. */
  get droppedEvents(): number {
    return this.dropped;
  }

  async createdAt(): Promise<number> {
    const { keys } = this.opts;
    if (keys.allEvents.length > 1) return this.partitionedCreatedAt();
    const raw = (await (this.commands as unknown as ScriptCommands).pulseCreatedAt(keys.meta, keys.events)) as string;
    return Number(raw);
  }

  /**
   * With partitions, every partition's window counts from one creation time
   * (rates divide by the same covered length, so partitions' figures add up
   * to the unpartitioned ones). The streams are in other slots than the
   * meta, so no one script sees them all: the oldest entry of any partition
   * is looked up, then HSETNX fixes the first value written, which everyone
   * reads back.
   */
  private async partitionedCreatedAt(): Promise<number> {
    const { keys } = this.opts;
    const known = await this.commands.hget(keys.meta, 'created_at');
    if (known !== null) return Number(known);
    const [seconds, micros] = (await this.commands.time()) as [string | number, string | number];
    let now = Number(seconds) * 1000 + Math.floor(Number(micros) / 1000);
    for (const stream of keys.allEvents) {
      const [first] = await this.commands.xrange(stream, '-', '+', 'COUNT', 1);
      if (first) now = Math.min(now, idMs(first[0]));
    }
    await this.commands.hsetnx(keys.meta, 'created_at', String(now));
    return Number(await this.commands.hget(keys.meta, 'created_at'));
  }

  async loadTotals(): Promise<Record<string, string>> {
    return this.commands.hgetall(this.opts.keys.totals);
  }

  async tail(afterId: string, count: number, blockMs: number): Promise<LogEntry[]> {
    const block = blockMs > 0 ? ['BLOCK', blockMs] : [];
    const reply = await this.blocking.call('XREAD', 'COUNT', count, ...block, 'STREAMS', this.opts.keys.events, afterId);
    return this.decode(streamEntries(reply));
  }

  async has(id: string): Promise<boolean> {
    return (await this.commands.xrange(this.opts.keys.events, id, id)).length > 0;
  }

  takeOver(): void {
    this.reclaimEverything = true;
    this.reclaimFrom = '0-0';
  }

  async claim(count: number, blockMs: number): Promise<LogEntry[]> {
    const reclaimed = await this.reclaim(count);
    if (reclaimed.length > 0) return reclaimed;
    const { keys, consumer } = this.opts;
    const block = blockMs > 0 ? ['BLOCK', blockMs] : [];
    const args = ['GROUP', keys.group, consumer, 'COUNT', count, ...block, 'STREAMS', keys.events, '>'];
    try {
      return this.decode(streamEntries(await this.blocking.call('XREADGROUP', ...args)));
    } catch (err) {
      if (!String((err as Error).message).startsWith('NOGROUP')) throw err;
      await this.createGroup();
      return [];
    }
  }

  async commit(ids: readonly string[], totals: ReadonlyMap<string, number>, fence: Fence): Promise<boolean> {
    const { keys } = this.opts;
    const lease = `${fence.token}|${fence.epoch}`;
    // One array argument (ioredis flattens it), never spread into the call: a read of 20,000 events
    // touching a fleet's 6,400 cells has ~10^5 totals fields, past what a call's arguments may hold.
    const args: (string | number)[] = [lease, keys.group, ids.length, ...ids];
    for (const [field, n] of totals) args.push(field, n);
    const ok = (await (this.commands as unknown as ScriptCommands).pulseCommit(keys.leaderLease, keys.events, keys.totals, args)) as number;
    return ok === 1;
  }

  async close(): Promise<void> {
    await Promise.all([closeRedis(this.blocking), closeRedis(this.commands)]);
  }

  /**
   * Takes over entries pending with consumers that went quiet — after a
   * takeover, all of them. A takeover pass runs to its end (the cursor back
   * at 0-0) before any new entry is read, so it never takes back entries this
   * consumer read itself.
   */
  private async reclaim(count: number): Promise<LogEntry[]> {
    const { keys, consumer, reclaimIdleMs } = this.opts;
    // Outside a takeover, looking for stuck entries now and then is enough.
    if (!this.reclaimEverything && Date.now() - this.lastReclaim < reclaimIdleMs / 2) return [];
    this.lastReclaim = Date.now();
    const minIdle = this.reclaimEverything ? 0 : reclaimIdleMs;
    for (;;) {
      let reply: [string, RawEntry[], string[]?];
      try {
        reply = (await this.commands.call('XAUTOCLAIM', keys.events, keys.group, consumer, minIdle, this.reclaimFrom, 'COUNT', count)) as typeof reply;
      } catch (err) {
        if (!String((err as Error).message).startsWith('NOGROUP')) throw err;
        await this.createGroup();
        this.reclaimEverything = false; // a new group has nothing pending
        return [];
      }
      const [next, raw] = reply;
      this.reclaimFrom = next;
      if (next === '0-0') this.reclaimEverything = false;
      const entries = this.decode(raw);
      if (entries.length > 0 || next === '0-0') return entries;
    }
  }

  /**
   * Creates the group at the start of the stream: entries accepted before any
   * aggregator ran still count. A missing group means a new or a lost store
   * (Redis restarted empty), so the store's meta is established with it — not
   * left to whichever replica next rebuilds its window.
   */
  private async createGroup(): Promise<void> {
    try {
      await this.commands.call('XGROUP', 'CREATE', this.opts.keys.events, this.opts.keys.group, '0', 'MKSTREAM');
    } catch (err) {
      if (!String((err as Error).message).startsWith('BUSYGROUP')) throw err;
      return;
    }
    await this.createdAt();
  }

  private decode(raw: RawEntry[]): LogEntry[] {
    const out: LogEntry[] = [];
    for (const entry of raw) {
      if (!entry) continue; // trimmed away while pending
      const [id, fields] = entry;
      let value: string | undefined;
      let prev: string | undefined;
      for (let i = 0; i + 1 < fields.length; i += 2) {
        if (fields[i] === ENTRY_FIELD) value = fields[i + 1];
        else if (fields[i] === PREV_FIELD) prev = fields[i + 1];
      }
      const batch = decodeBatch(value);
      this.dropped += batch.dropped;
      out.push(prev === undefined ? { id, events: batch.events } : { id, events: batch.events, prev });
    }
    return out;
  }
}

/**
 * The entries of a one-stream XREAD / XREADGROUP reply: RESP2 gives [[key, entries]],
 * RESP3 (ioredis 6's default) a map that arrives flattened as [key, entries].
 */
function streamEntries(reply: unknown): RawEntry[] {
  if (!Array.isArray(reply) || reply.length === 0) return [];
  const first: unknown = reply[0];
  const entries: unknown = Array.isArray(first) ? first[1] : reply[1];
  return Array.isArray(entries) ? (entries as RawEntry[]) : [];
}

interface ScriptCommands {
  pulseCreatedAt(meta: string, stream: string): Promise<unknown>;
  pulseCommit(lease: string, stream: string, totals: string, args: (string | number)[]): Promise<unknown>;
}
