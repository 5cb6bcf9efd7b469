export type { HistoryAnswer, HistoryPoint, HistoryQuery, HistoryReader, HistorySummary } from './reader.js';
export * from './tiers.js';
export * from './record.js';
export * from './store.js';
export * from './store.redis.js';
export * from './store.memory.js';
export * from './recorder.js';
export * from './query.js';
export * from './config.js';
