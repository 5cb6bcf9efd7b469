export * from './events.js';
export * from './snapshot-data.js';
export * from './snapshot.js';
export * from './messages.js';
export * from './keys.js';
export * from './errors.js';
export * from './close-codes.js';
export { DecodeError } from './binary.js';
export * from './stream-entry.js';
