/**
 * @pulse/alerts: alert rules over Pulse's snapshots, their state, and their
 * delivery (docs/PROTOCOL.md §8; design in docs/ALERTS.md).
 */
export * from './rules.js';
export * from './duration.js';
export * from './figures.js';
export * from './notification.js';
export * from './alert-state.js';
export * from './alert-state.memory.js';
export * from './alert-state.redis.js';
export * from './alert-machine.js';
export * from './evaluator.js';
export * from './delivery.js';
export * from './delivery.memory.js';
export * from './delivery.bullmq.js';
export * from './http-delivery.js';
export * from './keys.js';
export * from './rest.js';
export * from './setup.js';
