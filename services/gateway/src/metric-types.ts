/**
 * A client's metric types as a bitmask over METRIC_TYPES, so grouping clients
 * by what they receive is an integer compare, not a set comparison.
 */
import { METRIC_TYPES, type MetricType } from '@pulse/protocol';

export const ALL_TYPES_MASK = (1 << METRIC_TYPES.length) - 1;

export function typeBit(type: MetricType): number {
  return 1 << METRIC_TYPES.indexOf(type);
}

/** `null` (the default, all types) is every bit. */
export function typesMask(types: ReadonlySet<MetricType> | null): number {
  if (types === null) return ALL_TYPES_MASK;
  let mask = 0;
  for (const t of types) mask |= typeBit(t);
  return mask;
}

export const THROUGHPUT_BIT = typeBit('throughput');
export const STREAMING_BIT = typeBit('streaming');
