/**
 * The runs panel (docs/PROTOCOL.md §11): the runs, newest first, polled with
 * the annotations every few seconds; a run started, stopped and an
 * annotation added from the page; two runs picked for comparison. The runs
 * and annotations go to the charts (onMarks), the picked pair to the
 * comparison (onPick).
 *
 * Writes send the write token typed into the panel (kept for the tab's
 * session only, never in the address), else the page's read token: a Pulse
 * without PULSE_WRITE_TOKENS takes writes under the read rules. A refusal is
 * said in the panel.
 *
 * A Pulse without the routes answers 404: the panel stays hidden and polling
 * stops, until the page's stream (re)connects.
 */
import { formatTime } from '@pulse/client';
import { byId, element } from './dom.js';
import { request, type Reply } from './rest.js';
import { formatDuration, parseAnnotations, parseRuns, type Annotation, type Run } from './runs.js';

const POLL_MS = 3000;
const TOKEN_KEY = 'pulse.writeToken';

export interface RunsPanelOptions {
  streamUrl: string;
  /** The page's read token. */
  token: string | undefined;
  /** The span annotations are asked for (the charts'), epoch seconds. */
  span: () => { since: number; until: number };
  onMarks: (runs: readonly Run[], annotations: readonly Annotation[]) => void;
  /** Two runs picked (oldest first), or null when fewer are. */
  onPick: (pair: readonly [Run, Run] | null) => void;
}

export class RunsPanel {
  private runs: Run[] = [];
  private annotations: Annotation[] = [];
  /** Ids picked for comparison, in the order picked (at most two). */
  private picked: string[] = [];
  private timer: ReturnType<typeof setTimeout> | undefined;
  private polling = false;
  private configured = false;
  /** What the table shows (see render). */
  private drawn = '';

  constructor(private readonly opts: RunsPanelOptions) {
    const tokenBox = byId<HTMLInputElement>('write-token');
    tokenBox.value = sessionStorage.getItem(TOKEN_KEY) ?? '';
    tokenBox.addEventListener('change', () => sessionStorage.setItem(TOKEN_KEY, tokenBox.value.trim()));
    byId('write-token-form').addEventListener('submit', (e) => {
      e.preventDefault();
      sessionStorage.setItem(TOKEN_KEY, tokenBox.value.trim());
    });
    byId('run-start-form').addEventListener('submit', (e) => {
      e.preventDefault();
      void this.startRun();
    });
    byId('annotate-form').addEventListener('submit', (e) => {
      e.preventDefault();
      void this.annotate();
    });
  }

  /** The page's stream (re)connected: start polling unless it already runs. */
  connected(): void {
    if (!this.configured) void this.poll();
  }

  /** Polls now (a range change: the annotations asked for change). */
  refresh(): void {
    if (this.configured) void this.poll();
  }

  /** The comparison ended from elsewhere (its close button): nothing is picked. */
  clearPicks(): void {
    this.picked = [];
    this.render();
  }

  runById(id: string): Run | undefined {
    return this.runs.find((r) => r.id === id);
  }

  private async poll(): Promise<void> {
    if (this.polling) return;
    this.polling = true;
    clearTimeout(this.timer);
    try {
      const runs = await this.read('/v1/runs');
      this.configured = runs?.status !== 404;
      byId('panel-runs').hidden = !this.configured;
      if (!this.configured) return;
      const { since, until } = this.opts.span();
      const notes = await this.read(`/v1/annotations?since=${Math.floor(since)}&until=${Math.ceil(until) + 60}`);
      if (runs?.status !== 200 || notes?.status !== 200) {
        this.say(`runs: ${problem(runs?.status === 200 ? notes : runs)}`);
        return;
      }
      this.runs = parseRuns(runs.body);
      this.annotations = parseAnnotations(notes.body);
      // A run gone (the oldest are dropped past 1,000) is no longer picked.
      this.picked = this.picked.filter((id) => this.runById(id));
      this.render();
      this.opts.onMarks(this.runs, this.annotations);
    } finally {
      this.polling = false;
      if (this.configured) this.timer = setTimeout(() => void this.poll(), POLL_MS);
    }
  }

  /** Redraws the table when its runs, their states or the picks changed; else only the running runs' durations (a redraw under the pointer would swallow a click). */
  private render(): void {
    const body = byId<HTMLTableSectionElement>('runs');
    const now = Date.now() / 1000;
    const key = JSON.stringify([this.runs.map((r) => [r.id, r.name, r.stoppedAt]), this.picked, this.annotations.length]);
    if (key === this.drawn) {
      for (const run of this.runs) {
        if (run.stoppedAt !== null) continue;
        const cell = body.querySelector<HTMLTableCellElement>(`tr[data-id="${CSS.escape(run.id)}"] td.duration`);
        if (cell) cell.textContent = formatDuration(now - run.startedAt);
      }
      return;
    }
    this.drawn = key;
    byId('runs-count').textContent = `${this.runs.length} run${this.runs.length === 1 ? '' : 's'}, ${this.annotations.length} annotation${this.annotations.length === 1 ? '' : 's'} in range · pick two to compare`;
    if (this.runs.length === 0) {
      const tr = element('tr');
      tr.append(element('td', 'no runs yet: start one here, with pulse run start, or POST /v1/runs', { colspan: '7', class: 'empty' }));
      body.replaceChildren(tr);
      return;
    }
    body.replaceChildren(
      ...this.runs.map((run) => {
        const tr = element('tr', undefined, { 'data-id': run.id, 'data-state': run.stoppedAt === null ? 'running' : 'stopped' });
        const pick = element('input', undefined, { type: 'checkbox', class: 'pick', 'data-id': run.id, 'aria-label': `compare ${run.name}` });
        pick.checked = this.picked.includes(run.id);
        pick.addEventListener('change', () => this.pick(run.id, pick.checked));
        const pickCell = element('td');
        pickCell.append(pick);
        const labels = Object.entries(run.labels).map(([k, v]) => `${k}=${v}`).join(', ');
        const action = element('td');
        if (run.stoppedAt === null) {
          const stop = element('button', 'stop', { type: 'button', class: 'retry stop', 'data-id': run.id });
          stop.addEventListener('click', () => void this.stopRun(run.id, stop));
          action.append(stop);
        }
        tr.append(
          pickCell,
          element('th', run.name, { scope: 'row' }),
          element('td', labels, { class: 'text' }),
          element('td', formatTime(run.startedAt)),
          element('td', formatDuration((run.stoppedAt ?? now) - run.startedAt), { class: 'duration' }),
          element('td', run.stoppedAt === null ? 'running' : 'stopped'),
          action,
        );
        return tr;
      }),
    );
  }

  private pick(id: string, on: boolean): void {
    this.picked = this.picked.filter((p) => p !== id);
    if (on) this.picked.push(id);
    // A third pick replaces the first.
    if (this.picked.length > 2) this.picked.shift();
    this.render();
    const runs = this.picked.map((p) => this.runById(p)).filter((r): r is Run => r !== undefined);
    const [a, b] = [...runs].sort((x, y) => x.startedAt - y.startedAt);
    this.opts.onPick(a && b ? [a, b] : null);
  }

  private async startRun(): Promise<void> {
    const name = byId<HTMLInputElement>('run-name');
    const reply = await this.write('/v1/runs', { name: name.value.trim() || `run ${formatTime(Date.now() / 1000)}`, labels: {} });
    if (reply?.status === 201) {
      this.say(`run ${String(reply.body?.id)} started`);
      name.value = '';
    } else this.say(`starting the run failed: ${problem(reply)}`);
    void this.poll();
  }

  private async stopRun(id: string, button: HTMLButtonElement): Promise<void> {
    button.disabled = true;
    const reply = await this.write(`/v1/runs/${encodeURIComponent(id)}/stop`);
    this.say(reply?.status === 200 ? `run ${id} stopped` : `stopping ${id} failed: ${problem(reply)}`);
    void this.poll();
  }

  private async annotate(): Promise<void> {
    const text = byId<HTMLInputElement>('annotation-text');
    if (!text.value.trim()) return;
    // An annotation made while a run goes belongs to it (the newest, if several do).
    const running = this.runs.find((r) => r.stoppedAt === null);
    const reply = await this.write('/v1/annotations', { text: text.value.trim(), ...(running && { run_id: running.id }) });
    if (reply?.status === 201) {
      this.say(`annotation added${running ? ` to ${running.name}` : ''}`);
      text.value = '';
    } else this.say(`the annotation failed: ${problem(reply)}`);
    void this.poll();
  }

  private read(path: string): Promise<Reply | null> {
    return request(this.opts.streamUrl, path, this.opts.token);
  }

  private write(path: string, body: unknown = undefined): Promise<Reply | null> {
    const token = sessionStorage.getItem(TOKEN_KEY) || this.opts.token;
    return request(this.opts.streamUrl, path, token, { method: 'POST', ...(body !== undefined && { body }) });
  }

  private say(text: string): void {
    byId('runs-note').textContent = text;
  }
}

/** What went wrong with a reply, in words. */
function problem(reply: Reply | null): string {
  if (reply === null) return 'Pulse did not answer';
  const message = typeof reply.body?.error === 'string' ? reply.body.error : '';
  if (reply.status === 401) return `${message || 'unauthorized'} (type a write token in the panel)`;
  return `HTTP ${reply.status}${message ? `: ${message}` : ''}`;
}
