export * from './log-histogram.js';
export * from './cell.js';
export * from './inflight.js';
export * from './totals.js';
export * from './window.js';
export * from './patch-builder.js';
export * from './replica.js';
export * from './view.js';
