export { dashboardHandler } from './handler.js';
export { staticFiles, CONTENT_TYPES, type Mount, type OptionalHandler } from './static-files.js';
