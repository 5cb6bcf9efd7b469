/**
 * The SLO panel: per SLO its attainment now against the page's target, then
 * the same per endpoint, each row marked met or below target (a class for the
 * colour, `data-met` and a word for everyone else). Text only, like every
 * table of the page.
 */
import { formatNumber, formatPercent, sloVerdict, type SloRow } from '@pulse/client';
import { element } from './dom.js';

const COLUMNS = 6;

function row(name: string, kind: 'slo' | 'endpoint', r: Omit<SloRow, 'name' | 'endpoints'>): HTMLTableRowElement {
  const verdict = r.met === undefined ? 'none' : r.met ? 'met' : 'missed';
  const tr = element('tr', undefined, { class: `${kind} ${verdict}`, 'data-met': r.met === undefined ? '' : String(r.met) });
  tr.append(
    element('th', name, { scope: 'row' }),
    element('td', formatPercent(r.attainmentPct), { class: 'attainment' }),
    element('td', formatPercent(r.targetPct)),
    element('td', sloVerdict(r.met)),
    element('td', formatNumber(r.goodPerSec)),
    element('td', formatNumber(r.validPerSec)),
  );
  return tr;
}

export function renderSlos(body: HTMLTableSectionElement, rows: readonly SloRow[], inView: boolean): void {
  if (rows.length === 0) {
    const tr = element('tr');
    const why = inView ? 'no SLOs: Pulse names them in PULSE_SLOS' : 'not in this view';
    tr.append(element('td', why, { colspan: String(COLUMNS), class: 'empty' }));
    body.replaceChildren(tr);
    return;
  }
  body.replaceChildren(
    ...rows.flatMap((slo) => [
      row(slo.name, 'slo', slo),
      ...slo.endpoints.map((e) => row(e.endpoint, 'endpoint', { ...e, targetPct: slo.targetPct })),
    ]),
  );
}
