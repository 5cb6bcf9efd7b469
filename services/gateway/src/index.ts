export { createGateway, SLOW_CONSUMER_TICKS, type Gateway, type GatewayDeps } from './gateway.js';
export { gatewayConfigShape, parseGatewayConfig, type GatewayConfig } from './config.js';
export { systemClock, type GatewayClock } from './clock.js';
export { STREAM_PATH } from './ws-server.js';
export { Exposition, GZIP_LEVEL, prometheusText, pulseExposition, type ExpositionSnapshot } from './prometheus-export.js';
export { VLLM_METRICS_PATH } from './http-routes.js';
