/**
 * Answers a HistoryQuery from the store (docs/HISTORY.md §Reading). A point
 * at time t with step s holds the view's figures over the buckets in
 * [t − max(W, s), t) of the tier read (W the window): at the tick tier that
 * is what the live snapshot of t held. The records are read once for the
 * whole range and slid over: each bucket's record is added when the points
 * reach it and taken out when they pass it (counts, sums and histograms
 * subtract exactly; min and max follow with a SlidingMin), so a query costs
 * a decode and two merges per record, not one merge per point and record.
 */
import { CELL_DISTRIBUTIONS, type CellData, type CellDistribution, type InternalSnapshot, type NodeData } from '@pulse/protocol';
import { buildView, SlidingMin, type CellFilter } from '@pulse/metrics';
import { CellSum, decodeRecord, type HistoryRecord } from './record.js';
import type { HistoryAnswer, HistoryPoint, HistoryQuery, HistoryReader } from './reader.js';
import type { HistoryStore } from './store.js';
import type { Tier } from './tiers.js';

/** Points an answer holds at most; an auto step keeps under it, an explicit one that would exceed it is refused. */
export const MAX_POINTS = 1000;

/** A query the store cannot answer as asked: `param` names what to change. */
export class HistoryQueryError extends Error {
  override readonly name = 'HistoryQueryError';
  constructor(
    readonly param: 'since' | 'until' | 'step',
    message: string,
  ) {
    super(`${param}: ${message}`);
  }
}

export interface StoreHistoryReaderOptions {
  store: HistoryStore;
  tiers: readonly Tier[];
  /** PULSE_WINDOW_SECONDS × 1000. */
  windowMs: number;
  now?: () => number;
}

interface Unit {
  readonly sum: CellSum;
  readonly lows: Record<CellDistribution, SlidingMin>;
  readonly highs: Record<CellDistribution, SlidingMin>;
}

interface Bucket {
  readonly index: number;
  readonly startMs: number;
  /** The selected cells of every partition's record of it. */
  readonly cells: CellData[];
  readonly nodes: NodeData[];
  readonly coveredSeconds: number;
  readonly slos: readonly string[];
  readonly endS: number;
}

export class StoreHistoryReader implements HistoryReader {
  private readonly now: () => number;

  constructor(private readonly opts: StoreHistoryReaderOptions) {
    this.now = opts.now ?? Date.now;
  }

  /** The tier and step (ms) a query reads, and its points' times (ms). */
  plan(q: Pick<HistoryQuery, 'since' | 'until' | 'step'>): { tier: Tier; stepMs: number; spanMs: number; times: number[] } {
    const { tiers, windowMs } = this.opts;
    if (!Number.isFinite(q.since) || q.since < 0) throw new HistoryQueryError('since', 'expected seconds since the epoch');
    if (!Number.isFinite(q.until) || q.until < q.since) throw new HistoryQueryError('until', 'expected seconds since the epoch, not before since');
    const now = this.now();
    const sinceMs = Math.round(q.since * 1000);
    const untilMs = Math.min(Math.round(q.until * 1000), now);
    const covers = (t: Tier) => sinceMs >= now - t.retentionMs - t.stepMs;
    const fits = (t: Tier, stepMs: number) => stepMs % t.stepMs === 0 && Math.max(windowMs, stepMs) % t.stepMs === 0;
    let tier: Tier | undefined;
    let stepMs: number;
    if (q.step !== undefined) {
      if (!Number.isFinite(q.step) || q.step <= 0) throw new HistoryQueryError('step', 'expected seconds > 0');
      stepMs = Math.round(q.step * 1000);
      const usable = tiers.filter((t) => fits(t, stepMs));
      if (usable.length === 0) throw new HistoryQueryError('step', `expected a multiple of ${tiers.map((t) => t.name).join(' or ')}`);
      // The coarsest tier that holds `since` reads the fewest records; else the one that keeps the longest.
      tier = [...usable].reverse().find(covers) ?? usable[usable.length - 1]!;
    } else {
      const span = Math.max(0, untilMs - sinceMs);
      tier = tiers.find((t) => covers(t) && fits(t, t.stepMs) && span / t.stepMs <= MAX_POINTS);
      if (tier) stepMs = tier.stepMs;
      else {
        tier = [...tiers].reverse().find((t) => fits(t, t.stepMs)) ?? tiers[tiers.length - 1]!;
        stepMs = Math.ceil(span / MAX_POINTS / tier.stepMs) * tier.stepMs;
        while (!fits(tier, stepMs)) stepMs += tier.stepMs;
      }
    }
    const first = Math.ceil(sinceMs / stepMs) * stepMs;
    const count = untilMs >= first ? Math.floor((untilMs - first) / stepMs) + 1 : 0;
    if (count > MAX_POINTS) {
      throw new HistoryQueryError('step', `${count} points from since to until at a step of ${stepMs / 1000} s, more than ${MAX_POINTS}: use step ≥ ${Math.ceil((untilMs - sinceMs) / MAX_POINTS / 1000)}`);
    }
    const times = Array.from({ length: count }, (_, i) => first + i * stepMs);
    return { tier, stepMs, spanMs: Math.max(windowMs, stepMs), times };
  }

  async query(q: HistoryQuery): Promise<HistoryAnswer> {
    const { tier, stepMs, spanMs, times } = this.plan(q);
    if (times.length === 0) return { step: stepMs / 1000, points: [] };
    const firstBucket = (times[0]! - spanMs) / tier.stepMs;
    const endBucket = times[times.length - 1]! / tier.stepMs;
    const numbers = Array.from({ length: endBucket - firstBucket }, (_, i) => firstBucket + i);
    const blobs = await this.opts.store.read(tier, numbers);
    const buckets: Bucket[] = [];
    numbers.forEach((index, i) => {
      const parts = blobs[i]!;
      if (parts.length === 0) return;
      const records = parts.map(decodeRecord);
      buckets.push(bucketOf(index, tier, records, q.filter));
    });
    // Past the newest record nothing is final yet (or the aggregators are gone): no points there.
    const newestEnd = buckets.length > 0 ? (buckets[buckets.length - 1]!.index + 1) * tier.stepMs : -Infinity;
    const units = new Map<string, Unit>();
    const points: HistoryPoint[] = [];
    let added = 0;
    let removed = 0;
    for (const t of times) {
      if (t > newestEnd) break;
      const from = (t - spanMs) / tier.stepMs;
      const to = t / tier.stepMs;
      while (added < buckets.length && buckets[added]!.index < to) addBucket(units, buckets[added++]!, 1);
      while (removed < added && buckets[removed]!.index < from) addBucket(units, buckets[removed++]!, -1);
      if (removed === added) continue; // nothing recorded over this point's span
      const newest = buckets[added - 1]!;
      const snapshot = this.snapshotOf(units, newest, t, spanMs);
      const view = buildView(snapshot, q.filter);
      const data: HistoryPoint['data'] = {};
      for (const type of q.types) (data as Record<string, unknown>)[type] = view.part(type);
      points.push({ timestamp: t / 1000, data });
    }
    return { step: stepMs / 1000, points };
  }

  private snapshotOf(units: Map<string, Unit>, newest: Bucket, tMs: number, spanMs: number): InternalSnapshot {
    const cells: CellData[] = [];
    for (const [key, u] of units) {
      const s = u.sum;
      const live = s.counters.requests > 0 || s.counters.responses > 0 || s.lastAt === newest.endS || CELL_DISTRIBUTIONS.some((d) => s.dists[d].count > 0);
      if (!live) {
        if (s.lastAt < newest.endS - spanMs / 1000) units.delete(key);
        continue;
      }
      cells.push(s.data(newest.endS, (d) => ({ min: u.lows[d].value, max: -u.highs[d].value })));
    }
    // The live snapshot's covered length while the store was younger than the window; the span otherwise.
    const covered = newest.coveredSeconds < this.opts.windowMs / 1000 ? newest.coveredSeconds : spanMs / 1000;
    return {
      epoch: 0,
      seq: 0,
      builtAt: tMs / 1000,
      coveredSeconds: covered,
      stats: { eventsApplied: 0, eventsDropped: 0, labelsFolded: 0 },
      slos: newest.slos,
      nodes: newest.nodes,
      cells,
    };
  }
}

function selects(filter: CellFilter, c: { node: string; endpoint: string; model: string }): boolean {
  return (
    (filter.endpoints.size === 0 || filter.endpoints.has(c.endpoint)) &&
    (filter.models.size === 0 || filter.models.has(c.model)) &&
    (filter.nodes.size === 0 || filter.nodes.has(c.node))
  );
}

function bucketOf(index: number, tier: Tier, records: HistoryRecord[], filter: CellFilter): Bucket {
  const cells: CellData[] = [];
  const nodes: NodeData[] = [];
  let covered = 0;
  let slos: readonly string[] = [];
  for (const r of records) {
    for (const c of r.cells) if (selects(filter, c)) cells.push(c);
    nodes.push(...r.nodes);
    covered = Math.max(covered, r.coveredSeconds);
    if (r.slos.length > slos.length) slos = r.slos;
  }
  return { index, startMs: index * tier.stepMs, cells, nodes, coveredSeconds: covered, slos, endS: ((index + 1) * tier.stepMs) / 1000 };
}

function addBucket(units: Map<string, Unit>, b: Bucket, sign: 1 | -1): void {
  for (const c of b.cells) {
    const key = `${c.node}\u0000${c.endpoint}\u0000${c.model}`;
    let u = units.get(key);
    if (!u) {
      if (sign < 0) continue;
      const mins = () => Object.fromEntries(CELL_DISTRIBUTIONS.map((d) => [d, new SlidingMin()])) as Record<CellDistribution, SlidingMin>;
      units.set(key, (u = { sum: new CellSum(c.node, c.endpoint, c.model), lows: mins(), highs: mins() }));
    }
    u.sum.add(c, b.endS, sign);
    for (const d of CELL_DISTRIBUTIONS) {
      const dist = c[d];
      if (dist.count === 0) continue;
      if (sign > 0) {
        u.lows[d].add(b.index, dist.min);
        u.highs[d].add(b.index, -dist.max);
      } else {
        u.lows[d].expire(b.index);
        u.highs[d].expire(b.index);
      }
    }
  }
}
