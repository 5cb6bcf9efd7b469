/**
 * What bounds a fuzz suite: its time budget, how it runs fast-check within
 * it, and how memory is measured before and after.
 *
 * PULSE_FUZZ_SECONDS (default 10) is each suite's budget; the three suites
 * run in parallel under `npm test`, so the fuzzing costs CI about that
 * long. PULSE_FUZZ_SEED replays a failure: fast-check prints the seed.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import fc from 'fast-check';

export const FUZZ_SECONDS = Number(process.env.PULSE_FUZZ_SECONDS ?? 10);
if (!(FUZZ_SECONDS > 0)) throw new Error(`PULSE_FUZZ_SECONDS must be a positive number of seconds, got ${process.env.PULSE_FUZZ_SECONDS}`);
const SEED = process.env.PULSE_FUZZ_SEED === undefined ? undefined : Number(process.env.PULSE_FUZZ_SEED);

export interface FuzzReport {
  suite: string;
  cases: number;
  seconds: number;
}

/**
 * Runs `property` for `seconds` (a share of the suite's budget) and fails with fast-check's report, seed included, on the first
 * counterexample. No shrinking: a counterexample against live servers is
 * reported as found, since shrinking would replay it against state it
 * changed. `examples` run first: cases a suite must meet whatever the
 * random ones turn out to be.
 *
 * At the time limit fast-check stops waiting for the case in progress, not
 * the case: it would go on against the servers into whatever the suite does
 * next (a views case still subscribing while the next test filled the
 * ceiling). So it is awaited here, and fails the suite like any other.
 */
export async function fuzzFor<T>(suite: string, property: fc.IAsyncPropertyWithHooks<T>, seconds = FUZZ_SECONDS, examples: T[] = []): Promise<FuzzReport> {
  const started = performance.now();
  let last: ReturnType<typeof property.run> = Promise.resolve(null);
  const tracked = Object.create(property) as typeof property;
  tracked.run = (v) => (last = property.run(v));
  const details = await fc.check(tracked, {
    numRuns: 1_000_000,
    interruptAfterTimeLimit: seconds * 1000,
    markInterruptAsFailure: false,
    endOnFailure: true,
    examples,
    ...(SEED === undefined ? {} : { seed: SEED }),
  });
  if (details.failed) {
    // The failure first: a counterexample can be long enough to push it out of sight.
    const cause = details.errorInstance instanceof Error ? details.errorInstance.message : String(details.errorInstance);
    throw new Error(`${suite}: ${cause}\n${fc.defaultReportMessage(details)}`);
  }
  const late = await last;
  if (late !== null && !(late instanceof fc.PreconditionFailure)) {
    const cause = late.error instanceof Error ? late.error.message : String(late.error);
    throw new Error(`${suite}: the case running at the time limit failed: ${cause}`);
  }
  const report = { suite, cases: details.numRuns, seconds: (performance.now() - started) / 1000 };
  // The closing note of issue 7 quotes these lines.
  console.log(`fuzz ${suite}: ${report.cases} cases in ${report.seconds.toFixed(1)} s (seed ${details.seed})`);
  return report;
}

setFlagsFromString('--expose-gc');
/** A full collection, so heap sizes compare what is live rather than what is garbage. */
const gc = runInNewContext('gc') as () => void;

/** Live heap bytes of this process after a full collection. */
export function liveHeapBytes(): number {
  gc();
  gc();
  return process.memoryUsage().heapUsed;
}

/** Resident set of another process in bytes (Linux), or null where /proc is not there. */
export async function residentBytes(pid: number): Promise<number | null> {
  const { readFile } = await import('node:fs/promises');
  try {
    const status = await readFile(`/proc/${pid}/status`, 'utf8');
    const kb = /^VmRSS:\s+(\d+) kB$/m.exec(status)?.[1];
    return kb === undefined ? null : Number(kb) * 1024;
  } catch {
    return null;
  }
}

export const MB = 1024 * 1024;

/**
 * Runs `step(0)`, `step(1)`, … one after another, a few ms apart, until
 * stopped: the well-formed traffic sent alongside the fuzzing. A failing
 * step ends the loop and is reported by stop(), not as an unhandled
 * rejection in the middle of the fuzzing.
 */
export function alongside(step: (i: number) => Promise<void>): { stop(): Promise<number> } {
  let stopping = false;
  let steps = 0;
  const loop = (async () => {
    for (; !stopping; steps++) {
      await step(steps);
      await new Promise((r) => setTimeout(r, 5));
    }
  })();
  loop.catch(() => {});
  return {
    stop: async () => {
      stopping = true;
      await loop;
      return steps;
    },
  };
}
