/**
 * For the partitioned fault tests (PULSE_PARTITIONS > 1): a producer whose
 * every batch holds one streaming request per node of `nodes` — so a batch
 * spans partitions and ingest splits it — posted with an Idempotency-Key and
 * posted again with the same key until answered 202, as the Reporter does.
 * A 503 after some partitions appended and others did not is then completed
 * by the retry (replayed where stored, appended where not): each request is
 * counted once.
 */
import { randomUUID } from 'node:crypto';
import { getJson, postEvents, requests, sleep } from './support.js';

export class SpanningProducer {
  /** Streaming requests in batches answered 202. */
  acknowledged = 0;
  /** Batches answered 202 as a replay (`Idempotent-Replayed`): an earlier attempt was stored in some partition. */
  replayed = 0;
  /** Attempts not answered 202, by status or error. */
  readonly refusals = new Map<number | string, number>();
  /** Arrival of each 202 (ms). */
  readonly accepts: number[] = [];
  private running = false;
  private loops: Promise<void>[] = [];
  private n = 0;

  constructor(
    private readonly targets: () => string[],
    private readonly nodes: readonly string[],
    private readonly periodMs = 100,
  ) {}

  start(concurrency = 2): this {
    this.running = true;
    this.loops = Array.from({ length: concurrency }, () => this.loop());
    return this;
  }

  async stop(): Promise<this> {
    this.running = false;
    await Promise.all(this.loops);
    return this;
  }

  get retries(): number {
    return [...this.refusals.values()].reduce((a, b) => a + b, 0);
  }

  describeRefusals(): string {
    return [...this.refusals].map(([k, v]) => `${k}×${v}`).join(' ') || 'none';
  }

  private async loop(): Promise<void> {
    while (this.running) {
      const events = this.nodes.flatMap((node) => requests(1, { node, tag: 'part' }).events);
      const key = randomUUID();
      // A batch started is posted until acknowledged, even past stop(): what was sent must be counted.
      for (;;) {
        const targets = this.targets();
        let outcome: number | string;
        try {
          const res = await postEvents(targets[this.n++ % targets.length]!, events, { 'idempotency-key': key }, 3000);
          outcome = res.status;
          await res.arrayBuffer();
          if (res.status === 202) {
            this.acknowledged += this.nodes.length;
            if (res.headers.get('idempotent-replayed') === 'true') this.replayed++;
            this.accepts.push(Date.now());
            break;
          }
        } catch (err) {
          outcome = (err as { cause?: { code?: string } }).cause?.code ?? (err as Error).name;
        }
        this.refusals.set(outcome, (this.refusals.get(outcome) ?? 0) + 1);
        await sleep(100);
      }
      await sleep(this.periodMs);
    }
  }
}

/** Each partition's role in an aggregator process (its /status `partitions`); empty when it does not answer. */
export async function partitionRoles(url: string): Promise<Map<number, string>> {
  try {
    const { body } = await getJson(`${url}/status`, 1000);
    const list = (body.partitions ?? []) as { partition: number; role: string }[];
    return new Map(list.map((p) => [p.partition, p.role]));
  } catch {
    return new Map();
  }
}
