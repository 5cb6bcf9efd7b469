/**
 * PULSE_MAX_STRING_LENGTH at ingest: an operator may accept shorter labels
 * than docs/PROTOCOL.md §3 allows (the schemas enforce the contract's maxima), to
 * bound what one producer can make every snapshot and dashboard carry.
 */
import type { PulseEvent } from '@pulse/protocol';

/** The string fields of an event, as producers fill them. */
const FIELDS = ['node', 'request_id', 'endpoint', 'model', 'error'] as const;

/** The rejection text for the first string field of `event` longer than `max`; null when none is. */
export function overlongField(event: PulseEvent, max: number): string | null {
  const fields = event as Partial<Record<(typeof FIELDS)[number], string>>;
  for (const field of FIELDS) {
    const value = fields[field];
    if (value !== undefined && value.length > max) return `${field}: longer than ${max} characters`;
  }
  return null;
}
