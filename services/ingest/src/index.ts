export { createIngestApp, type IngestDeps } from './app.js';
export * from './config.js';
