export * from './config.js';
export * from './logger.js';
export * from './redis.js';
export * from './shutdown.js';
export * from './event-log.js';
export * from './event-log.memory.js';
export * from './event-log.redis.js';
