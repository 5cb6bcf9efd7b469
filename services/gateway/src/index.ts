export { createGateway, SLOW_CONSUMER_TICKS, type Gateway, type GatewayDeps } from './gateway.js';
export { gatewayConfigShape, parseGatewayConfig, type GatewayConfig } from './config.js';
export { systemClock, type GatewayClock } from './clock.js';
export { STREAM_PATH } from './ws-server.js';
