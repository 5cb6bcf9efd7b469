/**
 * `pulse watch`: a client on the stream, re-drawing the frame on every
 * update (in place on a terminal, appended when piped), or printing each
 * message as a JSON line. Resolves with the exit code: 0 after --count
 * updates or an interrupt, 2 when the server rejects the filters, 1 when
 * the connection is closed for good.
 */
import { connect, type ServerMessage } from '@pulse/client/node';
import type { WatchCommand } from './args.js';
import { renderFrame, type WatchState } from './frame.js';

/** Cursor home and clear screen: the next frame replaces the last one. */
const CLEAR = '\x1b[H\x1b[2J';

export interface Output {
  write(text: string): unknown;
  readonly isTTY?: boolean;
}

export function watch(cmd: WatchCommand, out: Output, err: Output, signals: NodeJS.EventEmitter = process): Promise<number> {
  const client = connect(cmd.url, { token: cmd.token });
  const hasFilters = Object.keys(cmd.filters).length > 0;
  if (hasFilters) client.subscribe(cmd.filters);
  const state: WatchState = { url: cmd.url, status: client.status, filters: null, sloTargets: cmd.sloTargets };
  let updates = 0;
  let exitCode = 1;

  const draw = () => {
    if (cmd.json) return;
    out.write(out.isTTY ? CLEAR + renderFrame(state) : `${renderFrame(state)}\n`);
  };
  const finish = (code: number) => {
    exitCode = code;
    void client.close();
  };
  const onSignal = () => finish(0);
  signals.on('SIGINT', onSignal);
  signals.on('SIGTERM', onSignal);

  client.onStatus((status) => {
    state.status = status;
    // Piped output gets frames on updates only, not a line per reconnect attempt.
    if (out.isTTY && status.state !== 'closed') draw();
    else if (status.state === 'reconnecting') err.write(`pulse: connection lost (${status.error ?? status.code}); reconnecting in ${Math.round(status.delayMs ?? 0)} ms\n`);
  });
  client.onMessage((message: ServerMessage) => {
    if (cmd.json) out.write(`${JSON.stringify(message)}\n`);
    switch (message.type) {
      case 'historical_data':
        // Unfiltered by definition: it stands for the view only when no filter was asked for.
        if (!hasFilters) {
          state.view = { timestamp: message.timestamp, data: message.data };
          draw();
        }
        return;
      case 'metrics_update':
        state.view = { timestamp: message.timestamp, data: message.data };
        draw();
        if (cmd.count !== undefined && ++updates >= cmd.count) finish(0);
        return;
      case 'subscribed':
        state.filters = message.filters;
        return;
      case 'error':
        err.write(`pulse: the server rejected the request: ${message.message}\n`);
        finish(2);
        return;
      default:
        return;
    }
  });

  return client.closed.then((status) => {
    signals.off('SIGINT', onSignal);
    signals.off('SIGTERM', onSignal);
    if (exitCode === 1) err.write(`pulse: connection closed (${status.code ?? ''} ${status.reason ?? ''})\n`);
    return exitCode;
  });
}
