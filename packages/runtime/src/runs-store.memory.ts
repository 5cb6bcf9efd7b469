/**
 * Runs and annotations in process, for `npm start` without Redis: the same
 * contract as the Redis store (runs-store.contract.test.ts), gone with the
 * process.
 */
import {
  annotationId,
  DEFAULT_RUNS_LIMITS,
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

export class MemoryRunsStore implements RunsStore {
  /** In start order: the oldest first. */
  private readonly runs = new Map<string, Run>();
  /** Sorted by timestamp, then by id's number (the order they were added in). */
  private annotations: { seq: number; annotation: Annotation }[] = [];
  private runSeq = 0;
  private annotationSeq = 0;

  constructor(private readonly limits: RunsLimits = DEFAULT_RUNS_LIMITS) {}

  async startRun(input: RunInput, now: number): Promise<Run> {
    const run: Run = { id: runId(++this.runSeq), name: input.name, labels: { ...input.labels }, started_at: now };
    this.runs.set(run.id, run);
    for (const id of this.runs.keys()) {
      if (this.runs.size <= this.limits.maxRuns) break;
      this.runs.delete(id);
    }
    return copy(run);
  }

  async stopRun(id: string, now: number): Promise<StopResult> {
    const run = this.runs.get(id);
    if (!run) return { kind: 'not_found' };
    if (run.stopped_at !== undefined) return { kind: 'already_stopped', run: copy(run) };
    const stopped = withStop(run, now);
    this.runs.set(id, stopped);
    return { kind: 'stopped', run: copy(stopped) };
  }

  async getRun(id: string): Promise<Run | null> {
    const run = this.runs.get(id);
    return run ? copy(run) : null;
  }

  async listRuns(): Promise<Run[]> {
    return [...this.runs.values()].reverse().map(copy);
  }

  async addAnnotation(input: AnnotationInput): Promise<Annotation> {
    const seq = ++this.annotationSeq;
    const annotation: Annotation = { id: annotationId(seq), timestamp: input.timestamp, text: input.text, ...(input.run_id !== undefined && { run_id: input.run_id }) };
    // Redis orders equal scores by member; "ann-10" < "ann-9" there, so do the same here.
    const at = this.annotations.findIndex((a) => a.annotation.timestamp > annotation.timestamp || (a.annotation.timestamp === annotation.timestamp && a.annotation.id > annotation.id));
    this.annotations.splice(at === -1 ? this.annotations.length : at, 0, { seq, annotation });
    if (this.annotations.length > this.limits.maxAnnotations) this.annotations = this.annotations.slice(this.annotations.length - this.limits.maxAnnotations);
    return { ...annotation };
  }

  async listAnnotations(since: number, until: number): Promise<Annotation[]> {
    return this.annotations.filter(({ annotation: a }) => a.timestamp >= since && a.timestamp <= until).map(({ annotation }) => ({ ...annotation }));
  }
}

function copy(run: Run): Run {
  return { ...run, labels: { ...run.labels } };
}
