/**
 * `pulse run start|stop|list|export` and `pulse annotate`: the runs routes
 * of a gateway or `npm start` (docs/PROTOCOL.md "Runs"). Resolves with the
 * exit code: 0 when Pulse did as asked, 1 when it did not (unreachable, a
 * refused token, a bad name, an unknown or stopped run), with why on stderr.
 */
import { formatTime } from '@pulse/client';
import { labelText } from './alerts.js';
import type { RunsCommand } from './runs-args.js';
import { safeName, safeText, textTable } from './text-table.js';
import type { Output } from './watch.js';

/** The tokens a command may send: reads send `read`, writes `write` or else `read`. */
export interface RunsTokens {
  read?: string;
  write?: string;
}

interface RunJson {
  id: string;
  name: string;
  labels: Record<string, string>;
  started_at: number;
  stopped_at?: number;
}

class CallFailed extends Error {}

export async function runCommand(cmd: RunsCommand, tokens: RunsTokens, out: Output, err: Output): Promise<number> {
  try {
    switch (cmd.kind) {
      case 'run-start': {
        const run = (await expectReply(cmd.url, 'POST', '/v1/runs', tokens, 201, { name: cmd.name, labels: cmd.labels })) as RunJson;
        out.write(cmd.json ? `${JSON.stringify(run)}\n` : `${safeText(run.id, Infinity)}\n`);
        return 0;
      }
      case 'run-stop': {
        const run = (await expectReply(cmd.url, 'POST', `/v1/runs/${encodeURIComponent(cmd.id)}/stop`, tokens, 200)) as RunJson;
        out.write(cmd.json ? `${JSON.stringify(run)}\n` : `stopped ${safeText(run.id, Infinity)} (${safeName(run.name)}) after ${duration(run.stopped_at! - run.started_at)}\n`);
        return 0;
      }
      case 'run-list': {
        const body = (await expectReply(cmd.url, 'GET', '/v1/runs', tokens, 200)) as { runs?: RunJson[] };
        if (!Array.isArray(body.runs)) throw new CallFailed('the reply has no "runs" list: is this a Pulse?');
        out.write(cmd.json ? `${JSON.stringify(body)}\n` : `${renderRuns(body.runs, Date.now() / 1000)}\n`);
        return 0;
      }
      case 'run-export': {
        const path = `/v1/runs/${encodeURIComponent(cmd.id)}/export${cmd.query ? `?${cmd.query}` : ''}`;
        const res = await call(cmd.url, 'GET', path, tokens.read);
        if (res.status !== 200) throw failure(cmd.url, 'GET', path, res.status, await res.json().catch(() => null), false);
        // The file as Pulse wrote it, byte for byte: `> run.csv` keeps it.
        out.write(Buffer.from(await res.arrayBuffer()).toString('utf8'));
        return 0;
      }
      case 'annotate': {
        const body = { text: cmd.text, ...(cmd.runId !== undefined && { run_id: cmd.runId }) };
        const note = (await expectReply(cmd.url, 'POST', '/v1/annotations', tokens, 201, body)) as { id: string };
        out.write(cmd.json ? `${JSON.stringify(note)}\n` : `${safeText(note.id, Infinity)}\n`);
        return 0;
      }
    }
  } catch (e) {
    if (!(e instanceof CallFailed)) throw e;
    err.write(`pulse: ${e.message}\n`);
    return 1;
  }
}

/** The runs as a table, the newest first: id (never cut: stop and export take it), name, start, length, labels. */
export function renderRuns(runs: readonly RunJson[], nowSeconds: number): string {
  if (runs.length === 0) return 'no runs';
  return textTable(
    ['ID', 'NAME', 'STARTED', 'LENGTH', 'STATE', 'LABELS'],
    runs.map((r) => [
      safeText(String(r.id), Infinity),
      safeName(String(r.name)),
      `${new Date(r.started_at * 1000).toISOString().slice(0, 10)} ${formatTime(r.started_at)}`,
      duration((r.stopped_at ?? nowSeconds) - r.started_at),
      r.stopped_at === undefined ? 'running' : 'stopped',
      labelText(r.labels ?? {}),
    ]),
    '',
    [0, 1, 2, 4, 5],
  ).join('\n');
}

/** `1 h 2 min`, `3 min 4 s`, `5 s`. */
export function duration(seconds: number): string {
  const s = Math.max(0, Math.floor(seconds));
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${s % 60} s`;
  return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
}

async function expectReply(url: string, method: 'GET' | 'POST', path: string, tokens: RunsTokens, status: number, body?: unknown): Promise<unknown> {
  const write = method === 'POST';
  const res = await call(url, method, path, write ? (tokens.write ?? tokens.read) : tokens.read, body);
  const reply: unknown = await res.json().catch(() => null);
  if (res.status !== status) throw failure(url, method, path, res.status, reply, write);
  return reply;
}

async function call(url: string, method: 'GET' | 'POST', path: string, token: string | undefined, body?: unknown): Promise<Response> {
  const headers: Record<string, string> = token ? { authorization: `Bearer ${token}` } : {};
  if (method === 'POST') headers['content-type'] = 'application/json';
  try {
    return await fetch(`${url}${path}`, { method, headers, ...(method === 'POST' && { body: JSON.stringify(body ?? {}) }), signal: AbortSignal.timeout(30_000) });
  } catch (e) {
    const cause = (e as { cause?: { message?: string } }).cause?.message ?? (e as Error).message;
    throw new CallFailed(`cannot reach ${url}: ${cause}`);
  }
}

/** What went wrong, and for a refused token which variable to set. */
function failure(url: string, method: string, path: string, status: number, reply: unknown, write: boolean): CallFailed {
  const error = typeof reply === 'object' && reply !== null ? (reply as { error?: unknown }).error : undefined;
  const said = typeof error === 'string' ? safeText(error, 200) : 'no error message';
  if (status === 401) return new CallFailed(`${url} wants a ${write ? 'write token: set PULSE_WRITE_TOKEN' : 'read token: set PULSE_TOKEN'} (${said})`);
  if (status === 404 && !path.startsWith('/v1/runs/')) return new CallFailed(`${url} has no runs routes: is it a Pulse with runs? (${said})`);
  return new CallFailed(`${method} ${path.split('?')[0]} answered ${status}: ${said}`);
}
