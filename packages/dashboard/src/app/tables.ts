/** The dashboard's tables, rebuilt from rows with textContent only. */
import { element } from './dom.js';
import {
  endpointCells,
  formatMs,
  formatNumber,
  formatPercent,
  nodeCells,
  type EndpointRow,
  type ModelRow,
  type NodeRow,
  type StatusRow,
} from '@pulse/client';

/** Said by a table whose metric type the view does not have: not subscribed, or a server without it (FakeAI itself). */
const NOT_IN_VIEW = 'not in this view';

interface Row {
  /** The name (a row header), then the figures. */
  cells: readonly string[];
  attributes?: Readonly<Record<string, string>>;
}

function fill(body: HTMLTableSectionElement, rows: readonly Row[], columns: number, empty: string): void {
  if (rows.length === 0) {
    const tr = element('tr');
    tr.append(element('td', empty, { colspan: String(columns), class: 'empty' }));
    body.replaceChildren(tr);
    return;
  }
  body.replaceChildren(
    ...rows.map(({ cells: [name, ...figures], attributes }) => {
      const tr = element('tr', undefined, attributes);
      tr.append(element('th', name, { scope: 'row' }), ...figures.map((f) => element('td', f)));
      return tr;
    }),
  );
}

export function renderEndpoints(body: HTMLTableSectionElement, rows: readonly EndpointRow[]): void {
  fill(
    body,
    rows.map((r) => ({ cells: [r.endpoint, ...endpointCells(r)] })),
    9,
    'no requests in the window',
  );
}

export function renderModels(body: HTMLTableSectionElement, rows: readonly ModelRow[], hidden: number): void {
  fill(
    body,
    rows.map((r) => ({
      cells: [
        r.model,
        formatNumber(r.requestsPerSec),
        formatNumber(r.tokensPerSec),
        formatNumber(r.errorsPerSec),
        formatMs(r.ttftP50),
        formatNumber(r.activeStreams),
        formatNumber(r.queueDepth),
      ],
    })),
    7,
    'no models seen in the window yet',
  );
  if (hidden > 0) {
    const tr = element('tr');
    tr.append(element('td', `… and ${hidden} more (pick one with the model filter)`, { colspan: '7', class: 'empty' }));
    body.append(tr);
  }
}

/** Nodes slowest first; an outlier's row is marked (class and `data-outlier`, the reasons) besides its ▲ cell. */
export function renderNodes(body: HTMLTableSectionElement, rows: readonly NodeRow[], nowSeconds: number, inView: boolean): void {
  fill(
    body,
    rows.map((r): Row => ({
      cells: [r.node, ...nodeCells(r, nowSeconds)],
      ...(r.outlier.length > 0 && { attributes: { class: 'outlier', 'data-outlier': r.outlier.join(' ') } }),
    })),
    8,
    inView ? 'no nodes reporting in the window' : NOT_IN_VIEW,
  );
}

export function renderStatuses(body: HTMLTableSectionElement, rows: readonly StatusRow[], inView: boolean): void {
  fill(
    body,
    rows.map((r) => ({ cells: [r.status, formatNumber(r.errorsPerSec), formatPercent(r.sharePct)] })),
    3,
    inView ? 'no errors in the window' : NOT_IN_VIEW,
  );
}
