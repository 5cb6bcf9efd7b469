/** Distinct views beside one shared view (issue 19), per client count, from one run. */
import type { ViewsResult } from '../scenarios/views.js';
import { machineLoad, n, pct, table } from './format.js';

export function viewsSection(r: ViewsResult): string[] {
  const rows = r.runs.map((run) => {
    const f = run.figures;
    return [
      run.shape,
      `**${n(run.clients)}** ${run.kind}${run.connected !== undefined && run.connected < run.clients ? ` (${n(run.connected)} connected)` : ''}`,
      pct(f.serverCpuPct),
      `${n(f.intervalMs.p50)} / ${n(f.intervalMs.p99)} / ${n(f.intervalMs.max)}`,
      `${n(100 * (1 - f.missing / Math.max(1, f.snapshots * (run.connected ?? run.clients))), 1)} %`,
      n(run.views),
      n(run.slowed),
      n(f.messagesPerSec),
    ];
  });
  return [
    '## Distinct views: every client its own filter',
    '',
    `One gateway, clients at interval ${r.tickMs / 1000} s on a ${r.tickMs} ms tick, the feeder sending ${n(r.feedPerSec)} events/s over ${[...new Set(r.runs.map((run) => `${run.cells} (${run.shape})`))].join(' and ')}.`,
    'Shared: every client on the unfiltered view. Distinct: each client a view of its own — a random subset of endpoints, of endpoints',
    'and models, or of endpoints and nodes, and a random subset of metric types (bench/src/scenarios/views.ts). Measured over',
    `${r.measureSeconds} s after a warm-up. Updates delivered: received ÷ (clients connected × snapshots in the window); a view the budget`,
    '(PULSE_GATEWAY_VIEW_BUDGET_MS) slowed sends its clients every 2nd–8th snapshot, so they get fewer.',
    '',
    ...table(['shape', 'clients, views', 'gateway CPU', 'interval p50 / p99 / max ms', 'updates delivered', 'distinct views', 'slowed', 'msgs/s'], rows),
    '',
    `Over each window: ${r.runs.map((run) => `${run.shape} ${n(run.clients)} ${run.kind}, ${machineLoad(run.cpu)}`).join('; ')}.`,
    '',
    ...ISSUE_19_NOTES,
  ];
}

/**
 * What issue 19 built to make a distinct view cheaper and what each idea
 * measured when it was decided (a per-idea harness, not part of this run):
 * written here so that a full render keeps it beside the table.
 */
export const ISSUE_19_NOTES: string[] = [
  '### What a distinct view costs, and what was done about it (issue 19)',
  '',
  'Profiled with `node --cpu-prof` on a harness (a script outside the repo) that runs the gateway\'s own code in one process: a MetricsWindow fed the',
  'fleet traffic (bench/src/lib/fleet-traffic.ts) over the feed\'s endpoints and models, its keyframe and patches through a',
  '`SnapshotState`, and 1,000 `ClientSession`s with the distinct filters of this scenario fanned out to by `fanout()` every tick.',
  'Per distinct view, µs (performance.now around each step, mean over ticks, load average 0.7), before the changes below:',
  '',
  ...table(
    ['cells', 'build the view (buildReplicaView)', 'its parts (merges, quantiles)', 'JSON.stringify', 'frame Buffer', 'of which the `nodes` part', 'the `streaming` part'],
    [
      ['42 (1 node × 14 × 3)', '14', '48', '35', '6', '29 build + 6 JSON (in half the views)', '39 + 8'],
      ['800 (8 × 20 × 5)', '61', '249', '66', '17', '318 + 41', '95 + 8'],
      ['6,400 (64 × 20 × 5)', '120', '1,382', '161', '46', '2,350 + 252', '261 + 5'],
    ],
  ),
  '',
  'Those are the parts\' own costs; in `fanout()` a view cost two to three times their sum, and the profile said why: garbage',
  'collection was 44 % of the profile at 42 cells. Fan-out held every view it built (the View, its groups, its JSON, its frames)',
  'in a map until the end of the tick, so that later clients of the same view could share them; with a thousand views of one',
  'client each, every young-generation collection copied all of them (6 MB promoted per scavenge).',
  '',
  'Ideas, each measured in one process (the harness, each variant its own process, run alternately), 1,000 distinct views,',
  'µs of CPU per view (median tick), at load average 2–4 on the shared 2-core machine:',
  '',
  ...table(
    ['cells', 'before', 'views let go when sent', '+ JSON fragments (kept)'],
    [
      ['42', '217–251', '59, 59', '55, 55'],
      ['800', '456–566', '189, 191', '171, 193'],
      ['6,400', '1,931–2,745', '1,671–2,558', '2,105–2,538 (no gain seen)'],
    ],
  ),
  '',
  '- **Let a view go as soon as all its clients have their frame** (fanout.ts: the ViewRegistry knows each view\'s clients; once',
  '  that many were sent its frames, the view and its frames are dropped, only its cost kept for the budget). **Kept**: 3.7–4.2×',
  '  at 42 cells, 2.4–3× at 800, ~1.1× at 6,400 (where merging dominates; single runs there vary ±20 %). Shared views (and the unfiltered one) are kept to',
  '  the end of the tick as before.',
  '- **Per-snapshot JSON fragments** (fragments.ts): @pulse/metrics\' View already shares the `Stats` of whole aggregates between',
  '  the views of a snapshot (its StatsMemo), so their JSON is written once per snapshot into a WeakMap keyed by the object, and',
  '  a view\'s `latency` map is its entries\' fragments joined. **Kept, for the latency map only**: ~4 µs per view at 42 cells,',
  '  ~0–20 at 800 (within the noise of two runs); the latency part\'s JSON alone, alternated in one process: 42 cells 23.8 → 1.9',
  '  µs (nearly every entry shared), 800 cells 44.9 → 36.9, 6,400 cells 12.9 → 9.8.',
  '  What did not pay: recording every view\'s Stats (WeakMap inserts cost more than the hits saved: only the unfiltered view',
  '  records now, other views only read) and a hand-written serializer for the other types (a generic one was 2–3× slower than',
  '  JSON.stringify on every type: throughput 11.7 vs 47.5 µs, nodes 48.8 vs 106.6 at 800 cells). No other part holds objects',
  '  shared between views: the per-endpoint numbers of a view are its own objects, and at this bench\'s filters (every one picks',
  '  endpoints) the node table and the streaming totals are sums over the view\'s own endpoints.',
  '- **Keep a view\'s result across snapshots when its inputs did not change.** **Not built**: measured first, it would never',
  '  hit under steady traffic. Each 0.5 s patch touched 713 of 800 cells, all 20 endpoints and all 160 endpoint × node pairs',
  '  (6,400 cells: 1,545 cells, all endpoints, 955 of 1,280 pairs), since buckets expire from the 60 s window as well as fill.',
  '  A view of any endpoint has changed inputs every tick.',
  '',
  'What remains is the view\'s own merging, in @pulse/metrics\' view.ts: the `nodes` table of a view with an endpoint filter',
  'merges, for each node, the latency and TTFT sketches of every selected endpoint on it and takes quantiles (at 6,400 cells',
  '64 nodes × 2 × ~10 merges: 2.4 ms, most of such a view), and the `streaming` totals merge the selected endpoints\'',
  'TTFT, tokens/s and ITL sketches. Those merges are what is specific to a view, and no per-snapshot sharing removes them. The',
  'issue\'s goal (5,000 distinct views at 0.5 s within one core: under 0.1 ms per view, sending included) is reached in CPU',
  'at 42 cells (55 µs per view in the harness: 5,000 views are 275 ms of each 500 ms tick, plus sending, which costs the shared',
  'case ~19 % of a core) and missed by 1.7× at 800 cells (171–193 µs: 5,000 views are 0.86–0.97 s of CPU per 0.5 s tick) and',
  'by ~17× at 6,400 (1.7 ms). Closing it needs a cheaper',
  'merge in view.ts (node groups by complement when a filter keeps most endpoints, as endpoint groups already are; or',
  'per-snapshot partial sums of node × endpoint-block sketches), which was out of this change\'s reach. Until then the budget',
  '(PULSE_GATEWAY_VIEW_BUDGET_MS) is what keeps the gateway within its core at today\'s shape, the views it slows getting',
  'updates every 2nd–8th tick; at the fleet\'s, the ceiling must come down too (~1,000 views), since even every 8th tick does not fit.',
  '',
  'Tests: services/gateway/src/fragments.property.test.ts (frames built from fragments, with views let go early, are byte for byte',
  'JSON.stringify of the built view over random keyframes and patches, filters, metric types and odd names) and',
  'test/fuzz/views.fuzz.test.ts (the ceiling and the budget under a flood of distinct subscribes, a gateway fed through Redis).',
  '',
];
