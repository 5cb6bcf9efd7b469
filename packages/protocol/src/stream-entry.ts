/**
 * How a batch of validated events is stored in one stream entry: a single
 * field holding the JSON array. One entry per accepted ingest request keeps
 * ingest at one XADD per request and the aggregator at one parse per batch.
 */
import { checkEvent, type PulseEvent } from './events.js';

export const ENTRY_FIELD = 'b';

/**
 * The id of the entry that was last in the stream when this one was
 * appended ('0-0' in an empty stream), written beside the batch by the same
 * script. A reader holding entry X that is next handed an entry whose
 * predecessor is not X knows the stream lost entries under it: a promoted
 * replica that never received the old primary's last writes, or a Redis
 * restarted empty (docs/ARCHITECTURE.md, "When the log loses entries").
 */
export const PREV_FIELD = 'p';

export function encodeBatch(events: readonly PulseEvent[]): string {
  return JSON.stringify(events);
}

export interface DecodedBatch {
  events: PulseEvent[];
  /** Events in the entry that failed validation and were dropped. */
  dropped: number;
}

/**
 * Decodes an entry's field. Entries are written by ingest after validation,
 * but Redis is shared ground: anything else is revalidated and counted.
 */
export function decodeBatch(raw: string | undefined): DecodedBatch {
  if (raw === undefined) return { events: [], dropped: 1 };
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    return { events: [], dropped: 1 };
  }
  if (!Array.isArray(parsed)) return { events: [], dropped: 1 };
  const events: PulseEvent[] = [];
  let dropped = 0;
  for (const item of parsed) {
    const checked = checkEvent(item);
    if (checked.ok) events.push(checked.event);
    else dropped++;
  }
  return { events, dropped };
}
