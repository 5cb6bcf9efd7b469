export type { HistoryAnswer, HistoryPoint, HistoryQuery, HistoryReader } from './reader.js';
