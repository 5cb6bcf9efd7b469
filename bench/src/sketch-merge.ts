/**
 * Why Pulse has its own histogram: @datadog/sketches-js adds fast but merges
 * slowly, and a gateway merges one sketch per cell per view per tick. Both are
 * fed the same latency samples and merged the same way, side by side.
 */
import { DDSketch } from '@datadog/sketches-js';
import { LogHistogram } from '@pulse/metrics';
import { seededRandom } from '@pulse/simulator';
import { measure, percentile, round } from './timing.js';

export interface SketchResult {
  samplesPerSketch: number;
  addNs: { ddsketch: number; pulse: number };
  mergeUs: { ddsketch: number; pulse: number };
  mergeSpeedup: number;
}

export function benchSketches(): SketchResult {
  const r = seededRandom(3);
  const n = 2000;
  const values = Array.from({ length: n }, () => Math.exp(5 + 0.8 * Math.sqrt(-2 * Math.log(1 - r())) * Math.cos(2 * Math.PI * r())));

  const addDd = measure(() => {
    const s = new DDSketch({ relativeAccuracy: 0.01 });
    for (const v of values) s.accept(v);
  }, 50);
  const addPulse = measure(() => {
    const h = new LogHistogram();
    for (const v of values) h.add(v);
  }, 50);

  const dd = Array.from({ length: 8 }, () => new DDSketch({ relativeAccuracy: 0.01 }));
  const ph = Array.from({ length: 8 }, () => new LogHistogram());
  values.forEach((v, i) => {
    dd[i % 8]!.accept(v);
    ph[i % 8]!.add(v);
  });
  const phData = ph.map((h) => ({ ...h.data(), counts: Float64Array.from(h.data().counts) }));
  const mergeDd = measure(() => {
    const acc = new DDSketch({ relativeAccuracy: 0.01 });
    for (const s of dd) acc.merge(s);
  }, 300);
  const scratch = new LogHistogram();
  const mergePulse = measure(() => {
    scratch.reset();
    for (const d of phData) scratch.merge(d);
  }, 300);

  const ddUs = (percentile(mergeDd, 0.5) * 1000) / dd.length;
  const pulseUs = (percentile(mergePulse, 0.5) * 1000) / phData.length;
  return {
    samplesPerSketch: n / 8,
    addNs: { ddsketch: round((percentile(addDd, 0.5) * 1e6) / n, 1), pulse: round((percentile(addPulse, 0.5) * 1e6) / n, 1) },
    mergeUs: { ddsketch: round(ddUs, 2), pulse: round(pulseUs, 2) },
    mergeSpeedup: round(ddUs / pulseUs, 1),
  };
}
