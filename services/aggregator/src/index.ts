export * from './aggregator.js';
export * from './config.js';
export * from './health-server.js';
export * from './alerts.js';
export * from './partitions.js';
