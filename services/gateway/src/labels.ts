/**
 * `GET /metrics/labels`: the endpoints, models and nodes with requests in the
 * held snapshot's window (or in flight), sorted. Metric messages carry no
 * model dimension, so this is how a dashboard learns which models to offer in
 * its filter and to give a row of their own; and a view filtered to one node
 * lists only that node, so the node picker cannot learn the others from it.
 */
import type { InternalSnapshot } from '@pulse/protocol';

export function labelsBody(snapshot: InternalSnapshot | null, nowSeconds: number): string {
  const endpoints = new Set<string>();
  const models = new Set<string>();
  const nodes = new Set<string>();
  for (const cell of snapshot?.cells ?? []) {
    if (cell.requests === 0 && cell.responses === 0 && cell.queueDepth === 0) continue;
    endpoints.add(cell.endpoint);
    models.add(cell.model);
    nodes.add(cell.node);
  }
  return JSON.stringify({
    timestamp: snapshot?.builtAt ?? nowSeconds,
    endpoints: [...endpoints].sort(),
    models: [...models].sort(),
    nodes: [...nodes].sort(),
  });
}
