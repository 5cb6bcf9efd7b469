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
import { CELL_DISTRIBUTIONS, type CellData, type CellDistribution, type InternalSnapshot, type MetricType, type NodeData } from '@pulse/protocol';
import { buildView, SlidingMin, type CellFilter } from '@pulse/metrics';
import { ALL, CellSum, decodeRecord, isRollup, type HistoryRecord } from './record.js';
import type { HistoryAnswer, HistoryPoint, HistoryQuery, HistoryReader, HistorySummary } from './reader.js';
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

/**
 * The cells of a record that give view (filter, types) exactly: every cell;
 * of a rolled-up record (docs/HISTORY.md "Rollups"), the rollups over every
 * node when the view neither filters nor shows nodes, else those over every
 * model when it does not filter models; else none do (`null`).
 */
export type CellsRead = 'cells' | 'over-nodes' | 'over-models';

export function rollupFor(filter: CellFilter, types: readonly MetricType[]): CellsRead | null {
  if (filter.nodes.size === 0 && !types.includes('nodes')) return 'over-nodes';
  if (filter.models.size === 0) return 'over-models';
  return null;
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
  plan(q: Pick<HistoryQuery, 'since' | 'until' | 'step'> & Partial<Pick<HistoryQuery, 'filter' | 'types'>>): { tier: Tier; stepMs: number; spanMs: number; times: number[] } {
    const { windowMs } = this.opts;
    checkSpan(q);
    const now = this.now();
    const sinceMs = Math.round(q.since * 1000);
    const untilMs = Math.min(Math.round(q.until * 1000), now);
    const covers = (t: Tier) => sinceMs >= now - t.retentionMs - t.stepMs;
    const tiers = this.tiersFor(q, covers);
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

  /**
   * The tiers that can answer the view: a view by node and model together (or
   * showing nodes under a model filter) only those that keep every cell. When
   * none of those still holds `since` and a rolled-up one would, a clear refusal.
   */
  private tiersFor(q: Partial<Pick<HistoryQuery, 'filter' | 'types'>>, covers: (t: Tier) => boolean): readonly Tier[] {
    const { tiers } = this.opts;
    if (!q.filter || !q.types || rollupFor(q.filter, q.types) !== null) return tiers;
    const cells = tiers.filter((t) => !t.rollup);
    if (cells.some(covers) || !tiers.some(covers)) return cells.length > 0 ? cells : tiers;
    const kept = cells[cells.length - 1];
    throw new HistoryQueryError(
      'since',
      `a view by node and model together (or showing nodes under a model filter) is kept ${kept ? `for ${formatSpan(kept.retentionMs)} (tier ${kept.name})` : 'in no tier'}; ` +
        'coarser tiers keep rollups by endpoint × model and by node × endpoint (PULSE_HISTORY_CELL_TIERS): ask for a later since, or drop the node or the model filter',
    );
  }

  async query(q: HistoryQuery): Promise<HistoryAnswer> {
    const { tier, stepMs, spanMs, times } = this.plan(q);
    // Cell records give any view; rolled-up ones (plan keeps those out of a view they cannot give) one of their rollups.
    const read = rollupFor(q.filter, q.types) ?? 'cells';
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
      buckets.push(bucketOf(index, tier, records, q.filter, read));
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
      points.push({ timestamp: t / 1000, data: partsOf(view, q.types) });
    }
    return { step: stepMs / 1000, points };
  }

  /**
   * The view's figures over [since, until) as one — a run's, say: rates over
   * the span, percentiles from the span's merged histograms, not means of
   * points'. The span is rounded in to the buckets of the finest tier that
   * still holds `since` (out, when no whole bucket lies within it); its whole stretches of coarser buckets are read from
   * those tiers (fewer records, the same sums). Null when nothing is recorded.
   */
  async summary(q: Omit<HistoryQuery, 'step'>): Promise<HistorySummary | null> {
    checkSpan(q);
    const now = this.now();
    const sinceMs = Math.round(q.since * 1000);
    const covers = (t: Tier) => sinceMs >= now - t.retentionMs - t.stepMs;
    const holding = this.tiersFor(q, covers).filter(covers);
    const finest = holding[0];
    if (!finest) return null;
    const untilMs = Math.min(Math.round(q.until * 1000), now);
    // Rounded in: a run stopped and the next started at once share the bucket between them,
    // and that bucket in either run's figures mixed the two (the next run's slow requests set
    // this one's p99). A span within one bucket reads the bucket(s) holding it.
    let fromMs = Math.ceil(sinceMs / finest.stepMs) * finest.stepMs;
    let toMs = Math.floor(untilMs / finest.stepMs) * finest.stepMs;
    if (toMs <= fromMs) {
      fromMs = Math.floor(sinceMs / finest.stepMs) * finest.stepMs;
      toMs = Math.max(fromMs + finest.stepMs, Math.ceil(untilMs / finest.stepMs) * finest.stepMs);
    }
    const read = rollupFor(q.filter, q.types) ?? 'cells';
    const buckets: Bucket[] = [];
    // [from, to) from tiers 0…top: the whole buckets of `top` inside it, the ragged ends and any bucket
    // of `top` not written yet (a coarse one is written when it closes) from the finer tiers.
    const take = async (top: number, from: number, to: number): Promise<void> => {
      if (to <= from) return; // `from` and `to` are whole buckets of the finest tier: it always ends here
      const tier = holding[top]!;
      const a = Math.ceil(from / tier.stepMs) * tier.stepMs;
      const b = Math.floor(to / tier.stepMs) * tier.stepMs;
      if (a >= b) return take(top - 1, from, to);
      await take(top - 1, from, a);
      const numbers = Array.from({ length: (b - a) / tier.stepMs }, (_, i) => a / tier.stepMs + i);
      const blobs = await this.opts.store.read(tier, numbers);
      for (let i = 0; i < numbers.length; i++) {
        const n = numbers[i]!;
        if (blobs[i]!.length > 0) buckets.push(bucketOf(n, tier, blobs[i]!.map(decodeRecord), q.filter, read));
        else if (top > 0) await take(top - 1, n * tier.stepMs, (n + 1) * tier.stepMs);
      }
      await take(top - 1, b, to);
    };
    await take(holding.length - 1, fromMs, toMs);
    if (buckets.length === 0) return null;
    buckets.sort((a, b) => a.startMs - b.startMs);
    const units = new Map<string, Unit>();
    // Indices in order of addition: the sliding minima see one run of buckets, whichever tiers they came from.
    buckets.forEach((b, i) => addBucket(units, { ...b, index: i }, 1));
    const spanMs = toMs - fromMs;
    const newest = buckets.reduce((a, b) => (b.endS > a.endS ? b : a));
    const view = buildView({ ...this.snapshotOf(units, newest, toMs, spanMs), coveredSeconds: spanMs / 1000 }, q.filter);
    return { since: fromMs / 1000, until: toMs / 1000, data: partsOf(view, q.types) };
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

/** A bad since or until, named. */
function checkSpan(q: { since: number; until: number }): void {
  if (!Number.isFinite(q.since) || q.since < 0) throw new HistoryQueryError('since', 'expected seconds since the epoch');
  if (!Number.isFinite(q.until) || q.until < q.since) throw new HistoryQueryError('until', 'expected seconds since the epoch, not before since');
}

/** The parts of `view` a query asked for. */
function partsOf(view: ReturnType<typeof buildView>, types: readonly MetricType[]): HistoryPoint['data'] {
  const data: HistoryPoint['data'] = {};
  for (const type of types) (data as Record<string, unknown>)[type] = view.part(type);
  return data;
}

function selects(filter: CellFilter, c: { node: string; endpoint: string; model: string }): boolean {
  return (
    (filter.endpoints.size === 0 || filter.endpoints.has(c.endpoint)) &&
    (filter.models.size === 0 || filter.models.has(c.model)) &&
    (filter.nodes.size === 0 || filter.nodes.has(c.node))
  );
}

function formatSpan(ms: number): string {
  for (const [unit, size] of [['d', 86_400_000], ['h', 3_600_000], ['m', 60_000]] as const) if (ms % size === 0) return `${ms / size}${unit}`;
  return `${ms / 1000}s`;
}

/** Whether cell `c` of a rolled-up record (it holds both rollups) is one of those `read` takes. */
function reads(read: CellsRead, c: CellData): boolean {
  if (read === 'over-nodes') return c.node === ALL;
  if (read === 'over-models') return c.model === ALL && c.node !== ALL;
  return false;
}

function bucketOf(index: number, tier: Tier, records: HistoryRecord[], filter: CellFilter, read: CellsRead): Bucket {
  const cells: CellData[] = [];
  const nodes: NodeData[] = [];
  let covered = 0;
  let slos: readonly string[] = [];
  for (const r of records) {
    // A record written before its tier rolled up (PULSE_HISTORY_CELL_TIERS changed) holds cells, which give any view.
    const rolled = r.cells.some(isRollup);
    for (const c of r.cells) if ((!rolled || reads(read, c)) && selects(filter, c)) cells.push(c);
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
