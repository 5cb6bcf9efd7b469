export { createAdminServer, registerProxyMetrics, type AdminDeps } from './admin-server.js';
export * from './config.js';
export { createProxy, HEARTBEAT_MS, type Proxy, type ProxyDeps, type ProxySettings, type ProxyStatus } from './proxy.js';
export { INFERENCE_ROUTES } from './routes.js';
