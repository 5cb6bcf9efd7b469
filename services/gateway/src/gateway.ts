/**
 * The gateway, assembled: snapshots from the feed, each decoded once, kept
 * when newer and fanned out to the WebSocket clients; REST beside it. The
 * factory does not listen: main.ts (or a test, on port 0) does.
 */
import { createServer, type Server } from 'node:http';
import { CloseCode, type InternalSnapshot } from '@pulse/protocol';
import { Counter, Gauge, GATEWAY_LIMITS, Histogram, LimitCounters, SelfMetrics, type Logger, type SnapshotFeed } from '@pulse/runtime';
import { AccessPolicy } from './access.js';
import type { ClientSession } from './client-session.js';
import { systemClock, type GatewayClock } from './clock.js';
import type { GatewayConfig } from './config.js';
import { fanout } from './fanout.js';
import { checkingIntervalMs, guardHandshakes } from './handshake.js';
import { httpRoutes, type ExpositionBody, type HttpHandler, type OptionalHttpHandler } from './http-routes.js';
import { labelsBody } from './labels.js';
import { PrometheusExport } from './prometheus-export.js';
import { prometheusRenderers } from './prometheus-vllm.js';
import { SnapshotState } from './snapshot-state.js';
import { ViewBudget } from './view-budget.js';
import { ViewRegistry } from './view-registry.js';
import { StreamServer } from './ws-server.js';
import { alertRoutes, type AlertsApi } from './alert-routes.js';
import { runsRoutes, type RunsApi } from './runs-routes.js';
import type { HistoryReader } from '@pulse/history';
import { historyReply } from './history.js';
import { Backfills } from './backfill.js';

export interface GatewayDeps {
  config: GatewayConfig;
  /**
   * Started by the gateway, and closed by its close(). With PULSE_PARTITIONS > 1,
   * one feed per partition, in partition order: the gateway merges them (snapshot-state.ts).
   */
  feed: SnapshotFeed | readonly SnapshotFeed[];
  logger: Logger;
  clock?: GatewayClock;
  /** Handles requests for paths the gateway has no route for (see http-routes.ts). */
  fallback?: HttpHandler;
  /** Serves the dashboard at `/` (main.ts passes @pulse/dashboard's handler); tried before `fallback`. */
  dashboard?: OptionalHttpHandler;
  /** The process's self-metrics (GET /metrics); the all-in-one process shares one with ingest and the aggregator. */
  metrics?: SelfMetrics;
  /** Where refusals are counted; the all-in-one process shares one with ingest. Default: the gateway's own, on `metrics`. */
  counters?: LimitCounters;
  /** The alert routes' state and queue, when PULSE_ALERT_RULES is set (alert-routes.ts). */
  alerts?: AlertsApi;
  /** The runs and annotations routes' store and the history their exports read (runs-routes.ts). */
  runs?: RunsApi;
  /** The durable history GET /metrics/history reads (docs/HISTORY.md); without it, that route answers 503. */
  history?: HistoryReader;
}

export interface Gateway {
  /** Not listening yet. */
  readonly server: Server;
  /** True while the feed is connected, a snapshot is in hand and the gateway is not closing. */
  ready(): boolean;
  /** Not ready → refuse upgrades → close every client with 1001 → close the feed and the server. Idempotent. */
  close(): Promise<void>;
}

/** Snapshots in a row a client may stay over its buffer ceiling before it is closed. */
export const SLOW_CONSUMER_TICKS = 5;

/** Longest a closing handshake may take; below the default shutdown deadline so a drain fits in it. */
const CLOSE_TIMEOUT_MS = 5000;

export function createGateway({
  config,
  feed,
  logger,
  clock = systemClock,
  fallback,
  dashboard,
  metrics = new SelfMetrics(),
  counters = new LimitCounters(GATEWAY_LIMITS, metrics),
  alerts,
  runs,
  history,
}: GatewayDeps): Gateway {
  const log = logger.child({ component: 'gateway' });
  const feeds: readonly SnapshotFeed[] = Array.isArray(feed) ? feed : [feed as SnapshotFeed];
  if (feeds.length !== config.PULSE_PARTITIONS) throw new Error(`PULSE_PARTITIONS is ${config.PULSE_PARTITIONS}: the gateway needs a feed per partition, got ${feeds.length}`);
  const partitioned = feeds.length > 1;
  const state = new SnapshotState({
    partitions: feeds.length,
    waitMs: config.PULSE_TICK_MS / 2,
    onUpdate: (merged) => update(merged),
  });
  const feedsConnected = feeds.map(() => false);
  let closing: Promise<void> | null = null;
  const dropped = new Counter({
    name: 'pulse_gateway_snapshots_dropped_total',
    help: 'Snapshot messages from the feed not applied: undecodable, older than the state held, or a patch that did not follow on from it (a gap: the gateway catches up).',
    labelNames: ['reason'],
    registers: [metrics.registry],
  });

  const notReadyReason = (): string | null => {
    if (closing) return 'shutting down';
    if (!feedsConnected.every(Boolean)) return 'snapshot feed not connected';
    if (!state.snapshot) return 'no snapshot received yet';
    return null;
  };

  const access = new AccessPolicy(config, counters);
  const alertsRoute = alerts ? alertRoutes(alerts, access) : null;
  const runsRoute = runs ? runsRoutes(runs, { access, writeTokens: config.PULSE_WRITE_TOKENS, counters, epochSeconds: () => clock.epochSeconds() }) : null;
  const alertsThenDashboard: OptionalHttpHandler = (req, res) =>
    (runsRoute?.(req, res) ?? false) || (alertsRoute?.(req, res) ?? false) || (dashboard?.(req, res) ?? false);
  const handshakeMs = config.PULSE_GATEWAY_HANDSHAKE_TIMEOUT_MS;
  const renderers = prometheusRenderers(config.PULSE_PROMETHEUS_COMPAT);
  const ofHeldSnapshot = (exposition: PrometheusExport): ExpositionBody => ({
    identity: () => exposition.body(state.snapshot),
    gzip: () => exposition.gzip(state.snapshot),
  });
  const server = createServer(
    { connectionsCheckingInterval: checkingIntervalMs(handshakeMs) },
    httpRoutes({
      snapshotBody: () => state.restBody(clock.epochSeconds()),
      labelsBody: () => labelsBody(state.snapshot, clock.epochSeconds()),
      history: (params) => historyReply(history, params, clock.epochSeconds()),
      prometheus: ofHeldSnapshot(new PrometheusExport(renderers.prometheus)),
      vllm: renderers.vllm ? ofHeldSnapshot(new PrometheusExport(renderers.vllm)) : undefined,
      limitsText: () => counters.prometheusText(),
      selfMetricsText: () => metrics.exposition(),
      access,
      notReadyReason,
      fallback,
      dashboard: alertsThenDashboard,
    }),
  );
  guardHandshakes(server, handshakeMs, counters);
  const views = new ViewRegistry(config.PULSE_GATEWAY_MAX_VIEWS);
  // Subscribes with `since` (docs/PROTOCOL.md §5.11): the points missed, from `history`, before updates resume.
  const backfills = new Backfills({ history, state, tickMs: config.PULSE_TICK_MS, clock, logger });
  const budget = new ViewBudget(config.PULSE_GATEWAY_VIEW_BUDGET_MS);
  const streams = new StreamServer(server, {
    tickMs: config.PULSE_TICK_MS,
    maxConnections: config.PULSE_GATEWAY_MAX_CONNECTIONS,
    maxPayloadBytes: config.PULSE_GATEWAY_MAX_PAYLOAD_KB * 1024,
    heartbeatMs: config.PULSE_GATEWAY_HEARTBEAT_MS,
    messagesPerSec: config.PULSE_GATEWAY_CLIENT_MSGS_PER_SEC,
    maxConnectionsPerIp: config.PULSE_GATEWAY_MAX_CONNECTIONS_PER_IP,
    trustedProxyHops: config.PULSE_GATEWAY_TRUSTED_PROXY_HOPS,
    subscribeLimits: {
      maxLabels: config.PULSE_GATEWAY_MAX_LABELS_PER_CLIENT,
      maxLabelsPerSubscribe: config.PULSE_GATEWAY_MAX_LABELS_PER_SUBSCRIBE,
      maxLabelLength: config.PULSE_MAX_STRING_LENGTH,
    },
    access,
    counters,
    closeTimeoutMs: Math.min(CLOSE_TIMEOUT_MS, config.PULSE_SHUTDOWN_TIMEOUT_MS / 2),
    state,
    views,
    clock,
    logger,
    backfills,
  });
  new Gauge({
    name: 'pulse_gateway_clients',
    help: 'WebSocket clients connected to this gateway.',
    registers: [metrics.registry],
    collect() {
      this.set(streams.size);
    },
  });
  new Gauge({
    name: 'pulse_gateway_views',
    help: 'Distinct filtered views this gateway serves (PULSE_GATEWAY_MAX_VIEWS caps them).',
    registers: [metrics.registry],
    collect() {
      this.set(views.size);
    },
  });
  if (partitioned) {
    new Gauge({
      name: 'pulse_gateway_partitions_stale',
      help: 'Partitions of the event stream whose figures in the last merged snapshot are more than a tick old (PULSE_PARTITIONS > 1).',
      registers: [metrics.registry],
      collect() {
        this.set(state.snapshot ? state.stalePartitions.length : feeds.length);
      },
    });
  }
  new Gauge({
    name: 'pulse_gateway_views_slowed',
    help: 'Views built less often than every snapshot to keep within PULSE_GATEWAY_VIEW_BUDGET_MS.',
    registers: [metrics.registry],
    collect() {
      this.set(budget.slowed);
    },
  });
  // What each snapshot costs this gateway whatever its clients (apply) and for them (fan-out): the first is the
  // fixed work that docs/PERFORMANCE.md §2b finds is most of a fleet gateway's CPU beyond the bare sockets'.
  const snapshotSeconds = new Histogram({
    name: 'pulse_gateway_snapshot_seconds',
    help: 'Time per snapshot message: `apply` decodes it and applies it to the replica, `fanout` builds the views due and writes them to the clients due.',
    labelNames: ['phase'],
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1],
    registers: [metrics.registry],
  });
  const applySeconds = snapshotSeconds.labels('apply');
  const fanoutSeconds = snapshotSeconds.labels('fanout');
  /** ms of fan-out since the message being applied came in: a partition's message can complete a tick, and its fan-out runs inside the apply. */
  let fanoutMs = 0;
  const viewBuilds = new Counter({
    name: 'pulse_gateway_view_builds_total',
    help: 'Views fanned out, the unfiltered one included: one per distinct view for each snapshot some of its clients are due for (a filtered one is built then).',
    registers: [metrics.registry],
  });
  const fanoutOptions = {
    budget,
    views,
    maxBufferedBytes: config.PULSE_GATEWAY_MAX_BUFFERED_BYTES,
    slowTicks: SLOW_CONSUMER_TICKS,
    onSlow: (session: ClientSession) => streams.closeSlow(session),
  };

  /** A snapshot to every client due for it: each accepted one, or partitioned, each merged tick. */
  const update = (snapshot: InternalSnapshot): void => {
    if (closing) return;
    const started = performance.now();
    try {
      const result = fanout(snapshot, state.fullView(), streams.sessions, clock.nowMs(), fanoutOptions, (filter) => state.view(filter));
      viewBuilds.inc(result.views);
      const ms = performance.now() - started;
      fanoutMs += ms;
      fanoutSeconds.observe(ms / 1000);
    } catch (err) {
      // A snapshot that breaks the view builder must not take the gateway down with it.
      log.error({ err, epoch: snapshot.epoch, seq: snapshot.seq }, 'fan-out failed');
    }
    try {
      backfills.onSnapshot(snapshot);
    } catch (err) {
      log.error({ err, epoch: snapshot.epoch, seq: snapshot.seq }, 'backfill tail failed');
    }
  };

  const onSnapshot = (encoded: Buffer, partition = 0): void => {
    if (closing) return;
    fanoutMs = 0;
    const started = performance.now();
    const result = state.accept(encoded, partition);
    if (result.kind === 'accepted' || result.kind === 'partial') applySeconds.observe((performance.now() - started - fanoutMs) / 1000);
    switch (result.kind) {
      case 'invalid':
        dropped.inc({ reason: 'undecodable' });
        log.warn({ err: result.error, bytes: encoded.length }, 'dropped an undecodable snapshot');
        return;
      case 'duplicate':
        return;
      case 'gap':
        dropped.inc({ reason: 'gap' });
        catchUp(result.snapshot, partition);
        return;
      case 'stale': {
        dropped.inc({ reason: 'stale' });
        const held = state.snapshot;
        log.warn(
          { epoch: result.snapshot.epoch, seq: result.snapshot.seq, heldEpoch: held?.epoch, heldSeq: held?.seq, ...(partitioned && { partition }) },
          'dropped a snapshot older than the one held',
        );
        return;
      }
      case 'partial':
        return; // the merged tick goes out through update()
      case 'accepted':
        update(result.snapshot);
    }
  };

  /** A patch did not follow on from what is held: fetch the stored keyframe and patches, one catch-up at a time (per partition). */
  const catchingUp = feeds.map(() => false);
  const catchUp = (from: { epoch: number; seq: number }, partition: number): void => {
    if (catchingUp[partition] || closing) return;
    catchingUp[partition] = true;
    log.info(
      { epoch: from.epoch, seq: from.seq, heldSeq: state.snapshot?.seq ?? null, ...(partitioned && { partition }) },
      'a snapshot patch did not follow on from the state held; catching up',
    );
    feeds[partition]!
      .catchUp()
      .catch((err: unknown) => log.warn({ err }, 'snapshot catch-up failed; the next gap tries again'))
      .finally(() => (catchingUp[partition] = false));
  };

  feeds.forEach((f, partition) => {
    const onStatus = (connected: boolean): void => {
      feedsConnected[partition] = connected;
    };
    f.start((encoded) => onSnapshot(encoded, partition), onStatus).catch((err: unknown) => {
      if (!closing) log.error({ err, ...(partitioned && { partition }) }, 'snapshot feed failed to start');
    });
  });

  return {
    server,
    ready: () => notReadyReason() === null,
    close: () =>
      (closing ??= (async () => {
        const serverClosed = new Promise<void>((resolve) => server.close(() => resolve()));
        server.closeIdleConnections();
        await streams.closeAll(CloseCode.GOING_AWAY, 'server shutting down');
        state.close();
        await Promise.all(feeds.map((f) => f.close()));
        server.closeAllConnections();
        await serverClosed;
      })()),
  };
}
