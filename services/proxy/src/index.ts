export { createAdminServer, type AdminDeps } from './admin-server.js';
export * from './config.js';
export { createProxy, type Proxy, type ProxyDeps, type ProxySettings, type ProxyStatus } from './proxy.js';
export { INFERENCE_ROUTES } from './routes.js';
