/**
 * The evaluator on the in-memory store, driven by explicit snapshot times
 * and hand-made views: every arrow of the state machine, groups, and what
 * each notification says.
 */
import { describe, expect, it } from 'vitest';
import { dataWith, RecordingQueue, rulesFrom, type Figures } from '@pulse/test-support/alert-fixtures';
import { MemoryAlertStateStore } from './alert-state.memory.js';
import { AlertEvaluator, type PresentLabels, type ViewFilter } from './evaluator.js';
import { fingerprint, ZERO_TIME } from './notification.js';
import { alertsBody } from './rest.js';
import type { AlertRules } from './rules.js';

const T0 = Date.UTC(2026, 0, 1, 12, 0, 0);
const FENCE = { key: 'memory', epoch: 1 };
const NO_LABELS: PresentLabels = { endpoints: [], models: [], nodes: [] };

function harness(rules: AlertRules, store = new MemoryAlertStateStore()) {
  const queue = new RecordingQueue();
  const evaluator = new AlertEvaluator({ rules, store, queue, externalUrl: 'http://pulse.test:8000' });
  const views: ViewFilter[] = [];
  return {
    queue,
    store,
    evaluator,
    views,
    /** One snapshot at T0 + `atMs`: `figures(filter)` gives each view's figures. */
    async at(atMs: number, figures: (filter: ViewFilter) => Figures, labels: PresentLabels = NO_LABELS, fence = FENCE) {
      return evaluator.evaluate({
        nowMs: T0 + atMs,
        labels,
        fence,
        view: (filter) => {
          views.push(filter);
          return dataWith(figures(filter));
        },
      });
    },
  };
}

const SLOW = `  - name: SlowFirstToken
    figure: ttft_p99_ms
    op: ">"
    value: 500
    for: 10s
    labels: {severity: page}
    annotations: {summary: "TTFT p99 over 500 ms"}
    receivers: [oncall]
`;

describe('AlertEvaluator', () => {
  it('inactive → pending → firing after `for` → resolved, with the exact webhook bodies', async () => {
    const h = harness(rulesFrom(SLOW));
    const slow = () => ({ ttftP99: 523.4 });

    expect((await h.at(0, slow)).notifications).toEqual([]);
    expect((await alertsBody(h.evaluator)).alerts).toEqual([
      { name: 'SlowFirstToken', labels: { alertname: 'SlowFirstToken', severity: 'page' }, state: 'pending', active_at: new Date(T0).toISOString(), value: 523.4 },
    ]);
    expect((await h.at(9_999, () => ({ ttftP99: 600 }))).notifications).toEqual([]);

    const fired = await h.at(10_000, slow);
    expect(fired.status).toBe('evaluated');
    const labels = { alertname: 'SlowFirstToken', severity: 'page' };
    const fp = fingerprint(labels);
    expect(fired.notifications).toHaveLength(1);
    expect(fired.notifications[0]).toEqual({
      id: expect.stringMatching(new RegExp(`^${fp}-[0-9a-f]{16}$`)),
      receiver: 'oncall',
      createdAtMs: T0 + 10_000,
      resolvedBy: expect.stringMatching(new RegExp(`^${fp}-[0-9a-f]{16}$`)),
      body: {
        version: '4',
        groupKey: '{}:{alertname="SlowFirstToken"}',
        truncatedAlerts: 0,
        status: 'firing',
        receiver: 'oncall',
        groupLabels: { alertname: 'SlowFirstToken' },
        commonLabels: labels,
        commonAnnotations: { summary: 'TTFT p99 over 500 ms', value: '523.4' },
        externalURL: 'http://pulse.test:8000',
        alerts: [
          {
            status: 'firing',
            labels,
            annotations: { summary: 'TTFT p99 over 500 ms', value: '523.4' },
            startsAt: new Date(T0 + 10_000).toISOString(),
            endsAt: ZERO_TIME,
            generatorURL: 'http://pulse.test:8000/v1/alerts',
            fingerprint: fp,
          },
        ],
      },
    });
    // The outbox was handed to the queue and emptied.
    expect(h.queue.taken.map((n) => n.id)).toEqual([fired.notifications[0]?.id]);
    expect(await h.store.outbox()).toEqual([]);
    expect((await alertsBody(h.evaluator)).alerts[0]?.state).toBe('firing');

    // Still firing: nothing new before repeat_interval (4h).
    expect((await h.at(20_000, () => ({ ttftP99: 900 }))).notifications).toEqual([]);

    const resolved = await h.at(21_000, () => ({ ttftP99: 100 }));
    expect(resolved.notifications).toHaveLength(1);
    const body = resolved.notifications[0]?.body;
    expect(body?.status).toBe('resolved');
    expect(body?.alerts[0]).toEqual({
      status: 'resolved',
      labels,
      // The value is the figure when it fired, not its last value.
      annotations: { summary: 'TTFT p99 over 500 ms', value: '523.4' },
      startsAt: new Date(T0 + 10_000).toISOString(),
      endsAt: new Date(T0 + 21_000).toISOString(),
      generatorURL: 'http://pulse.test:8000/v1/alerts',
      fingerprint: fp,
    });
    expect(resolved.notifications[0]?.id).not.toBe(fired.notifications[0]?.id);
    // The firing notification names its resolution, so a queue can drop it once the resolution exists.
    expect(resolved.notifications[0]?.id).toBe(fired.notifications[0]?.resolvedBy);
    expect(await h.evaluator.listAlerts()).toEqual([]);
    expect(await h.store.load()).toEqual([]);
  });

  it('a pending alert whose condition stops goes back to inactive without any notification', async () => {
    const h = harness(rulesFrom(SLOW));
    await h.at(0, () => ({ ttftP99: 600 }));
    await h.at(5_000, () => ({ ttftP99: 400 }));
    expect(await h.evaluator.listAlerts()).toEqual([]);
    // The next episode starts over: `for` counts from its own start.
    await h.at(6_000, () => ({ ttftP99: 600 }));
    expect((await h.at(15_000, () => ({ ttftP99: 600 }))).notifications).toEqual([]);
    expect((await h.at(16_000, () => ({ ttftP99: 600 }))).notifications).toHaveLength(1);
    expect(h.queue.taken).toHaveLength(1);
  });

  it('keep_firing_for: a flapping condition keeps the alert firing; it resolves once the condition has stayed off that long', async () => {
    const h = harness(rulesFrom(`  - {name: Deep, figure: queue_depth, op: ">=", value: 10, keep_firing_for: 30s, receivers: [oncall]}\n`));
    const depth = (queueDepth: number) => () => ({ queueDepth });

    expect((await h.at(0, depth(12))).notifications.map((n) => n.body.status)).toEqual(['firing']); // for: 0s fires at once
    await h.at(1_000, depth(3));
    await h.at(10_000, depth(2));
    expect((await h.evaluator.listAlerts())[0]?.phase).toBe('firing');
    await h.at(20_000, depth(15)); // holds again: the 30 s start over
    await h.at(25_000, depth(1));
    expect((await h.at(54_999, depth(1))).notifications).toEqual([]);
    expect((await h.evaluator.listAlerts())[0]?.phase).toBe('firing');
    const resolved = await h.at(55_000, depth(1));
    expect(resolved.notifications.map((n) => n.body.status)).toEqual(['resolved']);
    expect(h.queue.taken.map((n) => n.body.status)).toEqual(['firing', 'resolved']);
  });

  it('keep_firing_for 0s resolves on the first evaluation where the condition does not hold', async () => {
    const h = harness(rulesFrom(`  - {name: Deep, figure: queue_depth, op: ">", value: 1, receivers: [oncall]}\n`));
    await h.at(0, () => ({ queueDepth: 2 }));
    expect((await h.at(500, () => ({ queueDepth: 1 }))).notifications.map((n) => n.body.status)).toEqual(['resolved']);
  });

  it('repeats a firing notification every repeat_interval of each receiver, and tells resolution only to receivers that want it', async () => {
    const receivers = `receivers:
  - {name: oncall, url: "http://127.0.0.1:9/a", repeat_interval: 1m}
  - {name: quiet, url: "http://127.0.0.1:9/b", repeat_interval: 5m, send_resolved: false}
`;
    const h = harness(rulesFrom(`  - {name: Deep, figure: queue_depth, op: ">", value: 1, receivers: [oncall, quiet]}\n`, receivers));
    const deep = () => ({ queueDepth: 5 });
    const sent = async (at: number, f = deep) => (await h.at(at, f)).notifications.map((n) => `${n.receiver}:${n.body.status}`);

    expect(await sent(0)).toEqual(['oncall:firing', 'quiet:firing']);
    expect(await sent(59_999)).toEqual([]);
    expect(await sent(60_000)).toEqual(['oncall:firing']);
    expect(await sent(119_000)).toEqual([]);
    expect(await sent(120_000)).toEqual(['oncall:firing']);
    expect(await sent(300_000)).toEqual(['oncall:firing', 'quiet:firing']);
    expect(await sent(301_000, () => ({ queueDepth: 0 }))).toEqual(['oncall:resolved']);

    // Each repeat is a notification of its own (its own id), all of one episode (one startsAt).
    const ids = h.queue.taken.map((n) => n.id);
    expect(new Set(ids).size).toBe(ids.length);
    expect(new Set(h.queue.taken.map((n) => n.body.alerts[0].startsAt))).toEqual(new Set([new Date(T0).toISOString()]));
  });

  it('one alert per group_by value set present, each over its own view within the filters; a group that is gone resolves', async () => {
    const rules = rulesFrom(`  - name: SlowByEndpoint
    figure: ttft_p99_ms
    op: ">"
    value: 500
    filters: {model: gpt-4o, endpoint: [/chat, /completions]}
    group_by: [endpoint, node]
    receivers: [oncall]
`);
    const h = harness(rules);
    const present: PresentLabels = { endpoints: ['/chat', '/completions', '/embeddings'], models: ['gpt-4o', 'llama'], nodes: ['n1', 'n2'] };
    const ttft: Record<string, number> = { '/chat|n1': 900, '/chat|n2': 100, '/completions|n1': 700 };
    const figures = (f: ViewFilter) => {
      const value = ttft[`${f.endpoints?.[0]}|${f.nodes?.[0]}`];
      return value === undefined ? {} : { ttftP99: value };
    };

    const first = await h.at(0, figures, present);
    // Only the filtered endpoints, crossed with the nodes; the model filter carried into every view.
    expect(h.views).toEqual([
      { endpoints: ['/chat'], models: ['gpt-4o'], nodes: ['n1'] },
      { endpoints: ['/chat'], models: ['gpt-4o'], nodes: ['n2'] },
      { endpoints: ['/completions'], models: ['gpt-4o'], nodes: ['n1'] },
      { endpoints: ['/completions'], models: ['gpt-4o'], nodes: ['n2'] },
    ]);
    expect(first.notifications.map((n) => n.body.commonLabels)).toEqual([
      { alertname: 'SlowByEndpoint', endpoint: '/chat', node: 'n1' },
      { alertname: 'SlowByEndpoint', endpoint: '/completions', node: 'n1' },
    ]);
    expect(first.notifications[0]?.body.groupKey).toBe('{}:{alertname="SlowByEndpoint", endpoint="/chat", node="n1"}');
    expect(first.notifications[0]?.body.groupLabels).toEqual({ alertname: 'SlowByEndpoint', endpoint: '/chat', node: 'n1' });

    // n1 leaves the snapshot: its alerts have no figure any more and resolve.
    const gone = await h.at(500, figures, { ...present, nodes: ['n2'] });
    expect(gone.notifications.map((n) => [n.body.status, n.body.commonLabels.endpoint])).toEqual([
      ['resolved', '/chat'],
      ['resolved', '/completions'],
    ]);
  });

  it('a figure with no value makes no alert, and a firing alert whose figure is gone resolves', async () => {
    const h = harness(rulesFrom(`  - {name: Low, figure: ttft_p99_ms, op: "<", value: 50, receivers: [oncall]}\n`));
    // Nothing in the window: no TTFT, no alert — not "0 < 50".
    expect((await h.at(0, () => ({}))).notifications).toEqual([]);
    expect(await h.evaluator.listAlerts()).toEqual([]);
    expect((await h.at(500, () => ({ ttftP99: 10 }))).notifications).toHaveLength(1);
    expect((await h.at(1_000, () => ({}))).notifications.map((n) => n.body.status)).toEqual(['resolved']);
  });

  it('an alert whose rule was removed from the file resolves when the next evaluator (same store) runs', async () => {
    const store = new MemoryAlertStateStore();
    const before = harness(rulesFrom(`  - {name: Deep, figure: queue_depth, op: ">", value: 1, annotations: {summary: deep}, receivers: [oncall]}\n`), store);
    await before.at(0, () => ({ queueDepth: 5 }));
    const after = harness(rulesFrom(`  - {name: Other, figure: queue_depth, op: ">", value: 100, receivers: [oncall]}\n`), store);
    const result = await after.at(500, () => ({ queueDepth: 5 }));
    expect(result.notifications.map((n) => [n.body.status, n.body.commonLabels.alertname, n.body.commonAnnotations.summary])).toEqual([
      ['resolved', 'Deep', 'deep'],
    ]);
    expect(await store.load()).toEqual([]);
  });

  it('a stale fence writes nothing; the evaluator reloads the state when it leads again', async () => {
    let current = 1;
    const store = new MemoryAlertStateStore((fence) => fence.epoch === current);
    const h = harness(rulesFrom(`  - {name: Deep, figure: queue_depth, op: ">", value: 1, receivers: [oncall]}\n`), store);
    current = 2;
    const refused = await h.at(0, () => ({ queueDepth: 5 }), NO_LABELS, { key: 'memory', epoch: 1 });
    expect(refused).toEqual({ status: 'fenced', notifications: [] });
    expect(await store.load()).toEqual([]);
    expect(await store.outbox()).toEqual([]);
    expect(h.queue.taken).toEqual([]);
    expect(await h.evaluator.listAlerts()).toEqual([]);

    const led = await h.at(500, () => ({ queueDepth: 5 }), NO_LABELS, { key: 'memory', epoch: 2 });
    expect(led.status).toBe('evaluated');
    expect(h.queue.taken).toHaveLength(1);
  });

  it('a queue that is down leaves the notification in the outbox; the next evaluation hands it over, once', async () => {
    const h = harness(rulesFrom(`  - {name: Deep, figure: queue_depth, op: ">", value: 1, receivers: [oncall]}\n`));
    h.queue.down = true;
    const failed = await h.at(0, () => ({ queueDepth: 5 }));
    expect(failed.status).toBe('error');
    // The state change was committed with its notification: firing, and the notification waits in the outbox.
    expect((await h.store.load())[0]?.phase).toBe('firing');
    expect((await h.store.outbox()).map((n) => n.body.status)).toEqual(['firing']);
    h.queue.down = false;
    expect((await h.at(500, () => ({ queueDepth: 5 }))).status).toBe('evaluated');
    expect(h.queue.taken.map((n) => n.body.status)).toEqual(['firing']);
    expect(await h.store.outbox()).toEqual([]);
  });

  it('skips a snapshot while the previous evaluation still runs', async () => {
    const h = harness(rulesFrom(`  - {name: Deep, figure: queue_depth, op: ">", value: 1}\n`));
    const [a, b] = await Promise.all([h.at(0, () => ({ queueDepth: 5 })), h.at(0, () => ({ queueDepth: 5 }))]);
    expect([a.status, b.status]).toEqual(['evaluated', 'busy']);
  });
});
