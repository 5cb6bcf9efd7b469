export { createIngestApp, type IngestDeps } from './app.js';
export * from './config.js';
export { createProxy, type Proxy, type ProxyDeps, type ProxySettings, type ProxyStatus } from './proxy/proxy.js';
