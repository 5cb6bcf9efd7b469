/** The per-endpoint and per-model tables, rebuilt from rows with textContent only. */
import { element } from './dom.js';
import { endpointCells, formatMs, formatNumber, type EndpointRow, type ModelRow } from '@pulse/client';

function fill(body: HTMLTableSectionElement, rows: readonly (readonly string[])[], columns: number, empty: string): void {
  if (rows.length === 0) {
    const tr = element('tr');
    tr.append(element('td', empty, { colspan: String(columns), class: 'empty' }));
    body.replaceChildren(tr);
    return;
  }
  body.replaceChildren(
    ...rows.map(([name, ...figures]) => {
      const tr = element('tr');
      tr.append(element('th', name, { scope: 'row' }), ...figures.map((f) => element('td', f)));
      return tr;
    }),
  );
}

export function renderEndpoints(body: HTMLTableSectionElement, rows: readonly EndpointRow[]): void {
  fill(
    body,
    rows.map((r) => [r.endpoint, ...endpointCells(r)]),
    9,
    'no requests in the window',
  );
}

export function renderModels(body: HTMLTableSectionElement, rows: readonly ModelRow[], hidden: number): void {
  fill(
    body,
    rows.map((r) => [
      r.model,
      formatNumber(r.requestsPerSec),
      formatNumber(r.tokensPerSec),
      formatNumber(r.errorsPerSec),
      formatMs(r.ttftP50),
      formatNumber(r.activeStreams),
      formatNumber(r.queueDepth),
    ]),
    7,
    'no models seen in the window yet',
  );
  if (hidden > 0) {
    const tr = element('tr');
    tr.append(element('td', `… and ${hidden} more (pick one with the model filter)`, { colspan: '7', class: 'empty' }));
    body.append(tr);
  }
}
