export * from './config.js';
export * from './logger.js';
export * from './redis.js';
export * from './shutdown.js';
export * from './event-log.js';
